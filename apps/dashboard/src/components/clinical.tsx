/** Clinical pieces shown on several pages: stage badges with the scheme named, the synthetic banner. */
import { Alert, Badge } from './ui';

const DECAAF_TONE: Record<string, 'success' | 'info' | 'warning' | 'danger'> = {
  '1': 'success',
  '2': 'info',
  '3': 'warning',
  '4': 'danger',
};
const UTAH_TONE: Record<string, 'success' | 'info' | 'warning' | 'danger'> = {
  I: 'success',
  II: 'info',
  III: 'warning',
  IV: 'danger',
};

export function StageBadges({
  decaaf,
  utah,
}: {
  decaaf: string | null | undefined;
  utah: string | null | undefined;
}) {
  if (!decaaf && !utah) return <Badge>no stage (no wall)</Badge>;
  return (
    <span className="inline-flex flex-wrap gap-1">
      {decaaf && (
        <Badge tone={DECAAF_TONE[decaaf] ?? 'neutral'} title="DECAAF stage (burden bins)">
          DECAAF {decaaf}
        </Badge>
      )}
      {utah && (
        <Badge tone={UTAH_TONE[utah] ?? 'neutral'} title="Utah stage (burden bins)">
          Utah {utah}
        </Badge>
      )}
    </span>
  );
}

export function ReviewBadge({ state }: { state: string }) {
  if (state === 'accepted') return <Badge tone="success">Signed off</Badge>;
  if (state === 'rejected') return <Badge tone="danger">Rejected</Badge>;
  return <Badge tone="warning">Needs review</Badge>;
}

/** Shown wherever a measurement from a model trained on synthetic data appears. */
export function SyntheticBanner({ show }: { show: boolean }) {
  if (!show) return null;
  return (
    <Alert tone="warning" className="mb-4" data-testid="synthetic-banner">
      <strong>Research use only.</strong> These results come from models trained on SYNTHETIC
      phantoms only: not for clinical decisions. Post-ablation LA scar; volume-based burden.
    </Alert>
  );
}
