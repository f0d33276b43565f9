/** A key-slice overlay picture (LGE slice, LA outline, scar fill): patient data, so login + audit. */
import { overlayPng } from '@lascar/db';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireApiUser } from '@/server/session';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function GET(
  _request: Request,
  { params }: { params: Promise<{ measurementId: string; slice: string }> },
): Promise<Response> {
  const user = await requireApiUser();
  const { measurementId, slice } = await params;
  const index = slice.replace(/\.png$/, '');
  const found =
    UUID.test(measurementId) && /^\d{1,5}$/.test(index)
      ? await overlayPng(await prisma(), measurementId, Number(index))
      : null;
  if (!found) {
    return Response.json(
      { error: 'no such overlay' },
      { status: 404, headers: { 'Cache-Control': 'no-store' } },
    );
  }
  await audit(user, {
    action: 'overlay.view',
    outcome: 'ok',
    studyRef: found.studyRef,
    ...(found.patientRef ? { patientRef: found.patientRef } : {}),
    detail: `slice ${index}`,
  });
  return new Response(Buffer.from(found.png), {
    headers: { 'Content-Type': 'image/png', 'Cache-Control': 'no-store' },
  });
}
