import type { Metadata } from 'next';
import { Badge, Card, CardTitle, Table, Td, Th, buttonClass } from '@/components/ui';
import { dateTime } from '@/lib/format';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireRole } from '@/server/session';
import { disableAccount } from './actions';
import { CreateUserForm } from './create-user-form';
import { ManageUserForms } from './manage-user-forms';

export const metadata: Metadata = { title: 'Users' };

export default async function UsersPage() {
  const admin = await requireRole('admin');
  const users = await (
    await prisma()
  ).user.findMany({
    orderBy: { email: 'asc' },
    select: { id: true, email: true, name: true, role: true, banned: true, createdAt: true },
  });
  await audit(admin, { action: 'users.view', outcome: 'ok' });
  return (
    <div className="space-y-6">
      <h1 className="text-2xl font-semibold">Users</h1>
      <Card>
        <CardTitle>New user</CardTitle>
        <CreateUserForm />
      </Card>
      <Card>
        <CardTitle>Change a role, reset a password</CardTitle>
        <ManageUserForms
          accounts={users
            .filter((u) => u.id !== admin.id && !u.banned)
            .map((u) => ({ email: u.email, role: u.role }))}
        />
      </Card>
      <Table>
        <caption className="sr-only">Accounts</caption>
        <thead>
          <tr>
            <Th>Email</Th>
            <Th>Name</Th>
            <Th>Role</Th>
            <Th>Status</Th>
            <Th>Created</Th>
            <Th>
              <span className="sr-only">Actions</span>
            </Th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id}>
              <Td>{u.email}</Td>
              <Td>{u.name}</Td>
              <Td>{u.role}</Td>
              <Td>
                {u.banned ? (
                  <Badge tone="danger">disabled</Badge>
                ) : (
                  <Badge tone="success">active</Badge>
                )}
              </Td>
              <Td>{dateTime(u.createdAt)}</Td>
              <Td>
                {!u.banned && u.id !== admin.id && (
                  <form action={disableAccount}>
                    <input type="hidden" name="email" value={u.email} />
                    <button type="submit" className={buttonClass('secondary')}>
                      Disable {u.email}
                    </button>
                  </form>
                )}
              </Td>
            </tr>
          ))}
        </tbody>
      </Table>
    </div>
  );
}
