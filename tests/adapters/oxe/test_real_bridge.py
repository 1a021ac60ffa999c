"""The real Octo debug Bridge sample (`realdata/octo_bridge_debug_rlds`) read by the `oxe` adapter.

Facts from its README: 25 episodes per split, 10 steps each, train and val hold the same 25 episodes, `is_last` and
`is_terminal` never set, `has_image_0..3` all 0 although the image streams carry JPEGs, 64x64 images, four
instructions (8 / 6 / 6 / 5 episodes). Values are checked against a direct parse of the TFRecord bytes with the
protobuf `Example` message, independent of the adapter's code paths.
"""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from adapters.base import EpisodeRef
from adapters.oxe.adapter import OXEAdapter
from adapters.oxe.tfrecord import example_pb2
from adapters.registry import get_adapter
from ingest.frames import rot6d_to_matrix
from schemas.canonical import WRIST_POS, WRIST_ROT6D, Camera, hand_dims
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepared
from tests.realdata import realdata

BUILDER = "octo_bridge_debug_rlds/bridge_dataset/1.0.0"
INSTRUCTIONS = {
    "put carrot on plate": 8,
    "put cup from counter or drying rack into sink": 6,
    "turn lever vertical to front": 6,
    "flip pot upright which is in sink": 5,
}


@pytest.fixture(scope="module")
def root() -> Path:
    return realdata("octo_bridge_debug_rlds")


@pytest.fixture(scope="module")
def refs(root: Path) -> list[EpisodeRef]:
    return list(get_adapter("oxe").discover(root))


def _direct(path: str, offset: int) -> example_pb2.Example:
    """Parse one record by hand: uint64 length at `offset`, payload after the 4-byte length CRC."""
    with open(path, "rb") as f:
        f.seek(offset)
        (length,) = struct.unpack("<Q", f.read(8))
        f.read(4)
        ex = example_pb2.Example()
        ex.ParseFromString(f.read(length))
    return ex


def test_discovery_finds_25_distinct_episodes_and_says_the_copied_split_once(
    root: Path, refs: list[EpisodeRef]
) -> None:
    """The val split holds train's 25 episodes: one finding (issue 50 item 4: it was 25 quarantine rows)."""
    assert len(refs) == 25 and all(r.error is None for r in refs)
    assert [r.raw_id for r in refs] == [f"train/00000/{i:06d}" for i in range(25)]
    assert all(r.subset == "bridge_dataset" and r.uid.startswith("oxe/bridge_dataset/") for r in refs)
    assert len({(r.locator["file_path"], r.locator["episode_id"]) for r in refs}) == 25
    assert all(r.locator["num_steps"] == 10 for r in refs)
    adapter = get_adapter("oxe")
    list(adapter.discover(root))
    [said] = [f for f in adapter.findings() if f.code == "duplicate_split"]
    assert said.message.startswith("split val is a copy of split train: each of its 25 episodes equals one there")
    assert sorted(said.episodes or ()) == [f"val/00000/{i:06d}" for i in range(25)]
    assert len(list(get_adapter("oxe", {"duplicates": "keep"}).discover(root))) == 50  # 'keep' reads both splits


def test_duplicates_skip_mode(root: Path) -> None:
    a = get_adapter("oxe", {"duplicates": "skip"})
    assert isinstance(a, OXEAdapter)
    refs = list(a.discover(root))
    assert len(refs) == 25 and all(r.error is None for r in refs)
    assert len(a.duplicates) == 25 and {d["raw_id"].split("/")[0] for d in a.duplicates} == {"val"}
    [skipped] = a.findings()  # skipped, and said so (the job's summary, the catalog's source_findings)
    assert (skipped.code, skipped.subset, len(skipped.episodes or ())) == ("duplicates_skipped", "bridge_dataset", 25)
    assert skipped.message.startswith("25 episodes skipped as copies of earlier ones (duplicates: skip): val/")


