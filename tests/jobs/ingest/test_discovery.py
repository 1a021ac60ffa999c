"""Streaming discovery (`jobs.ingest.discovery`) on a real adapter (named by import path, as a team's own would be):
the work file a discovery task writes holds each subset in natural order, the subsets interleaved, without the raw
episodes an earlier run finished (read by DuckDB from lineage and quarantine files), and the byte sort key orders as
`natural_key` does."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adapters.base import AdapterOptions, EpisodeRef, RawEpisode, natural_key
from adapters.source_adapter import SourceAdapter
from jobs.catalog.parts import write_quarantine_part
from jobs.ingest.discovery import discover_source, interleave, natural_bytes, read_work
from jobs.spec_models import SourceSpec
from schemas.corpus import QuarantineRow, episode_uid
from schemas.findings import NO_EPISODES, SourceFinding

IDS = ["ep7", "ep10", "ep007", "ep9", "ep1b", "ep1", "ep", "ep1a", "ep2", "ep12"]


class RefsOptions(AdapterOptions):
    subsets: tuple[str, ...] = ("task_98", "task_327", "task_5")
    fail: bool = False
    skip: bool = False  # a folder noted as skipped, and no episode
    vanish: int | None = None  # the root is moved away after this many refs
    vanish_fails: bool = False  # ... and the listing then fails


class Refs(SourceAdapter):
    """Every id of `IDS` in every subset, shuffled; `ep9` flagged by discovery."""

    name = "test_refs"
    options_model = RefsOptions
    expects = "<subset>/<episode> folders"

    def discover(self, root: Path) -> Iterator[EpisodeRef]:
        if self.options.fail:
            raise self.error("index unreadable", file=root / "index.json", field="episodes")
        if self.options.skip:
            self.note("folder_skipped", "rec1: a recording of another kind, skipped", root=root, path=root / "rec1")
            return
        refs = [(s, i) for s in self.options.subsets for i in IDS]
        random.Random(0).shuffle(refs)
        for n, (s, i) in enumerate(refs):
            if n == self.options.vanish:
                root.rename(root.with_name("moved"))
                if self.options.vanish_fails:
                    raise self.error("listing failed", file=root / s, field="episodes")
                return
            yield EpisodeRef(
                adapter=self.name,
                source="x",
                subset=s,
                raw_id=i,
                paths=(f"{root}/{s}/{i}",),
                error="bad header" if i == "ep9" else None,
            )

    def read(self, ref: EpisodeRef) -> RawEpisode:
        raise self.error("not readable in this test", episode=ref.raw_id)


ADAPTER = f"{__name__}:Refs"


def test_byte_keys_sort_as_natural_key() -> None:
    words = [*IDS, "", "1", "01", "10", "a", "a1", "a01", "a1b", "a10", "b", "task_98", "task_327", "x-1", "ü", "ä2"]
    rng = random.Random(1)
    words += ["".join(rng.choice("ab01-9") for _ in range(rng.randint(0, 6))) for _ in range(300)]
    assert sorted(words, key=natural_bytes) == sorted(words, key=natural_key)


def _source(tmp_path: Path, **options: object) -> SourceSpec:
    (tmp_path / "raw").mkdir(exist_ok=True)
    return SourceSpec(name="src", adapter=ADAPTER, root=tmp_path / "raw", options=options)


def _done_before(output: Path, source: SourceSpec) -> set[str]:
    """An earlier run: `task_5/ep1` committed (its lineage in episodes.jsonl, beside a line without lineage, as
    another tool writes), `task_98/ep10` quarantined."""
    ds = output / "datasets/src/task_5/meta"
    ds.mkdir(parents=True)
    committed = episode_uid("src", "task_5", "ep1")
    line = {"episode_index": 0, "tasks": ["t"], "length": 3, "eidata": {"raw_uid": committed, "tier": "high"}}
    (ds / "episodes.jsonl").write_text(json.dumps(line) + "\n" + json.dumps({"episode_index": 1}) + "\n")
    quarantined = episode_uid("src", "task_98", "ep10")
    row = QuarantineRow(
        episode_uid=quarantined,
        source="src",
        subset="task_98",
        adapter=ADAPTER,
        raw_path="x",
        stage="read",
        error_class="AdapterError",
        message="m",
        quarantined_at=datetime.now(UTC),
    )
    write_quarantine_part(output, [row], "earlier-00000")
    return {committed, quarantined}


def test_work_file_interleaves_sorted_subsets_without_done_episodes(tmp_path: Path) -> None:
    source = _source(tmp_path)
    output, work = tmp_path / "out", tmp_path / "out/job/work/src.parquet"
    done = _done_before(output, source)
    res = discover_source(source, str(output), str(work))
    assert res == {"source": "src", "found": 27, "todo": 28, "todo_readable": 25, "error": None, "findings": []}
    items = list(read_work(source, work))
    uids = [it.uid for it in items]
    assert not done & set(uids) and len(uids) == len(set(uids)) == 28
    for subset in ["task_5", "task_98", "task_327"]:  # each subset in natural order
        ids = [it.ref.raw_id for it in items if it.ref.subset == subset]
        assert ids == sorted(ids, key=natural_key) and len(ids) == (10 if subset == "task_327" else 9)
    assert [it.ref.subset for it in items[:6]] == ["task_5", "task_98", "task_327"] * 2  # interleaved, subsets sorted
    assert [it.ref.raw_id for it in items[:3]] == ["ep", "ep", "ep"]
    flagged = [it for it in items if it.ref.error]
    assert {it.ref.raw_id for it in flagged} == {"ep9"} and len(flagged) == 3
    assert pq.ParquetFile(work).metadata.num_rows == 28
    assert not list(work.parent.glob("*.unsorted.parquet"))


def test_a_source_that_cannot_be_discovered_is_one_quarantine_row(tmp_path: Path) -> None:
    source = _source(tmp_path, fail=True)
    output = tmp_path / "out"
    res = discover_source(source, str(output), str(output / "job/work/src.parquet"))
    row = QuarantineRow.model_validate(res["error"])
    assert (row.episode_uid, row.stage, row.field) == ("src/*", "discover", "episodes")
    assert row.file is not None and row.file.endswith("index.json")
    write_quarantine_part(output, [row], "earlier-00000")  # quarantined by an earlier run: not again
    again = discover_source(source, str(output), str(output / "job/work/src.parquet"))
    assert again["error"] is None and again["found"] == 0


def test_a_source_that_yields_nothing_says_why_and_what_it_expected(tmp_path: Path) -> None:
    """Its findings under the job's source name: the folder skipped, and `no_episodes` naming the root, the first
    cause and the layout the adapter expects; a failed discovery's cause is its first cause."""
    output = tmp_path / "out"
    res = discover_source(_source(tmp_path, skip=True), str(output), str(output / "job/work/src.parquet"))
    empty, skipped = (SourceFinding.model_validate(f) for f in res["findings"])
    assert (res["found"], res["error"]) == (0, None)
    assert (skipped.source, skipped.code, skipped.path) == ("src", "folder_skipped", str(tmp_path / "raw/rec1"))
    assert (empty.source, empty.code, empty.severity) == ("src", NO_EPISODES, "error")
    assert empty.root == str(tmp_path / "raw")
    assert empty.message == (
        f"no episode found under {tmp_path / 'raw'}: rec1: a recording of another kind, skipped; "
        "expected <subset>/<episode> folders"
    )
    failed = discover_source(_source(tmp_path, fail=True), str(output), str(output / "job/work/src.parquet"))
    [empty] = (SourceFinding.model_validate(f) for f in failed["findings"])
    assert "AdapterError: index unreadable; expected <subset>/<episode> folders" in empty.message
    ok = discover_source(_source(tmp_path), str(output), str(output / "job/work/src.parquet"))
    assert ok["findings"] == []  # episodes found, nothing noted


