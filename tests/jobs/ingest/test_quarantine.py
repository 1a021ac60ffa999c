"""The ingest job's one quarantine writer (`jobs.ingest.quarantine`): rows from rejected results, buffered parts in
`catalog/quarantine/`, and the committer handing every reject to it (no Ray: a rejected result never reaches one)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest

import tests.fixtures.behaviour_defects as plant
from adapters.base import EpisodeRef
from ingest.canonical.store import dataset_features
from jobs.ingest import quarantine
from jobs.ingest.commit import Committer
from jobs.ingest.quarantine import QuarantineWriter, rejected_row
from jobs.ingest.task import Rejected, Staged, StagedOutput, WorkItem
from jobs.ingest.worker import quarantined_parts
from jobs.spec_models import JobSpec, SourceSpec
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import QUARANTINE_DIR, dataset_dir
from tests.fixtures.offline import prepare, stage
from tests.ingest.canonical.test_canonicalize import _two_spans
from tests.ingest.qa.gr00t_sample import SAMPLE as GR00T
from tests.ingest.qa.planted_raw import ELBOW, gr00t_raws, planted
from tests.realdata import realdata


def elbow_span() -> float:
    stats = json.loads((realdata(GR00T) / "meta" / "stats.json").read_text())["observation.state"]
    return stats["max"][ELBOW] - stats["min"][ELBOW]


def _items(tmp_path: Path, n: int) -> tuple[JobSpec, list[WorkItem]]:
    (tmp_path / "raw").mkdir(exist_ok=True)
    source = SourceSpec(name="src", adapter="oxe", root=tmp_path / "raw")
    spec = JobSpec(output=tmp_path / "out", sources=[source])
    refs = [
        EpisodeRef(adapter="oxe", source="src", subset="x", raw_id=f"{i:03d}", paths=(f"f{i}.rec",)) for i in range(n)
    ]
    return spec, [WorkItem(i, source, r) for i, r in enumerate(refs)]


def test_a_rejected_result_becomes_a_row_naming_the_episode_and_its_cause(tmp_path: Path) -> None:
    _, [item] = _items(tmp_path, 1)
    row = rejected_row(item, Rejected(item.uid, "read", "AdapterError", "crc mismatch", file="f0.rec", field="steps"))
    assert (row.episode_uid, row.source, row.subset, row.adapter, row.raw_path) == (
        item.uid,
        "src",
        "x",
        "oxe",
        "f0.rec",
    )
    assert (row.stage, row.error_class, row.message, row.file, row.field) == (
        "read",
        "AdapterError",
        "crc mismatch",
        "f0.rec",
        "steps",
    )


def test_rows_are_written_a_part_every_flush_and_at_the_end(tmp_path: Path) -> None:
    _, items = _items(tmp_path, 5)
    writer = QuarantineWriter(tmp_path / "out", flush_every=2)
    for it in items:
        writer.add(rejected_row(it, Rejected(it.uid, "worker", "RuntimeError", "died")))
    parts = sorted((tmp_path / "out" / QUARANTINE_DIR).glob("*.parquet"))
    assert [p.name for p in parts] == [f"{writer.run}-00000.parquet", f"{writer.run}-00001.parquet"]
    assert len(writer.rows) == 1  # the fifth waits for the next flush
    writer.flush()
    writer.flush()  # nothing buffered: no empty part
    parts = sorted((tmp_path / "out" / QUARANTINE_DIR).glob("*.parquet"))
    uids = [u for p in parts for u in pq.read_table(p).column("episode_uid").to_pylist()]
    assert len(parts) == 3 and sorted(uids) == [it.uid for it in items]


def test_a_row_waits_at_most_flush_after_s_before_its_part_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill used to lose up to 199 buffered rows (their episodes done again); now at most `flush_after_s` of them.
    The writer's clock is the test's: with the wall clock, a pause of `flush_after_s` between `add` and `tick` (a loaded
    machine, a garbage collection late in the suite) flushed the row the test asserts is still buffered."""
    now = [64.0]  # steps of binary fractions: the sums are exact
    monkeypatch.setattr(quarantine, "time", SimpleNamespace(monotonic=lambda: now[0]))
    _, items = _items(tmp_path, 2)
    writer = QuarantineWriter(tmp_path / "out", flush_after_s=0.5)
    writer.add(rejected_row(items[0], Rejected(items[0].uid, "worker", "RuntimeError", "died")))
    now[0] += 0.25
    writer.tick()
    assert not list((tmp_path / "out").rglob("*.parquet")) and len(writer.rows) == 1  # younger than 0.5 s
    now[0] += 0.25
    writer.tick()
    assert len(list((tmp_path / "out" / QUARANTINE_DIR).glob("*.parquet"))) == 1 and writer.rows == []
    writer.tick()  # nothing buffered: no empty part
    assert writer.parts == 1


