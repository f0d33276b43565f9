/**
 * CSV export of the results (every signed-in role may export). Streamed row by row, so a large
 * cohort never sits in memory; the audit row is written once the download has ended, with the
 * number of rows sent and whether it completed.
 */
import { resultCsvRows, toCsv, type ResultCsvRow } from '@lascar/db';
import { after } from 'next/server';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireApiUser } from '@/server/session';

export const dynamic = 'force-dynamic';

export async function GET(request: Request): Promise<Response> {
  const user = await requireApiUser();
  // A page on another site could start this download in a signed-in browser: refuse it.
  if (request.headers.get('sec-fetch-site') === 'cross-site') {
    await audit(user, { action: 'cohort.export', outcome: 'denied', detail: 'cross-site request' });
    return new Response('export must be started from the dashboard\n', {
      status: 403,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
    });
  }

  const progress = { rows: 0, completed: false, error: false };
  async function* counted(rows: AsyncIterable<ResultCsvRow>): AsyncGenerator<ResultCsvRow> {
    for await (const row of rows) {
      progress.rows += 1;
      yield row;
    }
  }
  const chunks = toCsv(counted(resultCsvRows(await prisma())));
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (next.done) {
          progress.completed = true;
          controller.close();
        } else {
          controller.enqueue(encoder.encode(next.value));
        }
      } catch (error) {
        progress.error = true;
        controller.error(error);
      }
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });

  // after() runs when the response has closed (sent in full, failed or cancelled), still with
  // this request's headers for the audit's client address.
  after(() =>
    audit(user, {
      action: 'cohort.export',
      outcome: progress.completed ? 'ok' : 'failed',
      detail: progress.completed
        ? `${progress.rows} rows`
        : `stopped after ${progress.rows} rows (${progress.error ? 'database error' : 'download cancelled'})`,
    }),
  );

  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return new Response(body, {
    headers: {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="la-scar-results-${day}.csv"`,
      'Cache-Control': 'no-store',
    },
  });
}
