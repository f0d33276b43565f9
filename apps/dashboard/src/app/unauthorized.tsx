import Link from 'next/link';

export default function Unauthorized() {
  return (
    <main className="mx-auto max-w-xl p-10">
      <h1 className="mb-2 text-xl font-semibold">401 · Sign in first</h1>
      <Link href="/login" className="text-primary underline">
        Sign in
      </Link>
    </main>
  );
}
