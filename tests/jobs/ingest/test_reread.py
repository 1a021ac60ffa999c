"""A corpus a team revises (issue 98): how each source was read is recorded, a changed spec is seen before any work,
and `--reread` replaces a source's episodes and quarantine rows under the new reading, exactly once.

The newcomer's cases of review 10 (D2, D4) on the real UR5e log (`table_log_ur5e_notts`): a declared robot corrected
(`robot: ur5e` -> `ur3e`), and a log first quarantined for a column its map misnames, then read once the map is fixed.
At e7043c41 each rerun said "1 raw episodes already done" and kept the old episode (or the stale quarantine row), and
`job/spec.yaml` claimed the new spec."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

import jobs.cli
from jobs.catalog.query import run_query
from tests.fixtures.revisions import NOTTS, episodes, history, quarantine, spec_of

pytestmark = pytest.mark.shared_ray  # tests/ray_scope.py
REPO = Path(__file__).resolve().parents[3]


def test_a_corrected_robot_is_seen_before_any_work_and_re_read_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    assert jobs.cli.main(["ingest", str(spec_of(tmp_path, {"columns": NOTTS, "robot": "ur5e"}))]) == 0
    (before,) = episodes(corpus)
    assert before["embodiment"] == "ur5e" and before["reading"] == history(corpus)[0]["fingerprint"]
    lineage = json.loads((corpus / "datasets/ur5e_logs").glob("*/meta/episodes.jsonl").__next__().read_text())
    assert lineage["eidata"]["reading"] == before["reading"]

    spec = spec_of(tmp_path, {"columns": NOTTS, "robot": "ur3e"})
    capsys.readouterr()
    assert jobs.cli.main(["ingest", str(spec)]) == 2  # stopped before any work, naming what changed
    err = capsys.readouterr().err
    assert "ur5e_logs: 1 episodes and 0 quarantine rows read as" in err, err
    assert "options.robot: 'ur5e' -> 'ur3e'" in err and "--reread ur5e_logs" in err, err
    assert episodes(corpus) == [before]  # nothing read or replaced
    assert yaml.safe_load((corpus / "job/spec.yaml").read_text())["sources"][0]["options"]["robot"] == "ur5e"

    assert jobs.cli.main(["ingest", str(spec), "--reread", "ur5e_logs"]) == 0
    (after,) = episodes(corpus)
    lines = history(corpus)
    assert after["embodiment"] == "ur3e" and after["episode_uid"] == before["episode_uid"]
    assert [h["reading"]["options"]["robot"] for h in lines] == ["ur5e", "ur3e"]
    assert after["reading"] == lines[-1]["fingerprint"] != before["reading"]
    assert sorted(p.name for p in (corpus / "job/specs").iterdir()) == ["0001.yaml", "0002.yaml"]
    assert not (corpus / "reread").exists() and not (corpus / "job/reread.json").exists()

    capsys.readouterr()  # the same spec again: nothing to do, the same reading
    assert jobs.cli.main(["ingest", str(spec)]) == 0
    assert "1 raw episodes already done" in capsys.readouterr().out
    assert episodes(corpus) == [after] and len(history(corpus)) == 2


def test_a_log_quarantined_for_its_column_map_is_read_once_the_map_is_fixed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    wrong = {**NOTTS, "joints": [f"q{i}" for i in range(6)]}  # the logger writes q_0 .. q_5
    assert jobs.cli.main(["ingest", str(spec_of(tmp_path, {"columns": wrong, "robot": "ur5e"}))]) == 1
    (row,) = quarantine(corpus)
    assert "q0" in row["message"] and row["reading"] == history(corpus)[0]["fingerprint"]

    spec = spec_of(tmp_path, {"columns": NOTTS, "robot": "ur5e"})
    assert jobs.cli.main(["ingest", str(spec)]) == 2
    assert jobs.cli.main(["ingest", str(spec), "--reread-changed"]) == 0
    assert quarantine(corpus) == []  # the stale row replaced by the re-read's own (none)
    (ep,) = episodes(corpus)
    assert ep["embodiment"] == "ur5e" and ep["reading"] == history(corpus)[-1]["fingerprint"]


def test_a_re_read_of_a_source_the_spec_has_not_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = spec_of(tmp_path, {"columns": NOTTS, "robot": "ur5e"})
    assert jobs.cli.main(["ingest", str(spec), "--reread", "ur5e_log"]) == 2
    assert "--reread ur5e_log: no such source in the spec; sources: ['ur5e_logs']" in capsys.readouterr().err
    assert not (tmp_path / "corpus/datasets").exists()


POINTS = ["after-read", "mid-swap", "mid-rows", "after-rows", "mid-catalog"]
CATALOG = "SELECT * EXCLUDE (ingested_at) FROM episodes ORDER BY episode_uid"
ROWS = "SELECT * EXCLUDE (quarantined_at) FROM quarantine ORDER BY episode_uid"


def _state(corpus: Path) -> tuple:
    """What a re-read must leave, byte for byte: every file of the datasets, the catalog's rows (but the write
    times), the quarantine's rows (but theirs), the readings recorded; and nothing of the re-read's own left."""
    files = {  # the writers' own folders (a lock naming its holder's pid) left out
        str(p.relative_to(corpus)): p.read_bytes()
        for p in sorted((corpus / "datasets").rglob("*"))
        if p.is_file() and ".eidata" not in p.parts
    }
    leftovers = [p.name for p in [*(corpus / "job").iterdir(), *corpus.iterdir()] if p.name.startswith("reread")]
    return (
        files,
        run_query(corpus, CATALOG).to_pylist(),
        run_query(corpus, ROWS).to_pylist(),
        (corpus / "job/readings.jsonl").read_text(),
        leftovers,
    )


@pytest.fixture(scope="module")
def revised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, tuple]:
    """A corpus of the UR5e log and a broken one read as `ur5e` (the first run), the spec corrected to `ur3e`, and
    what an uninterrupted re-read of it leaves."""
    tmp = tmp_path_factory.mktemp("revised")
    spec = spec_of(tmp, {"columns": NOTTS, "robot": "ur5e"}, broken=True)
    assert jobs.cli.main(["ingest", str(spec)]) == 0
    shutil.copytree(tmp / "corpus", tmp / "first")
    spec = spec_of(tmp, {"columns": NOTTS, "robot": "ur3e"})
    assert jobs.cli.main(["ingest", str(spec), "--reread", "ur5e_logs"]) == 0
    return tmp / "first", spec, _state(tmp / "corpus")


@pytest.mark.scenario
@pytest.mark.parametrize("point", POINTS)
def test_a_re_read_killed_anywhere_then_rerun_is_the_uninterrupted_one(
    revised: tuple[Path, Path, tuple], point: str, tmp_path: Path
) -> None:
    from tests.processes import run_group

    first, spec, reference = revised
    corpus = tmp_path / "corpus"
    shutil.copytree(first, corpus)
    moved = tmp_path / "spec.yaml"  # the same spec, writing here
    moved.write_text(spec.read_text().replace(str(spec.parent / "corpus"), str(corpus)))
    args = ["ingest", str(moved), "--reread", "ur5e_logs"]
    cmd = [sys.executable, "-m", "tests.jobs.ingest.crash_reread", point, *args]
    crashed = run_group(cmd, timeout=600, cwd=REPO, capture_output=True)
    assert crashed.returncode == -9, (crashed.returncode, crashed.stderr[-2000:])
    assert jobs.cli.main(args) == 0  # the same command again
    state = _state(corpus)
    assert state[0] == reference[0]  # every dataset file
    assert state[1:] == reference[1:]


def test_the_dry_run_says_what_the_run_then_does(
    revised: tuple[Path, Path, tuple], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 98 items 2 and 6: the dry run of a changed spec stops where the run stops (exit 2, the same lines); asked
    to re-read, it plans every raw episode again and says what is replaced; and an episode an earlier run
    quarantined counts as done, as the run counts it (at e7043c41 the dry run promised to write it)."""
    first, spec, _ = revised
    corpus = tmp_path / "corpus"
    shutil.copytree(first, corpus)
    moved = tmp_path / "spec.yaml"
    moved.write_text(spec.read_text().replace(str(spec.parent / "corpus"), str(corpus)))
    capsys.readouterr()
    assert jobs.cli.main(["ingest", str(moved), "--dry-run", "--no-sample"]) == 2
    out = capsys.readouterr().out
    assert (
        "a run stops here, exit 2: the spec changes how 1 source(s)" in out and "options.robot: 'ur5e' -> 'ur3e'" in out
    )
    assert jobs.cli.main(["ingest", str(moved), "--dry-run", "--no-sample", "--reread", "ur5e_logs"]) == 0
    out = capsys.readouterr().out
    assert "datasets/ur5e_logs/raw  2 of 2 episodes" in out, out
    assert "re-read ur5e_logs: its 1 episodes and 1 quarantine rows replaced by the plan above" in out, out
    first_spec = moved.read_text().replace("robot: ur3e", "robot: ur5e")
    moved.write_text(first_spec)  # the spec the corpus was read with: nothing changed, both raw episodes done
    assert jobs.cli.main(["ingest", str(moved), "--dry-run", "--no-sample"]) == 0
    out = capsys.readouterr().out
    assert "0 of 2 episodes, 2 already done (skipped: written or quarantined)" in out, out
