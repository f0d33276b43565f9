'use client';
import { useActionState } from 'react';
import { Button, Input, Label } from '@/components/ui';
import { createUser, type UserFormState } from './actions';
import { NewPasswordInput, Outcome, RoleSelect } from './user-fields';

export function CreateUserForm() {
  const [state, action, pending] = useActionState<UserFormState, FormData>(createUser, {});
  return (
    <form action={action} className="grid gap-3 md:grid-cols-5 md:items-end">
      <div className="md:col-span-2">
        <Label htmlFor="new-email">Email</Label>
        <Input id="new-email" name="email" type="email" required autoComplete="off" />
      </div>
      <div>
        <Label htmlFor="new-name">Name</Label>
        <Input id="new-name" name="name" autoComplete="off" />
      </div>
      <div>
        <Label htmlFor="new-role">Role</Label>
        <RoleSelect id="new-role" />
      </div>
      <div>
        <Label htmlFor="new-password">Initial password</Label>
        <NewPasswordInput id="new-password" />
      </div>
      <div className="md:col-span-5 flex items-center gap-3">
        <Button type="submit" disabled={pending}>
          Create user
        </Button>
        <Outcome state={state} />
      </div>
    </form>
  );
}
