'use client';
import { useActionState } from 'react';
import { Alert, Button, Input, Label, Select } from '@/components/ui';
import { createUser, type UserFormState } from './actions';

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
        <Select id="new-role" name="role" defaultValue="cardiologist" className="w-full">
          <option value="cardiologist">cardiologist</option>
          <option value="admin">admin</option>
        </Select>
      </div>
      <div>
        <Label htmlFor="new-password">Initial password</Label>
        <Input
          id="new-password"
          name="password"
          type="password"
          minLength={12}
          required
          autoComplete="new-password"
        />
      </div>
      <div className="md:col-span-5 flex items-center gap-3">
        <Button type="submit" disabled={pending}>
          Create user
        </Button>
        {state.error && <Alert tone="danger">{state.error}</Alert>}
        {state.message && <Alert tone="success">{state.message}</Alert>}
      </div>
    </form>
  );
}
