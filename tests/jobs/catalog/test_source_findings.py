"""`catalog/source_findings/<source>.parquet` (`jobs.catalog.source_findings`): a source's findings replace its last
ones byte for byte, none removes the file, and `eidata query`'s `source_findings` view reads them."""

from __future__ import annotations

from pathlib import Path

from jobs.catalog.query import run_query
from jobs.catalog.source_findings import findings_file, read_source_findings, write_source_findings
from schemas.findings import SourceFinding


def _finding(source: str, code: str, episodes: tuple[str, ...] | None = None) -> SourceFinding:
    return SourceFinding(
        source=source,
        adapter="lerobot",
        root="/raw",
        subset="ds",
        code=code,
        severity="warning",
        message=code,
        episodes=episodes,
    )


def test_findings_replace_per_source_and_the_view_reads_them(tmp_path: Path) -> None:
    a = [_finding("a", "ghost_camera"), _finding("a", "total_episodes_mismatch", ("episode_000001",))]
    path = write_source_findings(tmp_path, "a", a)
    assert path == findings_file(tmp_path, "a")
    first = (path.read_bytes(), path.stat().st_mtime_ns)
    write_source_findings(tmp_path, "a", a)  # a rerun that finds the same: the file is not even rewritten
    assert (path.read_bytes(), path.stat().st_mtime_ns) == first
    write_source_findings(tmp_path, "b/../x", [_finding("b/../x", "folder_skipped")])  # a name is never a path
    assert findings_file(tmp_path, "b/../x").parent == tmp_path / "catalog/source_findings"
    assert read_source_findings(tmp_path, ["a"]) == a
    rows = run_query(tmp_path, "SELECT source, code, episodes FROM source_findings ORDER BY source, code").to_pylist()
    assert rows == [
        {"source": "a", "code": "ghost_camera", "episodes": None},
        {"source": "a", "code": "total_episodes_mismatch", "episodes": ["episode_000001"]},
        {"source": "b/../x", "code": "folder_skipped", "episodes": None},
    ]
    write_source_findings(tmp_path, "a", [])  # the source gave everything this time
    assert not path.exists() and [f.source for f in read_source_findings(tmp_path)] == ["b/../x"]
