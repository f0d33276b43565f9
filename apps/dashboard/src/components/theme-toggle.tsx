'use client';
import { Moon, Sun } from 'lucide-react';
import { buttonClass } from './ui';

/** Light/dark switch; the choice is kept in this browser only. */
export function ThemeToggle() {
  return (
    <button
      type="button"
      className={buttonClass('ghost', 'px-2')}
      aria-label="Switch light or dark theme"
      onClick={() => {
        const dark = !document.documentElement.classList.contains('dark');
        document.documentElement.classList.toggle('dark', dark);
        try {
          localStorage.setItem('lascar-theme', dark ? 'dark' : 'light');
        } catch {
          // storage blocked: the switch still applies to this page
        }
      }}
    >
      <Sun className="hidden size-4 dark:block" aria-hidden />
      <Moon className="size-4 dark:hidden" aria-hidden />
    </button>
  );
}
