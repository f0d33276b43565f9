import type { FailureClass, JobState } from '@lascar/db';
import { Badge } from './ui';

const STATE_TONE: Record<JobState, 'neutral' | 'info' | 'success' | 'warning' | 'danger'> = {
  queued: 'neutral',
  active: 'info',
  retrying: 'warning',
  completed: 'success',
  failed: 'danger',
  // A newer instance set of the series replaced it: history, not a problem.
  superseded: 'neutral',
};

export function JobStateBadge({ state }: { state: JobState }) {
  return (
    <Badge tone={STATE_TONE[state]} data-testid="job-state">
      {state}
    </Badge>
  );
}

const FAILURE_TEXT: Record<FailureClass, string> = {
  data: 'Data error: the series itself is unusable; not retried',
  transient: 'PACS or database trouble: retried automatically',
  cancelled: 'Cancelled by an admin',
};

export function FailureClassBadge({ value }: { value: FailureClass | null }) {
  if (!value) return null;
  return (
    <Badge
      tone={value === 'data' ? 'danger' : value === 'transient' ? 'warning' : 'neutral'}
      data-testid="failure-class"
    >
      {FAILURE_TEXT[value]}
    </Badge>
  );
}