def test_every_episode_matches_a_direct_protobuf_parse(refs: list[EpisodeRef]) -> None:
    a = get_adapter("oxe")
    texts = Counter()
    for ref in (r for r in refs if r.error is None):
        ep = a.read(ref)
        ex = _direct(ref.paths[0], ref.locator["offset"]).features.feature
        state = np.asarray(ex["steps/observation/state"].float_list.value, np.float32).reshape(10, 7)
        action = np.asarray(ex["steps/action"].float_list.value, np.float32).reshape(10, 7)
        got_state = np.concatenate(
            [ep.states[f"observation/state:{p}"].values for p in ("eef_xyz", "eef_rpy", "gripper")], axis=1
        )
        got_action = np.concatenate(
            [ep.actions[f"action:{p}"].values for p in ("delta_xyz", "delta_rpy", "gripper")], axis=1
        )
        assert got_state.shape == (10, 7) and got_action.shape == (10, 7) and got_state.dtype == np.float32
        assert np.array_equal(got_state, state) and np.array_equal(got_action, action)
        assert np.array_equal(got_state[0], state[0]) and np.array_equal(got_action[0], action[0])
        assert ep.states["observation/state:eef_xyz"].unit == "m"
        assert ep.states["observation/state:eef_xyz"].frame == "robot_base"
        assert np.allclose(ep.states["observation/state:gripper"].timestamps, np.arange(10) / 5.0)
        text = ex["steps/language_instruction"].bytes_list.value[0].decode()
        assert [(lang.text, lang.start_s, lang.end_s) for lang in ep.language] == [(text, None, None)]
        texts[text] += 1
        assert ep.metadata["rlds"] == {"num_steps": 10, "is_last_missing": True, "is_terminal": False}
        meta = ep.metadata["episode_metadata"]
        assert all(meta[f"episode_metadata/has_image_{i}"] is False for i in range(4))  # the wrong flags
        assert meta["episode_metadata/file_path"] == ref.locator["file_path"]
        assert meta["episode_metadata/episode_id"] == ex["episode_metadata/episode_id"].int64_list.value[0]
        assert (ep.embodiment, ep.tier, ep.native_fps, ep.robot_type) == ("widowx", QualityTier.high, 5.0, "widowx_250")
        assert ep.duration_s == pytest.approx(9 / 5)
    assert texts == Counter(INSTRUCTIONS)


def test_images_decode_to_64x64_and_image_3_is_a_blank_dummy(refs: list[EpisodeRef]) -> None:
    a = get_adapter("oxe")
    ref = refs[3]
    ep = a.read(ref)
    # has_image_* say no camera, yet three cameras carry real frames; image_3 is all black: left out
    assert sorted(ep.cameras) == ["image_0", "image_1", "image_2"]
    assert "observation/image_3" in ep.metadata["absent_cameras"]
    assert ep.cameras["image_0"].canonical is Camera.third_person and ep.cameras["image_1"].canonical is None
    ex = _direct(ref.paths[0], ref.locator["offset"]).features.feature
    for name, cam in ep.cameras.items():
        assert (len(cam), cam.height, cam.width) == (10, 64, 64)
        frames = dict(cam.frames())
        assert sorted(frames) == list(range(10))
        for i in (0, 9):
            jpeg = ex[f"steps/observation/{name}"].bytes_list.value[i]
            direct = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            assert frames[i].shape == (64, 64, 3) and frames[i].dtype == np.uint8
            assert np.array_equal(frames[i], direct)
            assert frames[i].std() > 20  # real scene content
    blank = ex["steps/observation/image_3"].bytes_list.value[0]
    assert cv2.imdecode(np.frombuffer(blank, np.uint8), cv2.IMREAD_COLOR).max() == 0


def test_discovery_is_stable_and_cheap(root: Path, refs: list[EpisodeRef]) -> None:
    again = list(get_adapter("oxe").discover(root))
    assert [(r.raw_id, r.error, r.locator) for r in again] == [(r.raw_id, r.error, r.locator) for r in refs]
    assert [r.sort_key for r in refs] == sorted(r.sort_key for r in refs)
    assert [r.raw_id for r in get_adapter("oxe", {"max_episodes": 3}).discover(root)] == [r.raw_id for r in refs[:3]]
    # the builder directory itself, or the dataset directory, work as roots too
    assert len(list(get_adapter("oxe").discover(root / BUILDER.split("/", 1)[1]))) == 25
    assert len(list(get_adapter("oxe").discover(root / "bridge_dataset"))) == 25


def test_canonical_wrist_points_down_and_sits_behind_the_tcp(refs: list[EpisodeRef]) -> None:
    """Bridge grasps are top-down: the canonical approach axis (wrist z) points down, and the wrist is the WidowX
    flange, 0.093575 m behind the recorded TCP along that axis (above it). The state's Euler angles are relative to
    bridge_data_robot's top-down DEFAULT_ROTATION, and the real builder is named `bridge_dataset`, not `bridge`."""
    a = get_adapter("oxe")
    approach_z, lift, gap = [], [], []
    for ref in (r for r in refs if r.error is None):
        raw = a.read(ref)
        [ep] = prepared(raw)
        tcp_raw = raw.states["observation/state:eef_xyz"]
        tcp = np.column_stack([np.interp(ep.timestamps, tcp_raw.timestamps, c) for c in tcp_raw.values.T])
        wrist = ep.state[:, hand_dims(1, WRIST_POS)]
        rot = rot6d_to_matrix(ep.state[:, hand_dims(1, WRIST_ROT6D)])
        approach_z += rot[:, 2, 2].tolist()
        lift += (wrist[:, 2] - tcp[:, 2]).tolist()
        gap += np.linalg.norm(wrist - tcp, axis=1).tolist()
        assert "records the TCP" in ep.eef_offset, ep.eef_offset
    assert len(approach_z) > 400
    assert np.median(approach_z) < -0.7 and np.mean(np.asarray(approach_z) < -0.7) > 0.9
    np.testing.assert_allclose(gap, 0.093575, atol=2e-4)  # a rigid offset (float32 state)
    assert np.median(lift) > 0.07  # fingertips below the wrist
