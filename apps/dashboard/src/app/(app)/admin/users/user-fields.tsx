'use client';
import { Alert, Input, Select } from '@/components/ui';
import type { UserFormState } from './actions';

/** The two roles; a new account is a cardiologist unless chosen otherwise. */
export function RoleSelect({ id }: { id: string }) {
  return (
    <Select id={id} name="role" defaultValue="cardiologist" className="w-full">
      <option value="cardiologist">cardiologist</option>
      <option value="admin">admin</option>
    </Select>
  );
}

/** A password an admin sets for someone (12 characters at least, as the server checks too). */
export function NewPasswordInput({ id }: { id: string }) {
  return (
    <Input
      id={id}
      name="password"
      type="password"
      minLength={12}
      required
      autoComplete="new-password"
    />
  );
}

/** A user form's result: the error or the confirmation. */
export function Outcome({ state }: { state: UserFormState }) {
  if (state.error) return <Alert tone="danger">{state.error}</Alert>;
  if (state.message) return <Alert tone="success">{state.message}</Alert>;
  return null;
}
