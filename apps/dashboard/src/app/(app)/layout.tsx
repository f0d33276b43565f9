import Link from 'next/link';
import { ThemeToggle } from '@/components/theme-toggle';
import { buttonClass } from '@/components/ui';
import { requireUser } from '@/server/session';
import { signOut } from '../login/actions';

export const dynamic = 'force-dynamic';

export default async function AppLayout({ children }: { children: React.ReactNode }) {
  const user = await requireUser();
  const links: [string, string][] = [
    ['/patients', 'Patients'],
    ['/cohort', 'Cohort'],
    ...(user.role === 'admin'
      ? ([
          ['/admin/overview', 'Overview'],
          ['/admin/jobs', 'Jobs'],
          ['/admin/series', 'Series'],
          ['/admin/users', 'Users'],
          ['/admin/audit', 'Audit'],
        ] as [string, string][])
      : []),
  ];
  return (
    <div className="min-h-screen">
      <header className="border-b border-border bg-card">
        <div className="mx-auto flex max-w-7xl items-center gap-6 px-6 py-3">
          <Link href="/patients" className="font-semibold tracking-tight">
            LA Scar
          </Link>
          <nav aria-label="Main" className="flex gap-1">
            {links.map(([href, label]) => (
              <Link key={href} href={href} className={buttonClass('ghost')}>
                {label}
              </Link>
            ))}
          </nav>
          <div className="ml-auto flex items-center gap-3 text-sm">
            <span className="text-muted-foreground" data-testid="signed-in-as">
              {user.name} · <span className="font-medium text-foreground">{user.role}</span>
            </span>
            <ThemeToggle />
            <form action={signOut}>
              <button type="submit" className={buttonClass('secondary')}>
                Sign out
              </button>
            </form>
          </div>
        </div>
      </header>
      <main className="mx-auto max-w-7xl px-6 py-6">{children}</main>
    </div>
  );
}
