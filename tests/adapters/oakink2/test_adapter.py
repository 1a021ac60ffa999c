"""OakInk2 sequences in the maker's layout (`tests.fixtures.writers.oakink2`, its hands pickled as torch tensors by
torch; no public sample exists under 4 MiB) read by the `oakink2` adapter and canonicalized with the default spec:
the hand invariants (ahead of the wearer, below the eyes, the left hand on the left, human-sized, projecting inside
the egocentric image); the MANO keypoints equal smplx's own layer fed OakInk2's quaternions as manotorch takes them
(`center_idx=0`: joints - wrist + `tsl`), a wrong `flat_hand_mean` misses them; the task and each hand's primitives
(overlapping across hands) kept; and bad input (quaternions written x, y, z, w, a hostile pickle, missing images or
folders, no MANO model) named by file, sequence and field."""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError, RawEpisode
from adapters.registry import get_adapter
from ingest.canonical.mano.evaluate import mano_hands
from ingest.episode import CanonicalEpisode
from ingest.qa.judge import judge_arrays
from schemas.canonical import WRIST_POS, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from schemas.mano import MAKERS
from tests.fixtures.mano import TIPS, smplx_mano_keypoints, write_mano_npz
from tests.fixtures.offline import prepared
from tests.fixtures.writers.oakink2 import CAMERAS, K_EGO, TASK, OakInk2SequenceSpec, write_oakink2

SPEC = OakInk2SequenceSpec()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("oakink2")
    write_mano_npz(base / "mano")
    return write_oakink2(base / "OakInk2", [SPEC])


def _adapter(root: Path, **options: object):
    return get_adapter("oakink2", {"mano_model_dir": str(root.parent / "mano"), **options})


def _raw(root: Path) -> RawEpisode:
    adapter = _adapter(root)
    (ref,) = adapter.discover(root)
    return adapter.read(ref)


@pytest.fixture(scope="module")
def episode(root: Path) -> tuple[RawEpisode, CanonicalEpisode]:
    raw = _raw(root)
    (ep,) = prepared(raw, CanonicalizeSpec())
    return raw, ep


def test_cameras_task_and_each_hands_primitives(episode: tuple[RawEpisode, CanonicalEpisode]) -> None:
    raw, ep = episode
    assert raw.native_fps == 120.0 and ep.num_frames == 17  # 200 mocap frames: 1.66 s at 10 Hz
    assert sorted(raw.cameras) == sorted(CAMERAS.values()) and raw.hands.camera is raw.camera_poses["egocentric"]
    ego = raw.cameras["egocentric"]
    assert (ego.width, ego.height, len(ego)) == (212, 120, 50) and ego.canonical.value == "head"
    np.testing.assert_allclose(ego.intrinsics, K_EGO)
    np.testing.assert_allclose(ego.timestamps, np.arange(0, 200, 4) / 120)  # every fourth mocap frame
    assert raw.cameras["allocentric_top"].canonical.value == "third_person" and "head" in ep.cameras
    assert ep.task == TASK
    segs = [(s.hand, s.start_frame, s.end_frame, s.action_text) for s in raw.action_config]
    assert segs == [
        ("left", 0, 100, "Hold the cup steady."),
        ("right", 20, 140, "Pour tea from the kettle into the cup."),
        ("left", 100, 200, "Put the cup and the kettle down."),
        ("right", 140, 200, "Put the cup and the kettle down."),
    ]  # the hands overlap, each hand's own do not
    assert [(s.hand, s.start_frame, s.end_frame) for s in ep.action_config][:2] == [("left", 0, 8), ("right", 2, 12)]
    assert raw.states["objects/O02@0045@00001"].values.shape == (200, 4, 4)


def test_hands_ahead_below_the_eyes_left_on_the_left_human_sized_inside_the_image(
    episode: tuple[RawEpisode, CanonicalEpisode],
) -> None:
    _, ep = episode
    assert judge_arrays(ep, CanonicalizeSpec()).rejected is None
    qa = ep.qa
    assert qa.hands_in_front == 1.0 and qa.hands_in_image == 1.0 and qa.hands_ahead == 1.0
    assert qa.hands_below_eyes == 1.0 and qa.left_of_right == 1.0
    assert 0.17 < qa.hand_length < 0.21 and qa.bone_length_cv < 0.01
    left, right = ep.state[:, hand_dims(0, WRIST_POS)], ep.state[:, hand_dims(1, WRIST_POS)]
    assert (left[:, 1] > right[:, 1] + 0.1).all() and ep.mask[hand_dims(0, WRIST_POS)].all()