@pytest.mark.parametrize("fail", [False, True])
def test_a_root_gone_during_discovery_defers_the_source(tmp_path: Path, fail: bool) -> None:
    """Review 6, N52 at discovery: a root moved away midway gave rc 0 and "no episode found ... nothing matched its
    layout" (or a quarantine row, had the listing failed). It is the environment's: deferred (the job exits 75), no
    row, no finding, nothing in the work file, and the next run discovers the source whole."""
    output = tmp_path / "out"
    res = discover_source(
        _source(tmp_path, vanish=5, vanish_fails=fail), str(output), str(output / "job/work/src.parquet")
    )
    assert res["error"] is None and res["found"] == 0 and "findings" not in res
    assert "SourceVanishedError: the source root" in res["deferred"] and "gone since discovery" in res["deferred"]
    (tmp_path / "moved").rename(tmp_path / "raw")
    again = discover_source(_source(tmp_path), str(output), str(output / "job/work/src.parquet"))
    assert again["found"] == 27 and "deferred" not in again


@pytest.mark.parametrize("lengths", [[3, 1, 2], [0, 2]])
def test_interleave_takes_one_from_each_stream_in_turn(lengths: list[int]) -> None:
    streams = [iter([(k, i) for i in range(n)]) for k, n in enumerate(lengths)]
    out = list(interleave(streams))  # type: ignore[arg-type]
    assert sorted(out) == sorted((k, i) for k, n in enumerate(lengths) for i in range(n))
    for k in range(len(lengths)):
        assert [i for kk, i in out if kk == k] == list(range(lengths[k]))
    if lengths == [3, 1, 2]:
        assert out[:3] == [(0, 0), (1, 0), (2, 0)]


@pytest.mark.shared_ray  # tests/ray_scope.py: the hook reads nothing from the workers' environment
def test_a_file_that_kills_its_discovery_costs_its_episodes_only(tmp_path: Path) -> None:
    """Issue 67 item 5 at discovery: HDF5 crashing the process that parses it as it opens one robomimic file; the
    discovery runs again with that file refused, its episode flagged naming it and the death, the others discovered
    (before: the job ended, exit 75, nothing written). Its parse process dies, not its worker (issue 84)."""
    from jobs.ingest.discovery import discover_all
    from jobs.spec_models import JobSpec
    from tests.fixtures import library_bombs as lb
    from tests.jobs.ingest import crash_hooks

    names = ["a_good.hdf5", f"b_{crash_hooks.KILLER}.hdf5", "c_good.hdf5"]
    for seed, name in enumerate(names):
        lb.robomimic(tmp_path / "raw" / name, seed=seed)
    spec = JobSpec.model_validate(
        {
            "output": str(tmp_path / "corpus"),
            "sources": [{"name": "rm", "adapter": "arrays", "root": str(tmp_path / "raw")}],
            "parallelism": {"num_cpus": 2, "task_retries": 1},
        }
    )
    plan = discover_all(spec, discover=crash_hooks.file_killed_discover_source)
    assert not plan.deferred and not plan.errors, plan
    assert (plan.todo, plan.todo_readable) == (3, 2), plan
    refs = {Path(item.ref.paths[0]).name: item.ref for item in read_work(spec.sources[0], plan.files["rm"])}
    killer = str(tmp_path / "raw" / names[1])
    assert refs["a_good.hdf5"].error is None and refs["c_good.hdf5"].error is None, refs
    assert killer in refs[names[1]].error and "ended by SIGKILL" in refs[names[1]].error, refs
    assert "its parse process" in refs[names[1]].error, refs  # the worker lives: its parse process died
