import Link from 'next/link';

export default function NotFound() {
  return (
    <main className="mx-auto max-w-xl p-10">
      <h1 className="mb-2 text-xl font-semibold">Not found</h1>
      <Link href="/patients" className="text-primary underline">
        Back to patients
      </Link>
    </main>
  );
}
