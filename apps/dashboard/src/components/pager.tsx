/** Previous / Next links under a server-paged table, with where the reader is. */
import Link from 'next/link';
import { buttonClass } from './ui';

export function Pager({
  page,
  pages,
  href,
  summary,
}: {
  page: number;
  pages: number;
  /** The URL of another page (the page's own filters kept). */
  href: (page: number) => string;
  /** Shown before "page N of M", e.g. "120 patients". */
  summary?: string;
}) {
  return (
    <nav aria-label="Pages" className="flex items-center justify-between text-sm">
      <span className="text-muted-foreground">
        {summary ? `${summary} · page` : 'Page'} {page} of {pages}
      </span>
      <span className="flex gap-2">
        {page > 1 && (
          <Link className={buttonClass('secondary')} href={href(page - 1)}>
            Previous
          </Link>
        )}
        {page < pages && (
          <Link className={buttonClass('secondary')} href={href(page + 1)}>
            Next
          </Link>
        )}
      </span>
    </nav>
  );
}
