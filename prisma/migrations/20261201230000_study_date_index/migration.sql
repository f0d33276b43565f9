-- The dashboard's patient list is ordered by each patient's latest study date: walking this index
-- newest first finds the first page's patients without aggregating every study.
CREATE INDEX "Study_studyDate_idx" ON "Study"("studyDate");
