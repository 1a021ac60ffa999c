"""Where a run starts from (`jobs.ingest.resume`). What a rerun skips: the lineage `raw_uid` of committed episodes and
the quarantined uids of the source, read from the files a job commits; nothing else counts (a killed run's hidden temp
part, another source's rows, an episode without lineage). `--retry-quarantined` forgets the environment's rows first
(issue 38). Nothing to do, known before Ray: a finished corpus is settled with the count discovery finds, a new raw
episode is work, an unchanged rerun from the CLI starts no Ray and writes nothing, and a run that did not end (no
`job/ingest.finished`) is finished by the next one, catalog included. A sibling dataset's commit killed after its
journal is rolled forward from its subset's staging area, whatever recovery opens first."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from adapters.synthetic.egodex import write_egodex
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer import LeRobotWriter, stage_episode
from jobs.catalog.parts import parquet_files, write_quarantine_part
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.ingest.resume import done_sql, done_uids, forget_environment, roll_forward, settled
from jobs.spec import load_spec
from schemas.corpus import (
    DATASETS_DIR,
    EPISODES_DIR,
    FINISHED,
    QUARANTINE_DIR,
    QUARANTINE_SCHEMA,
    QuarantineRow,
)
from schemas.lerobot import EPISODES_PATH
from tests.fixtures.discovery import discover
from tests.fixtures.episodes import canonical_frames, canonical_test_features, write_canonical_dataset
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


REPO = Path(__file__).resolve().parents[3]
PROBE = """\
import json, sys
from jobs.cli import main
from jobs.ingest.resume import nothing_to_do
from jobs.spec import load_spec
spec = load_spec(sys.argv[2])
ahead = nothing_to_do(spec, None)
code = main(sys.argv[1:])
print(json.dumps({"ahead": ahead, "code": code, "ray": "ray" in sys.modules}))
"""


def _copy(reference: Path, raw: dict[str, Path], tmp_path: Path, **roots: Path) -> Path:
    """The finished reference corpus copied under `tmp_path` with a spec writing to it (sources in `roots` moved)."""
    shutil.copytree(reference, tmp_path / "corpus", symlinks=True)
    return demo_spec(tmp_path, {**raw, **roots})


def _files(corpus: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(corpus)): (p.stat().st_mtime_ns, p.read_bytes())
        for sub in ("datasets", "catalog")
        for p in sorted((corpus / sub).rglob("*"))
        if p.is_file() and p.name != ".rebuild.lock"
    }


@pytest.mark.shared_ray  # tests/ray_scope.py: the reference corpus
def test_a_finished_corpus_is_settled_with_what_discovery_finds(reference: Path) -> None:
    spec = load_spec(reference.parent / "corpus.yaml")
    items, _ = discover(spec)  # every readable raw episode, in this process
    assert (reference / FINISHED).exists()  # the reference job ran to its end
    assert settled(spec) == len(items) == 15


@pytest.mark.shared_ray
def test_a_new_raw_episode_is_work(reference: Path, raw: dict[str, Path], tmp_path: Path) -> None:
    egodex = tmp_path / "egodex"
    shutil.copytree(raw["egodex"], egodex)
    spec = load_spec(_copy(reference, raw, tmp_path, egodex=egodex))
    assert settled(spec) == 15  # the same files elsewhere: their uids are relative, still done
    write_egodex(egodex, split="part9", tasks=("basic_pick_place",), episodes_per_task=1, old_episode=False)
    assert settled(spec) is None
    fresh = spec.model_copy(update={"output": tmp_path / "fresh"})
    assert settled(fresh) is None  # no record of any run: not even discovered


@pytest.mark.shared_ray
def test_an_unchanged_rerun_starts_no_ray_and_writes_nothing(
    reference: Path, raw: dict[str, Path], tmp_path: Path
) -> None:
    spec = _copy(reference, raw, tmp_path)
    corpus = tmp_path / "corpus"
    before = _files(corpus)
    run = subprocess.run(
        [sys.executable, "-c", PROBE, "ingest", str(spec)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out == {"ahead": 15, "code": 0, "ray": False}  # Ray not even imported
    assert "15 raw episodes already done" in run.stdout  # the report a Ray run prints
    assert _files(corpus) == before  # not a file of the datasets or the catalog added, removed or rewritten


@pytest.mark.shared_ray
def test_a_run_that_did_not_end_is_finished_by_the_next(reference: Path, raw: dict[str, Path], tmp_path: Path) -> None:
    """A run killed after its last commit, before its catalog rebuild: every raw episode is done, but the catalog is
    an earlier one's. The next run (no `ingest.finished`) takes the Ray path and rebuilds the catalog."""
    spec = load_spec(_copy(reference, raw, tmp_path))
    corpus = tmp_path / "corpus"
    (corpus / FINISHED).unlink()
    [part] = parquet_files(corpus, EPISODES_DIR)
    full = pq.read_table(part)
    pq.write_table(full.slice(0, 3), part)  # an earlier run's catalog, before the last commits

    report = run_ingest(spec, progress=False)

    assert report.skipped == 15 and sum(t.written for t in report.tallies.values()) == 0
    rebuilt = pq.read_table([str(p) for p in parquet_files(corpus, EPISODES_DIR)])
    assert rebuilt.column("episode_uid").to_pylist() == full.column("episode_uid").to_pylist()
    assert (corpus / FINISHED).exists()


