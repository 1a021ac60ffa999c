"""`ingest.canonical.store`: a camera's intrinsics ride from the adapter into `info.json` (the camera feature's info,
beside the `video.*` keys the writer probes), survive a reopened writer, and the real lerobot 0.3.3 still loads the
dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.registry import get_adapter
from adapters.synthetic.egodex import EgoDexFixture, write_egodex
from ingest.canonical.store import dataset_features
from ingest.episode import CanonicalEpisode
from ingest.lerobot.writer import LeRobotWriter
from schemas.canonical import INTRINSICS_KEY, NATIVE_VALID, STATE_NATIVE, feature_intrinsics, image_key
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.episodes import write_episode
from tests.fixtures.offline import prepared

HEAD = image_key("head")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> EgoDexFixture:
    return write_egodex(tmp_path_factory.mktemp("egodex"), episodes_per_task=1, num_frames=60, old_episode=False)


@pytest.fixture(scope="module")
def episodes(raw: EgoDexFixture) -> list[CanonicalEpisode]:
    adapter = get_adapter("egodex")
    spec = CanonicalizeSpec(min_episode_s=0.3)
    return [ep for ref in adapter.discover(raw.root) for ep in prepared(adapter.read(ref), spec)]


@pytest.fixture(scope="module")
def dataset(episodes: list[CanonicalEpisode], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("canonical") / "egodex"
    first, *rest = episodes
    with LeRobotWriter.create(root, fps=10, features=dataset_features(first), robot_type=first.embodiment) as w:
        write_episode(w, first)
    with LeRobotWriter.create_or_open(root, fps=10, features=dataset_features(first), robot_type="human") as w:
        for ep in rest:  # a second writer on the dataset: the first episode's probe must not have dropped K
            write_episode(w, ep)
    return root


def test_dataset_features_carry_the_source_intrinsics(episodes: list[CanonicalEpisode], raw: EgoDexFixture) -> None:
    want = raw.good[0].intrinsic.astype(np.float64)
    K = feature_intrinsics(dataset_features(episodes[0])[HEAD].info)
    np.testing.assert_allclose(K, want)
    assert dataset_features(episodes[0])["observation.state"].info.get(INTRINSICS_KEY) is None


def test_info_json_keeps_intrinsics_beside_the_probed_video_info(dataset: Path, raw: EgoDexFixture) -> None:
    info = json.loads((dataset / "meta/info.json").read_text())
    assert info["total_episodes"] == len(raw.good) == 2
    head = info["features"][HEAD]["info"]
    assert head["video.height"] == raw.height and head["video.width"] == raw.width
    np.testing.assert_allclose(head[INTRINSICS_KEY], raw.good[0].intrinsic, rtol=1e-6)
    assert next(iter(head)).startswith("video.")  # lerobot's own keys first, as lerobot writes them


def test_a_camera_without_intrinsics_stores_none(episodes: list[CanonicalEpisode]) -> None:
    ep = episodes[0]
    cam = ep.cameras["head"]
    saved, cam.source.intrinsics = cam.source.intrinsics, None
    try:
        assert INTRINSICS_KEY not in (dataset_features(ep)[HEAD].info or {})
    finally:
        cam.source.intrinsics = saved


@pytest.mark.oracle
def test_lerobot_loads_the_dataset_and_sees_the_intrinsics(dataset: Path, run_oracle) -> None:
    out = run_oracle("load", dataset, "--items", "0")
    assert out["num_episodes"] == 2 and out["video_keys"] == [HEAD]
    np.testing.assert_allclose(
        out["features"][HEAD]["info"][INTRINSICS_KEY],
        feature_intrinsics(json.loads((dataset / "meta/info.json").read_text())["features"][HEAD]["info"]),
    )


def test_a_hung_flush_is_written_over_once(
    episodes: list[CanonicalEpisode], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An in-process write has no watchdog: the bounded hang of SVT-AV1 4.1's final flush (seen once in a full CI run)
    writes the episode once more from its source instead of failing it, and the dataset holds it once."""
    import threading

    from ingest.lerobot import video

    monkeypatch.setattr(video, "WAIT_BASE_S", 2.0)
    release, drains = threading.Event(), []
    drain = video.VideoEncoder._drain

    def first_hangs(self: video.VideoEncoder) -> None:
        drains.append(self.path.name)
        if len(drains) == 1:
            release.wait(60.0)  # as the real hang: a blocked C call; ended when the test is over
        drain(self)

    monkeypatch.setattr(video.VideoEncoder, "_drain", first_hangs)
    ep = episodes[0]
    root = tmp_path / "egodex"
    try:
        with LeRobotWriter.create(root, fps=10, features=dataset_features(ep), robot_type=ep.embodiment) as w:
            entry, _ = write_episode(w, ep)
    finally:
        release.set()
    info = json.loads((root / "meta/info.json").read_text())
    assert entry.length == ep.num_frames and info["total_episodes"] == 1
    assert len(drains) > len(ep.cameras) and not list(root.glob("**/staging*/*"))


def test_each_native_is_written_with_its_validity_mask(dataset: Path, episodes: list[CanonicalEpisode]) -> None:
    """Issue 47: beside each native vector its mask (`NATIVE_VALID`), float32 of the native's width and names, in
    info.json and the episodes' stats, 1 where the column's stream has a sample at the frame."""
    info = json.loads((dataset / "meta/info.json").read_text())["features"]
    stats = json.loads((dataset / "meta/episodes_stats.jsonl").read_text().splitlines()[0])["stats"]
    assert STATE_NATIVE in info  # the EgoDex natives: transforms throughout each clip
    for native, mask in NATIVE_VALID.items():
        if native not in info:
            continue
        assert info[mask]["dtype"] == "float32" and info[mask]["shape"] == info[native]["shape"]
        assert info[mask]["names"] == info[native]["names"] and info[mask]["info"]["mask_of"] == native
        assert mask in stats and stats[mask]["min"] == [1.0] * info[native]["shape"][0]  # present throughout
    assert all(
        ep.natives.state_valid is not None and ep.natives.state_valid.shape == ep.natives.state.shape for ep in episodes
    )
