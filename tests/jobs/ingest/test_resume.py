"""What a rerun skips (`jobs.ingest.resume`): the lineage `raw_uid` of committed episodes and the quarantined uids of
the source, read from the files a job commits; nothing else counts (a killed run's hidden temp part, another source's
rows, an episode without lineage). `--retry-quarantined` forgets the environment's rows first (issue 38)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.catalog.parts import write_quarantine_part
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.ingest.resume import done_sql, done_uids, forget_environment
from jobs.spec import load_spec
from schemas.corpus import DATASETS_DIR, QUARANTINE_DIR, QUARANTINE_SCHEMA, QuarantineRow
from schemas.lerobot import EPISODES_PATH
from tests.jobs.demo_reference import demo_spec, hashes


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


def _legacy_part(out: Path, rows: list[QuarantineRow], name: str) -> Path:
    """A quarantine part as eidata wrote it before issue 38: no `fault` column."""
    schema = pa.schema([f for f in QUARANTINE_SCHEMA if f.name != "fault"])
    table = pa.Table.from_pylist([r.model_dump(mode="python", exclude={"fault"}) for r in rows], schema=schema)
    path = out / QUARANTINE_DIR / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def test_forget_environment_drops_the_environment_s_rows_only(tmp_path: Path) -> None:
    """Rows that say `fault: environment`, and rows of older parts whose error names the environment (the review's
    full disk and store outage), are removed from their parts; the data's rows stay, a part left empty goes."""
    out = tmp_path / "corpus"
    full = _row("src", "src/a/0").model_copy(update={"message": "commit failed: [Errno 28] No space left on device"})
    down = _row("src", "src/a/1").model_copy(
        update={
            "error_class": "EndpointConnectionError",
            "message": 'Could not connect to the endpoint URL: "http://x"',
        }
    )
    bad = _row("src", "src/a/2").model_copy(update={"message": "unreadable parquet (Parquet magic bytes not found)"})
    odd = _row("src", "src/a/5").model_copy(update={"message": "frame 3: [Errno 1094995529] Invalid data found"})
    legacy = _legacy_part(out, [full, down, bad, odd], "old-0")
    hung = _row("src", "src/a/3").model_copy(update={"error_class": "EncoderTimeout", "fault": "environment"})
    write_quarantine_part(out, [hung], "new-0")
    write_quarantine_part(out, [_row("src", "src/a/4")], "new-1")  # data only: untouched

    asked = [f"src/a/{i}" for i in range(6)]
    assert done_uids(out, "src", asked, tmp_path / "spill") == set(asked)
    assert forget_environment(out) == 3
    assert done_uids(out, "src", asked, tmp_path / "spill") == {"src/a/2", "src/a/4", "src/a/5"}
    assert pq.read_table(legacy).column("episode_uid").to_pylist() == ["src/a/2", "src/a/5"]
    assert not (out / QUARANTINE_DIR / "new-0.parquet").exists()
    assert forget_environment(out) == 0


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_retry_quarantined_does_again_what_an_older_run_lost_to_a_full_disk(
    reference: Path, raw: dict[str, Path], tmp_path: Path
) -> None:
    """The review's 2a: two valid episodes quarantined "No space left on device" by an older eidata (a part without
    `fault`) are skipped by a plain rerun, and done by `--retry-quarantined`: the datasets are then the uninterrupted
    run's (each was its dataset's last episode) and only the data's quarantine rows are left."""
    sources = ("bridge", "lerobot")
    spec = load_spec(demo_spec(tmp_path, raw))
    spec = spec.model_copy(update={"sources": [s for s in spec.sources if s.name in sources]})
    lost = {
        "bridge/bridge_dataset/train/00000/000002": "commit failed: [Errno 28] No space left on device",
        "lerobot/franka_cube/episode_000002": "could not finish the episode: [Errno 28] No space left on device",
    }
    rows = [
        _row(uid.split("/")[0], uid).model_copy(update={"stage": "write", "error_class": "EpisodeError", "message": m})
        for uid, m in lost.items()
    ]
    _legacy_part(spec.output, rows, "20261123T000000000000-00000")
    subset = {k: v for k, v in hashes(reference).items() if k.startswith(sources)}

    run_ingest(spec, progress=False)
    second = {f"{d}/data/chunk-000/episode_000001.parquet" for d in ("bridge/bridge_dataset", "lerobot/franka_cube")}
    assert second <= subset.keys() and not second & hashes(spec.output).keys()  # lost: a plain rerun skips them

    run_ingest(spec, progress=False, retry_quarantined=True)
    assert hashes(spec.output) == subset
    sql = f"SELECT source, raw_path, stage, error_class, message FROM quarantine WHERE source IN {sources} ORDER BY ALL"
    assert run_query(spec.output, sql) == run_query(reference, sql)
