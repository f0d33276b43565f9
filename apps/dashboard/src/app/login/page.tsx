import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { Card } from '@/components/ui';
import { currentUser } from '@/server/session';
import { LoginForm } from './login-form';

export const metadata: Metadata = { title: 'Sign in' };

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<{ next?: string }>;
}) {
  if (await currentUser()) redirect('/patients');
  const { next } = await searchParams;
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <Card className="w-full max-w-sm">
        <h1 className="mb-1 text-xl font-semibold">LA Scar</h1>
        <p className="mb-5 text-sm text-muted-foreground">
          Left-atrial scar burden from LGE MRI. Sign in with the account your administrator gave
          you.
        </p>
        <LoginForm {...(next ? { next, notice: 'Your session has ended. Sign in again.' } : {})} />
      </Card>
    </main>
  );
}
