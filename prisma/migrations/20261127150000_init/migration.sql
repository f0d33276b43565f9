-- CreateEnum
CREATE TYPE "JobState" AS ENUM ('queued', 'active', 'retrying', 'completed', 'failed');

-- CreateEnum
CREATE TYPE "StageName" AS ENUM ('retrieve', 'load', 'la_model', 'scar_model', 'write', 'store');

-- CreateTable
CREATE TABLE "Patient" (
    "id" UUID NOT NULL,
    "patientId" TEXT NOT NULL,
    "patientName" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Patient_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Study" (
    "id" UUID NOT NULL,
    "studyInstanceUid" TEXT NOT NULL,
    "patientRef" UUID,
    "studyDate" TEXT,
    "accessionNumber" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Study_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Series" (
    "id" UUID NOT NULL,
    "seriesInstanceUid" TEXT NOT NULL,
    "studyRef" UUID NOT NULL,
    "modality" TEXT,
    "seriesDescription" TEXT,
    "protocolName" TEXT,
    "numberOfInstances" INTEGER,
    "firstSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Series_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SelectionDecision" (
    "id" UUID NOT NULL,
    "seriesRef" UUID NOT NULL,
    "selected" BOOLEAN NOT NULL,
    "reason" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "decidedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "SelectionDecision_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Job" (
    "id" UUID NOT NULL,
    "jobKey" TEXT NOT NULL,
    "seriesRef" UUID NOT NULL,
    "modelVersion" TEXT NOT NULL,
    "state" "JobState" NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "queueJobId" UUID,
    "segSeriesInstanceUid" TEXT,
    "segSopInstanceUid" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Job_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "JobStage" (
    "id" UUID NOT NULL,
    "jobRef" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "stage" "StageName" NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "durationMs" DOUBLE PRECISION,
    "error" TEXT,

    CONSTRAINT "JobStage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Measurement" (
    "id" UUID NOT NULL,
    "jobRef" UUID NOT NULL,
    "laVolumeMl" DOUBLE PRECISION NOT NULL,
    "scarVolumeMl" DOUBLE PRECISION NOT NULL,
    "wallVolumeMl" DOUBLE PRECISION NOT NULL,
    "scarBurdenPercent" DOUBLE PRECISION,
    "burdenMethod" TEXT NOT NULL,
    "wallDefinition" TEXT NOT NULL,
    "utahStage" TEXT,
    "decaafStage" TEXT,
    "modelVersion" TEXT NOT NULL,
    "syntheticTraining" BOOLEAN NOT NULL,
    "executionProvider" TEXT NOT NULL,
    "provenance" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Measurement_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OverlayImage" (
    "id" UUID NOT NULL,
    "measurementRef" UUID NOT NULL,
    "sliceIndex" INTEGER NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "png" BYTEA NOT NULL,

    CONSTRAINT "OverlayImage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DiscoveryCursor" (
    "name" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "DiscoveryCursor_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE UNIQUE INDEX "Patient_patientId_key" ON "Patient"("patientId");

-- CreateIndex
CREATE UNIQUE INDEX "Study_studyInstanceUid_key" ON "Study"("studyInstanceUid");

-- CreateIndex
CREATE INDEX "Study_patientRef_idx" ON "Study"("patientRef");

-- CreateIndex
CREATE UNIQUE INDEX "Series_seriesInstanceUid_key" ON "Series"("seriesInstanceUid");

-- CreateIndex
CREATE INDEX "Series_studyRef_idx" ON "Series"("studyRef");

-- CreateIndex
CREATE INDEX "SelectionDecision_seriesRef_decidedAt_idx" ON "SelectionDecision"("seriesRef", "decidedAt");

-- CreateIndex
CREATE UNIQUE INDEX "Job_jobKey_key" ON "Job"("jobKey");

-- CreateIndex
CREATE INDEX "Job_state_idx" ON "Job"("state");

-- CreateIndex
CREATE UNIQUE INDEX "Job_seriesRef_modelVersion_key" ON "Job"("seriesRef", "modelVersion");

-- CreateIndex
CREATE UNIQUE INDEX "JobStage_jobRef_attempt_stage_key" ON "JobStage"("jobRef", "attempt", "stage");

-- CreateIndex
CREATE UNIQUE INDEX "Measurement_jobRef_key" ON "Measurement"("jobRef");

-- CreateIndex
CREATE UNIQUE INDEX "OverlayImage_measurementRef_sliceIndex_key" ON "OverlayImage"("measurementRef", "sliceIndex");

-- AddForeignKey
ALTER TABLE "Study" ADD CONSTRAINT "Study_patientRef_fkey" FOREIGN KEY ("patientRef") REFERENCES "Patient"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Series" ADD CONSTRAINT "Series_studyRef_fkey" FOREIGN KEY ("studyRef") REFERENCES "Study"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SelectionDecision" ADD CONSTRAINT "SelectionDecision_seriesRef_fkey" FOREIGN KEY ("seriesRef") REFERENCES "Series"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Job" ADD CONSTRAINT "Job_seriesRef_fkey" FOREIGN KEY ("seriesRef") REFERENCES "Series"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "JobStage" ADD CONSTRAINT "JobStage_jobRef_fkey" FOREIGN KEY ("jobRef") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Measurement" ADD CONSTRAINT "Measurement_jobRef_fkey" FOREIGN KEY ("jobRef") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OverlayImage" ADD CONSTRAINT "OverlayImage_measurementRef_fkey" FOREIGN KEY ("measurementRef") REFERENCES "Measurement"("id") ON DELETE CASCADE ON UPDATE CASCADE;
