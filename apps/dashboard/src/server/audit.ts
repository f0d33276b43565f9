import 'server-only';
/**
 * Every view of a patient's data and every change appends one audit row: who, role, what, which
 * patient/study, when, from where, outcome. The table refuses updates and deletes itself.
 */
import { appendAudit, type AuditEntry } from '@lascar/db';
import { prisma } from './db';
import { clientAddress, type SignedInUser } from './session';

export async function audit(
  user: Pick<SignedInUser, 'id' | 'email' | 'role'> | null,
  entry: Omit<AuditEntry, 'userId' | 'userEmail' | 'role' | 'clientAddress'>,
): Promise<void> {
  const address = await clientAddress();
  await appendAudit(await prisma(), {
    ...entry,
    ...(user ? { userId: user.id, userEmail: user.email, role: user.role } : {}),
    ...(address ? { clientAddress: address } : {}),
  });
}
