-- Series that change: a job per instance set (jobKey "<series>@<model>@<fingerprint>"), whose
-- result supersedes the one before it, and a registry of every SEG/SR the worker stores so that
-- the database names exactly what the PACS holds.

-- AlterEnum
ALTER TYPE "JobState" ADD VALUE 'superseded';

-- CreateEnum
CREATE TYPE "StoredObjectState" AS ENUM ('pending', 'current', 'retired', 'deleted');

-- DropIndex: several jobs per series and model version now (one per instance set)
DROP INDEX "Job_seriesRef_modelVersion_key";

-- DropIndex
DROP INDEX "Job_seriesRef_idx";

-- AlterTable
ALTER TABLE "Job" ADD COLUMN     "instanceCount" INTEGER,
ADD COLUMN     "instanceFingerprint" TEXT,
ADD COLUMN     "supersededAt" TIMESTAMP(3),
ADD COLUMN     "supersededById" UUID;

-- CreateTable
CREATE TABLE "StoredObject" (
    "id" UUID NOT NULL,
    "jobRef" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "studyInstanceUid" TEXT NOT NULL,
    "seriesInstanceUid" TEXT NOT NULL,
    "sopInstanceUid" TEXT NOT NULL,
    "state" "StoredObjectState" NOT NULL DEFAULT 'pending',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "retiredAt" TIMESTAMP(3),
    "deletedAt" TIMESTAMP(3),

    CONSTRAINT "StoredObject_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "StoredObject_sopInstanceUid_idx" ON "StoredObject"("sopInstanceUid");

-- CreateIndex
CREATE UNIQUE INDEX "StoredObject_jobRef_sopInstanceUid_key" ON "StoredObject"("jobRef", "sopInstanceUid");

-- CreateIndex
CREATE INDEX "StoredObject_state_idx" ON "StoredObject"("state");

-- CreateIndex
CREATE INDEX "Job_seriesRef_modelVersion_idx" ON "Job"("seriesRef", "modelVersion");

-- AddForeignKey
ALTER TABLE "StoredObject" ADD CONSTRAINT "StoredObject_jobRef_fkey" FOREIGN KEY ("jobRef") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Backfill: the SEG and SR of every completed job so far are what the PACS holds now.
INSERT INTO "StoredObject" ("id", "jobRef", "kind", "studyInstanceUid", "seriesInstanceUid", "sopInstanceUid", "state", "updatedAt")
SELECT gen_random_uuid(), j."id", o.kind, st."studyInstanceUid", o.series, o.sop, 'current', CURRENT_TIMESTAMP
  FROM "Job" j
  JOIN "Series" se ON se."id" = j."seriesRef"
  JOIN "Study" st ON st."id" = se."studyRef"
  CROSS JOIN LATERAL (VALUES ('SEG', j."segSeriesInstanceUid", j."segSopInstanceUid"),
                             ('SR', j."srSeriesInstanceUid", j."srSopInstanceUid")) AS o(kind, series, sop)
 WHERE j."state" = 'completed' AND o.sop IS NOT NULL AND o.series IS NOT NULL
ON CONFLICT ("jobRef", "sopInstanceUid") DO NOTHING;
