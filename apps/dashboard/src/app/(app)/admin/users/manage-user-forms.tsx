'use client';
import { useActionState } from 'react';
import { Button, Label, Select } from '@/components/ui';
import { changeUserRole, resetUserPassword, type UserFormState } from './actions';
import { NewPasswordInput, Outcome, RoleSelect } from './user-fields';

interface Account {
  readonly email: string;
  readonly role: string | null;
}

function AccountSelect({ id, accounts }: { id: string; accounts: readonly Account[] }) {
  return (
    <Select id={id} name="email" required defaultValue="" className="w-full">
      <option value="" disabled>
        Choose an account
      </option>
      {accounts.map((a) => (
        <option key={a.email} value={a.email}>
          {a.email} ({a.role ?? 'no role'})
        </option>
      ))}
    </Select>
  );
}

/** Change a role; reset a password. The admin's own account is not offered. */
export function ManageUserForms({ accounts }: { accounts: readonly Account[] }) {
  const [roleState, roleAction, rolePending] = useActionState<UserFormState, FormData>(
    changeUserRole,
    {},
  );
  const [pwState, pwAction, pwPending] = useActionState<UserFormState, FormData>(
    resetUserPassword,
    {},
  );
  return (
    <div className="grid gap-6 md:grid-cols-2">
      <form action={roleAction} className="space-y-3" aria-label="Change a role">
        <div>
          <Label htmlFor="role-account">Account for the role change</Label>
          <AccountSelect id="role-account" accounts={accounts} />
        </div>
        <div>
          <Label htmlFor="role-new">New role</Label>
          <RoleSelect id="role-new" />
        </div>
        <div className="flex items-center gap-3">
          <Button type="submit" disabled={rolePending}>
            Change role
          </Button>
          <Outcome state={roleState} />
        </div>
      </form>
      <form action={pwAction} className="space-y-3" aria-label="Reset a password">
        <div>
          <Label htmlFor="password-account">Account for the password reset</Label>
          <AccountSelect id="password-account" accounts={accounts} />
        </div>
        <div>
          <Label htmlFor="password-new">New password</Label>
          <NewPasswordInput id="password-new" />
        </div>
        <div className="flex items-center gap-3">
          <Button type="submit" disabled={pwPending}>
            Reset password
          </Button>
          <Outcome state={pwState} />
        </div>
      </form>
    </div>
  );
}
