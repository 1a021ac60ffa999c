"""The ingest job's quarantine writer: the one thing that writes `catalog/quarantine/` while a job runs.

Rows reach it three ways, all through the committer it is handed to (`jobs.ingest.commit.Committer`): a source or ref
that discovery could not read (the row built by `jobs.ingest.discovery.quarantine_row`), a worker's `Rejected` result,
and a commit that failed. It buffers them and writes a part every `QUARANTINE_FLUSH` rows and at close, each part
named by the run and its number, so a killed run leaves whole parts only (and a rerun skips their uids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from jobs.catalog.parts import write_quarantine_part
from jobs.ingest.discovery import WorkItem, quarantine_row
from jobs.ingest.task import Rejected
from schemas.corpus import QuarantineRow

QUARANTINE_FLUSH = 200  # rows buffered before a part is written


def rejected_row(item: WorkItem, rejected: Rejected) -> QuarantineRow:
    """The quarantine row of a raw episode a worker or a committer rejected."""
    return quarantine_row(
        item.source,
        item.ref,
        rejected.stage,
        rejected.error_class,
        rejected.message,
        file=rejected.file,
        field=rejected.field,
    )


@dataclass
class QuarantineWriter:
    output: Path
    flush_every: int = QUARANTINE_FLUSH
    rows: list[QuarantineRow] = field(default_factory=list)  # buffered, not yet written
    parts: int = 0  # parts this run wrote
    run: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f"))

    def add(self, row: QuarantineRow) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            write_quarantine_part(self.output, self.rows, f"{self.run}-{self.parts:05d}")
            self.parts += 1
            self.rows = []
