import { DECAAF_STAGING, UTAH_STAGING } from '@lascar/core';
import { cohortSummary } from '@lascar/db';
import { Download } from 'lucide-react';
import type { Metadata } from 'next';
import { SyntheticBanner } from '@/components/clinical';
import { BurdenVolumeScatter, StageDistribution } from '@/components/cohort-charts';
import { Card, CardTitle, buttonClass } from '@/components/ui';
import { audit } from '@/server/audit';
import { prisma } from '@/server/db';
import { requireUser } from '@/server/session';

export const metadata: Metadata = { title: 'Cohort' };

export default async function CohortPage() {
  const user = await requireUser();
  const db = await prisma();
  const summary = await cohortSummary(db);
  // Any result from a model trained on synthetic phantoms puts the whole view under the banner.
  const synthetic =
    (await db.measurement.findFirst({
      where: { syntheticTraining: true },
      select: { id: true },
    })) !== null;
  // The stage counts leave out latest results without a burden (no measurable wall).
  const staged = summary.decaaf.reduce((n, s) => (s.stage === null ? n : n + s.count), 0);
  const unstaged = Math.max(0, summary.withResult - staged);
  await audit(user, {
    action: 'cohort.view',
    outcome: 'ok',
    detail: `${summary.patients} patients, ${summary.withResult} with a result`,
  });

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div>
          <h1 className="text-2xl font-semibold">Cohort</h1>
          <p className="text-sm text-muted-foreground">
            The latest result of each patient:{' '}
            <span data-testid="cohort-with-result">{summary.withResult}</span> of{' '}
            <span data-testid="cohort-patients">{summary.patients}</span> patients have one.
            Volume-based burden, 3 mm wall.
          </p>
        </div>
        {/* A plain link: the browser downloads the file; no client-side navigation. */}
        <a href="/api/export/results" download className={buttonClass('secondary')}>
          <Download className="size-4" aria-hidden />
          Download CSV
        </a>
      </div>

      <SyntheticBanner show={synthetic} />

      <div className="grid gap-6 lg:grid-cols-2">
        <Card>
          <CardTitle>DECAAF stages</CardTitle>
          <StageDistribution scheme={DECAAF_STAGING} counts={summary.decaaf} unstaged={unstaged} />
        </Card>
        <Card>
          <CardTitle>Utah stages</CardTitle>
          <StageDistribution scheme={UTAH_STAGING} counts={summary.utah} unstaged={unstaged} />
        </Card>
      </div>

      <Card>
        <CardTitle>Scar burden against LA volume</CardTitle>
        <BurdenVolumeScatter points={summary.points} scheme={DECAAF_STAGING} withBurden={staged} />
      </Card>
    </div>
  );
}
