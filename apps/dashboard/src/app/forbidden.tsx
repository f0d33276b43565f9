import Link from 'next/link';

export default function Forbidden() {
  return (
    <main className="mx-auto max-w-xl p-10">
      <h1 className="mb-2 text-xl font-semibold">403 · Not allowed</h1>
      <p className="mb-4 text-sm text-muted-foreground">
        Your role does not give access to this page. Ask an administrator if you need it.
      </p>
      <Link href="/patients" className="text-primary underline">
        Back to patients
      </Link>
    </main>
  );
}
