"""A committer's writers (`jobs.ingest.commit.DatasetCommitter`) in this process, on raw episodes the worker staged
from the demo's AgiBot source: episodes commit in the order they are sent, indices from 0 with nothing skipped, and an
episode whose features differ from its dataset's is refused as a value (`CommitFailed` naming the dataset), its
staging removed, the dataset untouched; clips of two camera sizes go to one dataset per size, none lost."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.synthetic.video import synthetic_frame, write_mp4
from ingest.storage.corpus import Corpus
from jobs.demo.corpus import write_raw_corpus
from jobs.ingest.commit import CommitFailed, DatasetCommitter, size_sibling
from jobs.ingest.task import EpisodeTask, Staged, StagedOutput, TaskSettings
from jobs.ingest.worker import process_episode
from jobs.spec_models import JobSpec
from schemas.lerobot import EPISODES_PATH, FeatureSpec
from tests.fixtures.discovery import discover


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[JobSpec, list[StagedOutput]]:
    tmp = tmp_path_factory.mktemp("commit")
    raw = write_raw_corpus(tmp / "raw", sources=("agibot",))
    spec = JobSpec.model_validate(
        {"output": str(tmp / "out"), "sources": [{"name": "agibot", "adapter": "agibot", "root": str(raw["agibot"])}]}
    )
    items, _ = discover(spec)
    results = [process_episode(EpisodeTask(it, TaskSettings.of(spec))) for it in items]
    outs = [ep for r in results if isinstance(r, Staged) for ep in r.episodes]
    assert len(outs) == 2  # the demo's third AgiBot episode is broken on purpose (rejected by the worker)
    return spec, outs


def _episodes(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / EPISODES_PATH).read_text().splitlines()]


def test_episodes_commit_in_the_order_sent_and_a_mismatch_is_refused_as_a_value(
    staged: tuple[JobSpec, list[StagedOutput]],
) -> None:
    spec, (first, second) = staged
    committer = DatasetCommitter(Corpus(spec.output), spec.codec)
    # the second raw episode is sent first: the committer writes what it is sent, in that order
    assert committer.commit([second]) is None
    assert committer.commit([first]) is None
    root = spec.output / first.dataset
    eps = _episodes(root)
    assert [e["episode_index"] for e in eps] == [0, 1]
    assert [e["length"] for e in eps] == [second.staged.length, first.staged.length]

    # a staged episode whose features are not its dataset's: one feature's shape changed
    key = next(k for k, f in first.features.items() if f.dtype != "video")
    feat = first.features[key]
    odd = {**first.features, key: feat.model_copy(update={"shape": (feat.shape[0] + 1, *feat.shape[1:])})}
    stage = spec.output / first.dataset / "odd-stage"
    stage.mkdir()
    failed = committer.commit(
        [replace(first, features=odd, staged=first.staged.model_copy(update={"stage_dir": stage}))]
    )
    assert isinstance(failed, CommitFailed) and failed.error_class == "DatasetError"
    assert first.dataset in failed.message and "features differ" in failed.message
    assert not stage.exists()  # its staging is removed: nothing half-written remains
    assert committer.close() == 1
    assert len(_episodes(root)) == 2  # the dataset is as it was


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
    committer = DatasetCommitter(Corpus(spec.output), spec.codec)
    for item in items:
        result = process_episode(EpisodeTask(item, TaskSettings.of(spec)))
        assert isinstance(result, Staged), result
        assert committer.commit(list(result.episodes)) is None
    committer.close()
    base = spec.output / "datasets/ego"
    assert sorted(p.name for p in base.iterdir()) == ["default", "default@640x360"]
    for name, (size, hw) in {"default": ("480x360", [360, 480]), "default@640x360": ("640x360", [360, 640])}.items():
        info = json.loads((base / name / "meta/info.json").read_text())
        assert info["total_episodes"] == 6 and info["features"]["observation.images.head"]["shape"][:2] == hw
        split = [e["eidata"].get("camera_size_split") for e in _episodes(base / name)]
        assert split == [None] * 6 if name == "default" else all(s and "480x360" in s and size in s for s in split)
        assert not list((base / name / ".eidata/staging").glob("*"))  # every staged episode committed
    assert size_sibling("d", {"a": _video(2, 2)}, {"a": _video(2, 4)}) == "d@4x2"
    assert size_sibling("d", {"a": _video(2, 2)}, {"a": _video(2, 2), "b": _video(2, 2)}) is None  # not a size


def _video(h: int, w: int) -> FeatureSpec:
    return FeatureSpec(dtype="video", shape=(h, w, 3), names=["height", "width", "channels"])