def test_the_committer_hands_every_reject_to_its_writer_and_books_it(tmp_path: Path) -> None:
    spec, items = _items(tmp_path, 3)
    writer = QuarantineWriter(spec.output)
    done: list[str] = []
    committer = Committer(spec, {}, writer, committers=0, on_done=lambda it: done.append(it.uid))
    for it in items[:2]:
        committer.accept(it, Rejected(it.uid, "canonicalize", "RejectedEpisode", "no span survived"))
    discovered = rejected_row(items[2], Rejected(items[2].uid, "discover", "DiscoveryError", "unreadable"))
    committer.add_quarantine(discovered)
    assert committer.tallies["src"].quarantined == 3 and committer.tallies["src"].written == 0
    assert [r.episode_uid for r in writer.rows] == [it.uid for it in items]
    assert done == [it.uid for it in items[:2]]  # a discovery row never was a task: nothing to hear of
    committer.close()
    assert writer.rows == [] and len(list((spec.output / QUARANTINE_DIR).glob("*.parquet"))) == 1


def test_a_part_quarantined_beside_a_kept_part_gets_its_own_row(tmp_path: Path) -> None:
    """A real GR00T episode cut in two by a planted encoder wrap-around, with a NaN in a native signal of the second
    part only: the first part is kept, the second quarantined by the behaviour phase. Worker -> committer -> writer:
    the kept part commits, the quarantined one gets its own row (its uid, the finding's value and threshold)."""
    raw, _ = planted(gr00t_raws()[1], plant.wraparound, ELBOW, 0.8 * elbow_span())
    done = raw.outcomes["next.done"]
    values = done.values.astype(np.float64)
    values[-30:-28] = np.nan  # in the second part: one NaN left on the 10 Hz grid
    raw.outcomes["next.done"] = replace(done, values=values)
    source = SourceSpec(name="lerobot", adapter="lerobot", root=realdata(GR00T))
    spec = JobSpec(output=tmp_path / "out", sources=[source])
    item = WorkItem(0, source, raw.ref)
    result = prepare(raw, spec.canonicalize, source=source.name)
    [kept] = result.episodes
    dataset = dataset_dir(source.name, kept.subset)
    st = stage(spec.output / dataset, kept, spec.codec)
    parts = quarantined_parts(item.uid, result)
    staged = Staged(item.uid, (StagedOutput(dataset, st, kept.embodiment, dataset_features(kept)),), parts)
    writer = QuarantineWriter(spec.output)
    committer = Committer(spec, {}, writer, committers=0)
    committer.accept(item, staged)
    assert (committer.tallies["lerobot"].written, committer.tallies["lerobot"].quarantined) == (1, 1)
    [row] = writer.rows
    assert kept.uid == item.uid + "#keep0" and row.episode_uid == item.uid + "#keep1"
    assert (row.stage, row.error_class, row.raw_path) == ("judge", "BehaviourRejected", raw.ref.paths[0])
    said = (
        "qa_nonfinite: 1 NaN/Inf values in the natives (quarantine at canonicalize.behaviour.nonfinite_quarantine 1+)"
    )
    assert said in row.message
    assert any(r.endswith(row.message.split(": ", 1)[1]) for r in kept.tier_reasons)  # the kept part names it too
    committer.close()
    assert len(list((spec.output / dataset).glob("data/*/*.parquet"))) == 1


def test_a_span_rejected_beside_a_kept_span_gets_its_own_row() -> None:
    """A span validity rejects (too short for `min_length_frames`) and parts gaps leave under `min_episode_s`, beside a
    kept span: each is a `Rejected` of its own (its uid the raw episode's with the part's tag), never a silent drop."""
    spec = CanonicalizeSpec(min_episode_s=1.0, validity={"min_length_frames": 20})
    result = prepare(_two_spans(short_first=True), spec)
    [kept] = result.episodes
    [part] = quarantined_parts("src/ep", result)
    assert kept.uid.endswith("#span1") and part.uid == "src/ep#span0" and part.part == "#span0"
    assert (part.stage, part.error_class) == ("canonicalize", "RejectedEpisode")
    assert part.message.startswith("span [0.00, 1.40] s rejected: episode too short: 15 frames")
