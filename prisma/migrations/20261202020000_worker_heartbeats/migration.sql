-- Worker heartbeats: each worker process upserts its row every few seconds (host, version,
-- execution provider, concurrency, the jobs it is on), stamped with the database's clock so that
-- workers on other hosts and the dashboard agree on how old a beat is.
CREATE TABLE "WorkerHeartbeat" (
    "id" UUID NOT NULL,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "version" TEXT NOT NULL,
    "modelVersion" TEXT NOT NULL,
    "executionProvider" TEXT NOT NULL,
    "concurrency" INTEGER NOT NULL,
    "intervalSeconds" INTEGER NOT NULL,
    "jobKeys" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "startedAt" TIMESTAMP(3) NOT NULL,
    "lastBeatAt" TIMESTAMP(3) NOT NULL,
    "stoppedAt" TIMESTAMP(3),

    CONSTRAINT "WorkerHeartbeat_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "WorkerHeartbeat_lastBeatAt_idx" ON "WorkerHeartbeat"("lastBeatAt");
