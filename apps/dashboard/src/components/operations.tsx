'use client';
/**
 * The console's interactive bits: a page that refreshes itself (the server renders, the client
 * only asks again every few seconds), and a one-button form that reports its action's outcome.
 */
import { useRouter } from 'next/navigation';
import { useActionState, useEffect } from 'react';
import { buttonClass } from './ui';

/** Re-renders the page on the server every `seconds`, while the tab is visible. */
export function AutoRefresh({ seconds = 5 }: { seconds?: number }) {
  const router = useRouter();
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') router.refresh();
    }, seconds * 1000);
    return () => clearInterval(timer);
  }, [router, seconds]);
  return (
    <p className="text-xs text-muted-foreground" aria-live="off">
      Refreshes every {seconds} s
    </p>
  );
}

export interface ActionState {
  readonly error?: string;
  readonly message?: string;
}

/** One button posting hidden fields to a Server Action; disabled while it runs. */
export function ActionButton({
  action,
  fields,
  label,
  variant = 'secondary',
  testId,
}: {
  action: (prev: ActionState, form: FormData) => Promise<ActionState>;
  fields: Record<string, string>;
  label: string;
  variant?: 'primary' | 'secondary' | 'danger';
  testId?: string;
}) {
  const [state, formAction, pending] = useActionState(action, {});
  return (
    <form action={formAction} className="inline-flex flex-col gap-1">
      {Object.entries(fields).map(([k, v]) => (
        <input key={k} type="hidden" name={k} value={v} />
      ))}
      <button
        type="submit"
        disabled={pending}
        className={buttonClass(variant)}
        {...(testId ? { 'data-testid': testId } : {})}
      >
        {label}
      </button>
      {(state.error || state.message) && (
        <span
          role="status"
          className={state.error ? 'text-xs text-danger' : 'text-xs text-muted-foreground'}
        >
          {state.error ?? state.message}
        </span>
      )}
    </form>
  );
}
