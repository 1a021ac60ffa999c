"""What an ingest job reports: per source, episodes written and quarantined and frames, and the run's totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SourceTally:
    written: int = 0
    quarantined: int = 0
    frames: int = 0
    encoder_retries: int = 0  # episode writes done once more after an encoder fault (ingest.lerobot.encoder_faults)


@dataclass
class IngestReport:
    output: Path
    tallies: dict[str, SourceTally] = field(default_factory=dict)
    skipped: int = 0  # raw episodes already done by an earlier run
    seconds: float = 0.0
    nodes: int = 1  # Ray nodes that took part (each saw the output folder)

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tallies.values())

    def table(self) -> str:
        rows = [f"{'source':16s} {'written':>8s} {'quarantined':>11s} {'hours':>8s} {'frames/s':>9s}"]
        for name, t in self.tallies.items():
            rate = t.frames / self.seconds if self.seconds else 0.0
            rows.append(f"{name:16s} {t.written:8d} {t.quarantined:11d} {t.frames / 36000:8.3f} {rate:9.0f}")
        rows.append(f"{len(self.tallies)} sources, {self.skipped} raw episodes already done, {self.seconds:.1f} s")
        retries = sum(t.encoder_retries for t in self.tallies.values())
        if retries:
            rows.append(f"{retries} episode writes done once more after an encoder fault")
        if self.nodes > 1:
            rows.append(f"{self.nodes} Ray nodes, each saw the output folder {self.output} (shared filesystem check)")
        return "\n".join(rows)
