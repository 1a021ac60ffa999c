"""What a rerun skips (`jobs.ingest.resume`): the lineage `raw_uid` of committed episodes and the quarantined uids of
the source, read from the files a job commits; nothing else counts (a killed run's hidden temp part, another source's
rows, an episode without lineage)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from jobs.catalog.parts import write_quarantine_part
from jobs.ingest.resume import done_sql, done_uids
from schemas.corpus import DATASETS_DIR, QUARANTINE_DIR, QuarantineRow
from schemas.lerobot import EPISODES_PATH


def _episodes(output: Path, source: str, subset: str, raw_uids: list[str | None]) -> None:
    path = output / DATASETS_DIR / source / subset / EPISODES_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, uid in enumerate(raw_uids):
        row = {"episode_index": i, "tasks": ["t"], "length": 10}
        if uid is not None:
            row["eidata"] = {"raw_uid": uid, "source": source}
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")


def _row(source: str, uid: str) -> QuarantineRow:
    return QuarantineRow(
        episode_uid=uid,
        source=source,
        subset="a",
        adapter="lerobot",
        raw_path=f"/raw/{uid}",
        stage="canonicalize",
        error_class="ValueError",
        message="bad",
        quarantined_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_committed_and_quarantined_uids_are_done_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    _episodes(out, "src", "a", ["src/a/0", "src/a/1", None])  # an episode without lineage has no raw uid
    _episodes(out, "src", "b", ["src/b/7"])
    _episodes(out, "other", "a", ["other/a/0"])
    write_quarantine_part(out, [_row("src", "src/a/2"), _row("other", "other/a/9")], "run1-0")
    # a killed run's part is a hidden temp file: never read
    (out / QUARANTINE_DIR / ".run2-0.parquet.tmp").write_bytes(b"not parquet")

    asked = ["src/a/0", "src/a/1", "src/a/2", "src/a/3", "src/b/7", "other/a/0", "other/a/9"]
    done = done_uids(out, "src", asked, tmp_path / "spill")
    assert done == {"src/a/0", "src/a/1", "src/a/2", "src/b/7"}
    assert not (tmp_path / "spill").exists()  # DuckDB's spill folder is removed after


def test_a_first_run_has_nothing_done(tmp_path: Path) -> None:
    sql, params = done_sql(tmp_path, "src")
    assert params == []
    assert done_uids(tmp_path, "src", ["src/a/0"], tmp_path / "spill") == set()
    assert "false" in sql  # the empty set, without reading any file