@pytest.mark.parametrize("home_created", [True, False])
def test_a_siblings_killed_commit_is_rolled_forward_from_its_subsets_staging_area(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home_created: bool
) -> None:
    """Issue 77: an episode routed to a sibling dataset is committed from its subset's staging area, never moved
    (`ingest.lerobot.routing`). A committer killed after the sibling's journal (its commit point) leaves the episode's
    files in the subset's area; `roll_forward` opens the subset's dataset first (its recovery, or the removal of a
    dataset never created, removes staged folders nobody holds), keeps the folder that journal names, then rolls the
    sibling's commit forward: the episode is there once. A staged folder no journal names is removed as before."""
    source = tmp_path / "datasets/src"
    home, sibling = source / "sub", source / "sub@state.native~0123abcd"
    if home_created:
        write_canonical_dataset(home, [4])
    writer = LeRobotWriter.create(sibling, fps=10, features=canonical_test_features(), robot_type="franka")
    folders = []
    for seed in (1, 2):  # the first committed to the sibling, the second left unfinished (no record, no journal)
        builder = stage_episode(home, writer.info, VideoCodec(), task="t", label=f"w/{seed}")
        for frame in canonical_frames(3, seed=seed):
            builder.add_frame(frame)
        folders.append(builder.finish().model_copy(update={"label": f"w/{seed}"}))

    def killed(self: LeRobotWriter, journal: dict) -> None:
        raise KeyboardInterrupt("killed after the journal")

    monkeypatch.setattr(LeRobotWriter, "_apply", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.commit(folders[0])
    writer.close()
    monkeypatch.undo()
    assert folders[0].stage_dir.is_dir() and json.loads((sibling / ".eidata/commit.json").read_text())["stage_dirs"]
    roll_forward(tmp_path)
    with LeRobotWriter.open(sibling) as w:
        assert w.num_episodes == 1
    assert (sibling / "data/chunk-000/episode_000000.parquet").is_file()
    assert (sibling / "videos/chunk-000/observation.images.head/episode_000000.mp4").is_file()
    assert not folders[0].stage_dir.exists() and not folders[1].stage_dir.exists()


DRIVER = """\
import json, sys
from jobs.cli import main
from jobs.ingest.resume import nothing_to_do
from jobs.spec import load_spec
from tests.fixtures.opened import opened_here
raw, spec, said = sys.argv[1], sys.argv[2], {}
for step in ("first run", "rerun"):
    with opened_here() as opened:
        said[step] = main(["ingest", spec])
    said[step + " opened"] = [p for p in opened if p.startswith(raw)]
with opened_here() as opened:
    said["ahead"] = nothing_to_do(load_spec(spec), None)
said["ahead opened"] = [p for p in opened if p.startswith(raw)]
print(json.dumps(said))
"""


@pytest.mark.scenario
def test_no_source_file_is_opened_by_the_driver(tmp_path: Path) -> None:
    """`eidata ingest` parses a source's bytes behind the boundary alone: its spec check, its discovery and the rerun
    shortcut's (`settled`) in parse processes, its reads in Ray's workers; the driver opens no file under the root
    (at e7043c41 the rerun shortcut discovered in the driver: every meta file of the source opened there)."""
    from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset

    rows = np.linspace(0.1, 1.0, 20 * len(MOTORS)).reshape(20, len(MOTORS))
    for name in ("a", "b"):
        write_arm_dataset(tmp_path / "raw" / name, "so101_follower", list(MOTORS), rows)
    source = {"name": "src", "adapter": "lerobot", "root": str(tmp_path / "raw")}
    job = {
        "output": str(tmp_path / "corpus"),
        "sources": [source],
        "parallelism": {"num_cpus": 2},
        "canonicalize": {"validity": {"min_length_frames": 1}, "min_episode_s": 0.0},  # the fixtures are short
    }
    (spec := tmp_path / "spec.yaml").write_text(yaml.safe_dump(job), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path / "raw"), str(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    said = json.loads(run.stdout.strip().splitlines()[-1])
    assert said["first run"] == said["rerun"] == 0 and said["ahead"] == 2, said  # the rerun took the shortcut
    assert "2 raw episodes already done" in run.stdout
    assert said["first run opened"] == said["rerun opened"] == said["ahead opened"] == [], said
