'use client';
import { useActionState, useState } from 'react';
import { Alert, Button, Label } from '@/components/ui';
import { signOff, type SignOffState } from './actions';

export function SignOffForm({ measurementRef }: { measurementRef: string }) {
  const [state, action, pending] = useActionState<SignOffState, FormData>(signOff, {});
  const [rejecting, setRejecting] = useState(false);
  return (
    <div className="space-y-3">
      {state.error && <Alert tone="danger">{state.error}</Alert>}
      {state.message && <Alert tone="success">{state.message}</Alert>}
      <form action={action} className="flex flex-wrap items-start gap-3">
        <input type="hidden" name="measurementRef" value={measurementRef} />
        {!rejecting ? (
          <>
            <Button type="submit" name="decision" value="accept" disabled={pending}>
              Accept and sign
            </Button>
            <Button type="button" variant="secondary" onClick={() => setRejecting(true)}>
              Reject…
            </Button>
          </>
        ) : (
          <div className="w-full max-w-xl space-y-2">
            <Label htmlFor={`reason-${measurementRef}`}>Reason for rejecting</Label>
            <textarea
              id={`reason-${measurementRef}`}
              name="reason"
              required
              minLength={3}
              rows={3}
              className="w-full rounded-md border border-border bg-card px-3 py-2 text-sm"
            />
            <div className="flex gap-2">
              <Button
                type="submit"
                name="decision"
                value="reject"
                variant="danger"
                disabled={pending}
              >
                Reject result
              </Button>
              <Button type="button" variant="ghost" onClick={() => setRejecting(false)}>
                Cancel
              </Button>
            </div>
          </div>
        )}
      </form>
    </div>
  );
}
