"""The driver's committer (`jobs.ingest.commit.Committer`, committing in this process: `committers=0`) on raw episodes
the worker staged from the demo's AgiBot source: episodes commit in the order they are sent, indices from 0 with
nothing skipped, and an episode whose features differ from its dataset's goes to the dataset of its own signature that
`ingest.lerobot.routing` names (`<subset>@<diff>~<hash>`, lineage `signature_split`), never refused for differing;
clips of two camera sizes go to one dataset per size, none lost. Each episode is routed once, by the driver, and
committed from the staging area it was staged in: no staged folder is moved."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.synthetic.video import synthetic_frame, write_mp4
from ingest.lerobot import routing
from ingest.lerobot.routing import signature_sibling
from jobs.demo.corpus import write_raw_corpus
from jobs.ingest.commit import Committer
from jobs.ingest.quarantine import QuarantineWriter
from jobs.ingest.report import SourceTally
from jobs.ingest.task import EpisodeTask, Staged, StagedOutput, TaskSettings, WorkItem
from jobs.ingest.worker import process_episode
from jobs.spec_models import JobSpec
from schemas.lerobot import EPISODES_PATH
from tests.adapters.rosbag.test_folders import write_folder
from tests.fixtures.discovery import discover
from tests.realdata import realdata


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[JobSpec, list[StagedOutput]]:
    tmp = tmp_path_factory.mktemp("commit")
    raw = write_raw_corpus(tmp / "raw", sources=("agibot",))
    spec = JobSpec.model_validate(
        {"output": str(tmp / "out"), "sources": [{"name": "agibot", "adapter": "agibot", "root": str(raw["agibot"])}]}
    )
    items, _ = discover(spec)
    results = [process_episode(EpisodeTask(it, TaskSettings.of(spec, spec.output))) for it in items]
    outs = [ep for r in results if isinstance(r, Staged) for ep in r.episodes]
    assert len(outs) == 2  # the demo's third AgiBot episode is broken on purpose (rejected by the worker)
    return spec, outs


def _episodes(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / EPISODES_PATH).read_text().splitlines()]


def _driver(spec: JobSpec) -> tuple[Committer, dict[str, SourceTally]]:
    """The job's committer with its commits in this process, and its tallies."""
    tallies: dict[str, SourceTally] = {}
    return Committer(spec, tallies, QuarantineWriter(spec.output), committers=0), tallies


def _item(spec: JobSpec, n: int) -> WorkItem:
    """The demo's first AgiBot ref under another raw id (a raw episode of its own)."""
    ref = discover(spec)[0][0].ref
    return WorkItem(n, spec.sources[0], ref.model_copy(update={"raw_id": f"r{n}"}))


def _restaged(spec: JobSpec) -> StagedOutput:
    """The demo's first AgiBot raw episode staged once more (a staged folder of its own)."""
    result = process_episode(EpisodeTask(discover(spec)[0][0], TaskSettings.of(spec, spec.output)))
    assert isinstance(result, Staged)
    return result.episodes[0]


def _odd(out: StagedOutput) -> dict:
    """`out`'s features with its native columns named otherwise (another robot's joints, one width)."""
    key = next(k for k in out.features if k.endswith(".native"))
    feat = out.features[key]
    return {**out.features, key: feat.model_copy(update={"names": [f"other_{i}" for i in range(feat.shape[0])]})}


def test_episodes_commit_in_the_order_sent_and_another_signature_gets_its_dataset(
    staged: tuple[JobSpec, list[StagedOutput]],
) -> None:
    spec, (first, second) = staged
    committer, tallies = _driver(spec)
    # the second raw episode is sent first: the committer writes what it is sent, in that order
    committer.accept(_item(spec, 0), Staged("u0", (second,)))
    committer.accept(_item(spec, 1), Staged("u1", (first,)))
    root = spec.output / first.dataset
    eps = _episodes(root)
    assert [e["episode_index"] for e in eps] == [0, 1]
    assert [e["length"] for e in eps] == [second.staged.length, first.staged.length]

    # a staged episode whose features are not its dataset's, twice (one signature)
    odd = _odd(first)
    target = signature_sibling(first.dataset, first.features, odd)
    for n in (2, 3):  # the first raw episode staged again, its features changed
        again = replace(_restaged(spec), features=odd)
        committer.accept(_item(spec, n), Staged(f"u{n}", (again,)))
        assert not again.staged.stage_dir.exists()  # committed from its subset's staging area
    assert list(tallies["agibot"].datasets) == [target] and tallies["agibot"].quarantined == 0
    assert target == f"{first.dataset}@state-other_0-other_1"  # named for what differs, in words (issue 86: a hash)
    committer.close()
    assert len(_episodes(root)) == 2  # the dataset is as it was
    odd_eps = _episodes(spec.output / target)
    assert [e["episode_index"] for e in odd_eps] == [0, 1]
    key = next(k for k in first.features if k.endswith(".native"))
    assert all(key in e["eidata"]["signature_split"] and target in e["eidata"]["signature_split"] for e in odd_eps)


