"""The ingest job's quarantine writer: the one thing that writes `catalog/quarantine/` while a job runs. Rows reach it
through the committer it is handed to (`jobs.ingest.commit.Committer`): discovery's, a worker's `Rejected`, a failed
commit's. Each part is named by the run and its number, so a killed run leaves whole parts only (a rerun skips their
uids).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters import get_adapter
from adapters.base import AdapterError, EpisodeRef
from jobs.catalog.parts import write_quarantine_part
from jobs.ingest.task import Rejected, WorkItem
from schemas.corpus import QuarantineRow, episode_uid

if TYPE_CHECKING:
    from jobs.spec_models import SourceSpec

QUARANTINE_FLUSH = 200  # rows buffered before a part is written
QUARANTINE_FLUSH_S = 30.0  # or once the oldest buffered row is this old: what a kill can cost of rejected work


def quarantine_row(
    source: SourceSpec, ref: EpisodeRef | None, stage: str, error_class: str, message: str, **extra: Any
) -> QuarantineRow:
    uid = episode_uid(source.name, ref.subset, ref.raw_id) if ref else f"{source.name}/*"
    return QuarantineRow(
        episode_uid=uid,
        source=source.name,
        subset=ref.subset if ref else "",
        adapter=source.adapter,
        raw_path=ref.paths[0] if ref and ref.paths else str(source.root),
        stage=stage,
        error_class=error_class,
        message=message,
        file=extra.get("file"),
        field=extra.get("field"),
        quarantined_at=datetime.now(UTC),
        fault=extra.get("fault", "data"),
    )


def source_row(source: SourceSpec, e: Exception) -> QuarantineRow:
    """The row of a source whose discovery raised `e`: its reason, and the file and field it names."""
    extra = {"file": e.file, "field": e.field} if isinstance(e, AdapterError) else {}
    return quarantine_row(source, None, "discover", type(e).__name__, getattr(e, "reason", None) or str(e), **extra)


def discovery_row(source: SourceSpec, ref: EpisodeRef) -> QuarantineRow:
    """A ref discovery flagged: reading it re-raises the adapter's error with its file and field as columns."""
    try:
        get_adapter(source.adapter, source.options, source.storage).read(ref)
    except AdapterError as e:
        return quarantine_row(source, ref, "discover", "DiscoveryError", e.reason, file=e.file, field=e.field)
    except Exception:  # fall back to the message discovery recorded
        pass
    return quarantine_row(source, ref, "discover", "DiscoveryError", ref.error or "flagged by discovery")


def rejected_row(item: WorkItem, rejected: Rejected) -> QuarantineRow:
    """The quarantine row of a raw episode a worker or a committer rejected, or of the part of it `rejected` names."""
    return quarantine_row(
        item.source,
        item.ref.model_copy(update={"raw_id": item.ref.raw_id + rejected.part}) if rejected.part else item.ref,
        rejected.stage,
        rejected.error_class,
        rejected.message,
        file=rejected.file,
        field=rejected.field,
        fault=rejected.fault,
    )


@dataclass
class QuarantineWriter:
    """Rows buffered, written a part at a time: every `flush_every` rows, once the oldest buffered row is
    `flush_after_s` old (checked as rows come and on `tick`: a kill loses at most that much rejected work), and at
    the end."""

    output: Path
    flush_every: int = QUARANTINE_FLUSH
    flush_after_s: float = QUARANTINE_FLUSH_S
    rows: list[QuarantineRow] = field(default_factory=list)  # buffered, not yet written
    parts: int = 0  # parts this run wrote
    run: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f"))
    oldest: float | None = None  # when the oldest buffered row came (monotonic)
    readings: dict[str, str] = field(default_factory=dict)  # source -> the fingerprint its rows are stamped with

    def add(self, row: QuarantineRow) -> None:
        if row.reading is None and (fingerprint := self.readings.get(row.source)) is not None:
            row = row.model_copy(update={"reading": fingerprint})
        self.rows.append(row)
        self.oldest = time.monotonic() if self.oldest is None else self.oldest
        if len(self.rows) >= self.flush_every:
            self.flush()
        else:
            self.tick()

    def tick(self) -> None:
        """Write the buffered rows once the oldest is `flush_after_s` old (the driver calls this while it waits)."""
        if self.oldest is not None and time.monotonic() - self.oldest >= self.flush_after_s:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            write_quarantine_part(self.output, self.rows, f"{self.run}-{self.parts:05d}")
            self.parts += 1
            self.rows = []
        self.oldest = None
