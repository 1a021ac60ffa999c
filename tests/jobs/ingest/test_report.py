"""The ingest job's report (`jobs.ingest.report`): totals and the table `eidata ingest` prints."""

from __future__ import annotations

from pathlib import Path

from jobs.ingest.report import IngestReport, SourceTally


def test_the_table_has_a_row_per_source_and_the_totals() -> None:
    report = IngestReport(Path("/corpus"), {"a": SourceTally(2, 1, 36000), "b": SourceTally(0, 2, 0)}, skipped=4)
    report.seconds = 10.0
    assert report.quarantined == 3
    lines = report.table().splitlines()
    assert lines[1].split() == ["a", "2", "1", "1.000", "3600"]  # 36000 frames at 10 Hz: an hour
    assert lines[2].split() == ["b", "0", "2", "0.000", "0"]
    assert lines[3] == "2 sources, 4 raw episodes already done, 10.0 s"
    report.nodes = 3
    assert "3 Ray nodes" in report.table().splitlines()[-1]