def test_each_episode_is_routed_once_by_the_driver_and_no_staged_folder_moves(
    staged: tuple[JobSpec, list[StagedOutput]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 77: the committer routed each raw episode's group again (by its first episode's features) and moved a
    sibling's staged folder into the sibling's staging area. Now the driver asks `route` once per episode, the
    committer only commits, and no staged folder is renamed. Three raw episodes: two episodes of the subset's
    signature; one of it and one of another; one of that other alone. All five committed in two datasets, route asked
    five times."""
    spec = staged[0].model_copy(update={"output": tmp_path / "out"})
    asked: list[str] = []
    route = routing.route
    monkeypatch.setattr(routing, "route", lambda home, feats, have=None: asked.append(home) or route(home, feats, have))
    renamed: list[str] = []
    for name in ("replace", "rename"):
        real = getattr(os, name)

        def watched(src, dst, *a, _real=real, **k):  # type: ignore[no-untyped-def]
            if os.path.isdir(src) and "staging" in str(src):
                renamed.append(str(src))
            return _real(src, dst, *a, **k)

        monkeypatch.setattr(os, name, watched)
    monkeypatch.setattr(shutil, "move", lambda *a, **k: renamed.append(str(a[0])))
    committer, tallies = _driver(spec)
    a, b, c, d, e = (_restaged(spec) for _ in range(5))
    d, e = (replace(o, features=_odd(o)) for o in (d, e))
    for n, episodes in enumerate([(a, b), (c, d), (e,)]):
        committer.accept(_item(spec, n), Staged(f"u{n}", episodes))
    committer.close()
    assert not renamed, renamed  # no staged folder moved (before: the last raw episode's, into the sibling's area)
    assert len(asked) == 5, asked  # once per episode (before: once per raw episode and dataset, by its first's)
    assert tallies["agibot"].written == 5 and tallies["agibot"].quarantined == 0
    [sibling] = tallies["agibot"].datasets
    assert len(_episodes(spec.output / a.dataset)) == 3 and len(_episodes(spec.output / sibling)) == 2
    assert not any(o.staged.stage_dir.exists() for o in (a, b, c, d, e))


def test_mixed_camera_sizes_lose_nothing_one_dataset_per_size(tmp_path: Path) -> None:
    """Twelve egocentric clips, six at 480x360 and six at 640x360 (one at 25 fps), in discovery order mixed: the
    first committed fixes `default` at 480x360, the 640x360 ones go to `default@640x360` (their lineage says why),
    none is quarantined; the rate needs nothing (every camera at the canonical fps)."""
    sizes = [(360, 480), (360, 640)] * 6
    for k, (h, w) in enumerate(sizes):
        fps = 25 if k == 5 else 30
        write_mp4(tmp_path / f"raw/clip{k:02d}.mp4", (synthetic_frame(h, w, t, k) for t in range(fps + 6)), fps)
    spec = JobSpec.model_validate(
        {
            "output": str(tmp_path / "out"),
            "sources": [{"name": "ego", "adapter": "ego_video", "root": str(tmp_path / "raw")}],
        }
    )
    items, bad = discover(spec)
    assert len(items) == 12 and not bad
    committer, tallies = _driver(spec)
    for item in items:
        result = process_episode(EpisodeTask(item, TaskSettings.of(spec, spec.output)))
        assert isinstance(result, Staged), result
        committer.accept(item, result)
    committer.close()
    assert tallies["ego"].quarantined == 0 and list(tallies["ego"].datasets) == ["datasets/ego/default@640x360"]
    assert "camera size" in tallies["ego"].datasets["datasets/ego/default@640x360"]
    base = spec.output / "datasets/ego"
    assert sorted(p.name for p in base.iterdir()) == ["default", "default@640x360"]
    for name, (size, hw) in {"default": ("480x360", [360, 480]), "default@640x360": ("640x360", [360, 640])}.items():
        info = json.loads((base / name / "meta/info.json").read_text())
        assert info["total_episodes"] == 6 and info["features"]["observation.images.head"]["shape"][:2] == hw
        split = [e["eidata"].get("camera_size_split") for e in _episodes(base / name)]
        assert split == [None] * 6 if name == "default" else all(s and "480x360" in s and size in s for s in split)
        assert not list((base / name / ".eidata/staging").glob("*"))  # every staged episode committed


def test_a_lerobot_dataset_with_an_extra_column_in_some_episodes_loses_none(tmp_path: Path) -> None:
    """Issue 47 applies to every adapter: the real GR00T LeRobot sample (5 episodes, its data and meta, each cut to
    its first 60 rows to keep the test short; no videos, so its camera is a ghost and skipped) with a 3-wide column
    recorded in its last two episodes only (a sensor added midway through a collection). The adapter keeps every
    numeric column as a native, so those two episodes' natives differ: the same committer writes all 5, the two in
    a sibling dataset named for what differs, their lineage saying why, none quarantined."""
    src, root = realdata("gr00t_robot_sim_picknplace"), tmp_path / "lerobot" / "picknplace"
    for part in ("data", "meta"):
        shutil.copytree(src / part, root / part)
    for ep in range(5):  # each cut to its first 3 s (60 rows at 20 Hz; a quirk says the rows differ from meta)
        path = root / f"data/chunk-000/episode_{ep:06d}.parquet"
        table = pq.read_table(path).slice(0, 60)
        if ep < 3:
            pq.write_table(table, path)
            continue
        extra = pa.array([[0.1 * i, 0.0, 1.0] for i in range(table.num_rows)], pa.list_(pa.float64()))
        pq.write_table(table.append_column("observation.extra_sensor", extra), path)
    n, datasets, refused = write_folder(root.parent, tmp_path / "out", adapter="lerobot")
    assert n == 5 and not refused
    assert sum(len(eps) for eps in datasets.values()) == 5  # N recordings in, N episodes out
    [base] = [d for d in datasets if "@" not in d]
    [other] = [d for d in datasets if d != base]
    assert other == base + "@state-extra_sensor" and len(datasets[other]) == 2  # was @state.native<width>~<hash>
    assert [e["eidata"]["raw_id"] for e in datasets[other]] == ["episode_000003", "episode_000004"]
    for line in datasets[other]:
        assert "observation.state.native names other columns" in line["eidata"]["signature_split"] or (
            "observation.state.native float32" in line["eidata"]["signature_split"]
        )
    assert all("signature_split" not in e["eidata"] for e in datasets[base])


# -- the driver's side: how far commits may fall behind (`parallelism.commit_lag`) -----------------------------------


class _GatedCommitter:
    """A committer actor whose commits are answered only once the gate file exists (a slow or starting actor)."""

    def __init__(self, gate: str) -> None:
        self.gate = Path(gate)

    def commit(self, episodes: list[StagedOutput]) -> None:
        while not self.gate.exists():
            time.sleep(0.02)

    def close(self) -> int:
        return 0


@pytest.mark.shared_ray  # tests/ray_scope.py
def test_the_driver_waits_once_commit_lag_raw_episodes_are_unanswered(
    staged: tuple[JobSpec, list[StagedOutput]], tmp_path: Path
) -> None:
    """Review 6: 48 of 81 finished, 0 committed; the driver handed on every result however far the commits fell
    behind (256 calls). Now `accept` returns only while at most `commit_lag` raw episodes are unanswered."""
    import threading

    import ray

    from jobs.ingest.commit import Committer
    from jobs.ingest.quarantine import QuarantineWriter
    from jobs.ingest.task import WorkItem

    spec, outs = staged
    parallelism = spec.parallelism.model_copy(update={"commit_lag": 2})
    spec = spec.model_copy(update={"output": tmp_path, "parallelism": parallelism})  # Ray: the shared one
    gate = tmp_path / "gate"
    committer = Committer(spec, {}, QuarantineWriter(tmp_path))
    committer.actors = [ray.remote(num_cpus=0)(_GatedCommitter).remote(str(gate))]
    committer.route = {outs[0].dataset: 0}
    source = spec.sources[0]
    accepted: list[int] = []

    first = discover(spec)[0][0].ref

    def hand_on() -> None:
        for n in range(5):
            ref = first.model_copy(update={"raw_id": f"r{n}"})
            committer.accept(WorkItem(n, source, ref), Staged(f"u{n}", (outs[0],)))
            accepted.append(n)

    thread = threading.Thread(target=hand_on, daemon=True)
    thread.start()
    deadline = time.monotonic() + 240  # the state is awaited, not a time: a bound on a hang only
    while committer.unanswered < 3 and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    thread.join(timeout=1)  # a driver that did not wait would hand on the third by now (the gate stays shut)
    assert thread.is_alive() and committer.unanswered == 3 and accepted == [0, 1], "the third waits: 3 > 2 unanswered"
    gate.touch()
    thread.join(timeout=240)  # a bound on a hang only: the actor may start minutes late on a loaded machine
    assert accepted == [0, 1, 2, 3, 4] and committer.unanswered <= 2
    committer._reap(everything=True)
    assert committer.unanswered == 0 and committer.saved == 5