def _expected(raw: RawEpisode, model_dir: Path, side: str) -> np.ndarray:
    """manotorch's recipe (quaternions, center_idx=0, + tsl) on smplx's one-call layer."""
    q = raw.states[f"hand/{side}/pose_coeffs"].values
    aa = Rotation.from_quat(q.reshape(-1, 4), scalar_first=True).as_rotvec().reshape(len(q), 16, 3)
    betas = raw.states[f"hand/{side}/betas"].values
    pose = aa[:, 1:].reshape(len(q), 45)
    kp = smplx_mano_keypoints(side, aa[:, 0], pose, betas, flat_hand_mean=True, tips=TIPS[f"manopth_{side}"])
    return kp - kp[:, :1] + raw.states[f"hand/{side}/wrist"].values[:, None, :3, 3]


def test_mano_keypoints_are_oakink2s_recipe_and_a_wrong_mean_misses(root: Path, monkeypatch) -> None:
    raw = _raw(root)
    model_dir = root.parent / "mano"
    hands = mano_hands(raw).hands
    for hand, side in enumerate(("left", "right")):
        assert np.abs(hands[hand].keypoints.values - _expected(raw, model_dir, side)).max() < 1e-5, side
    monkeypatch.setitem(MAKERS, "oakink2", dataclasses.replace(MAKERS["oakink2"], flat_hand_mean=False))
    wrong = mano_hands(_raw(root)).hands[1].keypoints.values
    assert np.abs(wrong - _expected(raw, model_dir, "right")).max() > 0.01


def test_quaternions_written_scalar_last_are_named(tmp_path: Path) -> None:
    root = write_oakink2(tmp_path / "OakInk2", [dataclasses.replace(SPEC, frames=24, scalar_last=True)])
    write_mano_npz(tmp_path / "mano")
    adapter = _adapter(root)
    (ref,) = adapter.discover(root)
    with pytest.raises(AdapterError, match=r"look x, y, z, w .* writes w first") as e:
        adapter.read(ref)
    assert e.value.field == "raw_mano.lh__pose_coeffs" and e.value.episode == SPEC.token
    assert e.value.file.endswith(f"anno_preview/{SPEC.token}.pkl")


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return os.system, (f"touch {self.marker}",)


def _copy(root: Path, tmp: Path) -> Path:
    shutil.copytree(root, tmp / "OakInk2")
    (tmp / "mano").symlink_to(root.parent / "mano")
    return tmp / "OakInk2"


def test_a_hostile_pickle_is_refused_before_it_runs(root: Path, tmp_path: Path) -> None:
    bad = _copy(root, tmp_path)
    marker = tmp_path / "ran"
    pkl = bad / "anno_preview" / f"{SPEC.token}.pkl"
    pkl.write_bytes(pickle.dumps({"cam_def": _Exploit(marker)}))
    with pytest.raises(AdapterError, match="system") as e:
        _raw(bad)
    assert e.value.file == str(pkl) and e.value.episode == SPEC.token and not marker.exists()


def test_missing_images_and_folders_are_named(root: Path, tmp_path: Path) -> None:
    bad = _copy(root, tmp_path)
    image = bad / "data" / SPEC.token / "0414" / "000040.png"
    image.unlink()
    with pytest.raises(AdapterError, match=r"no image 000040\.png") as e:
        _raw(bad)
    assert e.value.field == "data" and e.value.file == str(image)
    shutil.rmtree(bad / "data" / SPEC.token)
    (ref,) = _adapter(bad).discover(bad)
    assert ref.error is not None and "data/" in ref.error
    with pytest.raises(AdapterError) as e:
        _adapter(bad).read(ref)
    assert e.value.field == "data" and e.value.episode == SPEC.token


def test_without_its_program_the_sequence_is_read_and_says_so(root: Path, tmp_path: Path) -> None:
    bad = _copy(root, tmp_path)
    (bad / "program" / "desc_info" / f"{SPEC.token}.json").unlink()
    raw = _raw(bad)
    assert raw.language == [] and raw.action_config is None and raw.metadata["program"].startswith("none")


def test_no_mano_model_is_named(root: Path) -> None:
    adapter = get_adapter("oakink2")
    (ref,) = adapter.discover(root)
    with pytest.raises(AdapterError, match="mano_model_dir") as e:
        adapter.read(ref)
    assert e.value.field == "mano_model_dir"


def test_a_sequence_annotated_twice_is_read_once_and_the_copy_named(root: Path, tmp_path: Path) -> None:
    bad = _copy(root, tmp_path)
    (bad / "anno").mkdir()
    shutil.copy(bad / "anno_preview" / f"{SPEC.token}.pkl", bad / "anno" / f"{SPEC.token}.pkl")
    adapter = _adapter(bad)
    (ref,) = adapter.discover(bad)
    assert "anno_preview" in ref.paths[0]
    (finding,) = adapter.findings()
    assert finding.code == "duplicate_sequence" and finding.path.endswith(f"anno/{SPEC.token}.pkl")
