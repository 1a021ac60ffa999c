"""HOI4D sequences in the maker's layout (`tests.fixtures.writers.hoi4d`; no public sample under 4 MiB) read by the
`hoi4d` adapter and canonicalized with the default spec: the hand invariants (ahead of the wearer, below the eyes,
the left hand on the left, human-sized, projecting inside the image); the MANO keypoints equal smplx's own layer fed
HOI4D's parameters the way its README feeds manopth, carried by the camera's pose (a wrong `flat_hand_mean` or the
left hand on MANO_RIGHT misses them by centimetres); the task, action segments and objects kept; and bad input
(a hostile pickle, a missing file, a field of the wrong shape, no MANO model) named by file, episode and field."""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

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
from tests.fixtures.writers.hoi4d import Hoi4dSequenceSpec, write_hoi4d

SPECS = [
    Hoi4dSequenceSpec(),
    Hoi4dSequenceSpec("ZY20210800002/H2/C1/N3/S5/s02/T1", jpg_frames=True, mark_result=True, action_clock_s=10.0),
]
SEQ = SPECS[0].seq.replace("/", "-")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_hoi4d(tmp_path_factory.mktemp("hoi4d"), SPECS)
    write_mano_npz(root.parent / "mano")
    return root


def _adapter(root: Path, **options: object):
    return get_adapter("hoi4d", {"mano_model_dir": str(root.parent / "mano"), **options})


def _raw(root: Path, raw_id: str = SEQ, **options: object) -> RawEpisode:
    adapter = _adapter(root, **options)
    (ref,) = [r for r in adapter.discover(root) if r.raw_id == raw_id]
    return adapter.read(ref)


@pytest.fixture(scope="module")
def episodes(root: Path) -> dict[str, tuple[RawEpisode, CanonicalEpisode]]:
    adapter = _adapter(root)
    out = {}
    for ref in adapter.discover(root):
        assert ref.error is None, ref.error
        raw = adapter.read(ref)
        (ep,) = prepared(raw, CanonicalizeSpec())
        out[ref.raw_id] = (raw, ep)
    return out


def test_both_layouts_of_video_and_actions_are_read(episodes: dict) -> None:
    assert sorted(episodes) == [SEQ, "ZY20210800002-H2-C1-N3-S5-s02-T1"]
    for raw, ep in episodes.values():
        assert ep.num_frames == 20 and raw.native_fps == 15.0  # 30 frames at 15 fps: 2 s at 10 Hz
        cam = ep.cameras["head"].source
        assert (cam.width, cam.height) == (320, 180)
        np.testing.assert_allclose(cam.intrinsics, [[1000 / 6, 0, 160], [0, 1000 / 6, 90], [0, 0, 1]])
        # the action clock scaled to the video (10 s clock on the second): the cut at 40% of the sequence
        assert [(s.action_text, s.start_frame, s.end_frame) for s in raw.action_config] == [
            ("Reach out", 0, 12),
            ("Pick up", 12, 30),
        ]
    assert episodes[SEQ][1].task == "Bottle: Pour all the water into a mug"  # C5 / T2 of the maker's table
    raw = episodes[SEQ][0]
    assert raw.metadata["objects"] == {"0": "bottle"} and raw.states["objects/0"].values.shape == (30, 4, 4)
    assert raw.states["hand/right/kps2d"].values.shape == (30, 21, 2)  # the maker's projections, kept


def test_hands_ahead_below_the_eyes_left_on_the_left_human_sized_inside_the_image(episodes: dict) -> None:
    for raw_id, (_, ep) in episodes.items():
        assert judge_arrays(ep, CanonicalizeSpec()).rejected is None, raw_id
        qa = ep.qa
        assert qa.hands_in_front == 1.0 and qa.hands_in_image == 1.0 and qa.hands_ahead == 1.0, raw_id
        assert qa.hands_below_eyes == 1.0 and qa.left_of_right == 1.0, raw_id
        assert 0.17 < qa.hand_length < 0.21 and qa.bone_length_cv < 0.01, raw_id
        left, right = ep.state[:, hand_dims(0, WRIST_POS)], ep.state[:, hand_dims(1, WRIST_POS)]
        assert (left[:, 1] > right[:, 1] + 0.1).all()


def _expected(raw: RawEpisode, model_dir: Path, side: str, side_model: str | None = None) -> np.ndarray:
    """HOI4D's README recipe (joints + trans, in the camera) on smplx's layer, then the camera's pose."""
    states = raw.states
    assert (states[f"hand/{side}/annotated"].values == 1).all()
    wrist, pose = states[f"hand/{side}/wrist_camera"].values, states[f"hand/{side}/mano_pose"].values
    from scipy.spatial.transform import Rotation

    orient = Rotation.from_matrix(wrist[:, :3, :3]).as_rotvec()
    beta = states[f"hand/{side}/mano_beta"].values
    model = side_model or side
    tips = TIPS[f"manopth_{model}"]
    kp = smplx_mano_keypoints(model, orient, pose, beta, flat_hand_mean=True, tips=tips, transl=wrist[:, :3, 3])
    cam = raw.hands.camera.values
    return np.einsum("tij,tpj->tpi", cam[:, :3, :3], kp) + cam[:, None, :3, 3]


def test_mano_keypoints_are_hoi4ds_recipe_and_wrong_conventions_miss(root: Path, monkeypatch) -> None:
    raw = _raw(root)
    model_dir = root.parent / "mano"
    hands = mano_hands(raw).hands
    for hand, side in enumerate(("left", "right")):
        got = hands[hand].keypoints.values
        assert np.abs(got - _expected(raw, model_dir, side)).max() < 1e-5, side
    # the left hand read on the right model: far off
    assert np.abs(hands[0].keypoints.values - _expected(raw, model_dir, "left", "right")).max() > 0.05
    # flat_hand_mean wrong: the model's mean pose added to HOI4D's full articulation
    monkeypatch.setitem(MAKERS, "hoi4d", dataclasses.replace(MAKERS["hoi4d"], flat_hand_mean=False))
    wrong = mano_hands(_raw(root)).hands[1].keypoints.values
    assert np.abs(wrong - _expected(raw, model_dir, "right")).max() > 0.01


def test_a_hand_with_poses_on_some_frames_is_nan_elsewhere_and_said(tmp_path: Path) -> None:
    root = write_hoi4d(tmp_path / "hoi4d", [Hoi4dSequenceSpec(hands={"left": (5, 25), "right": (0, 30)})])
    write_mano_npz(tmp_path / "mano")
    raw = _raw(root)
    assert "left hand: poses in 20 of 30 frames, the others NaN (invalid)" in raw.hands.notes
    wrist = raw.hands.hands[0].mano.wrist.values
    assert np.isnan(wrist[:5]).all() and np.isfinite(wrist[5:25]).all() and np.isnan(wrist[25:]).all()
    assert raw.states["hand/left/annotated"].values.sum() == 20 and len(raw.states["hand/left/wrist_camera"]) == 20
    right_only = _raw(root, hands=("right",))
    assert 0 not in right_only.hands.hands and "left hand: not read (option hands)" in right_only.hands.notes


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return os.system, (f"touch {self.marker}",)


def _bad_copy(root: Path, tmp: Path) -> Path:
    import shutil

    shutil.copytree(root, tmp / "hoi4d")
    (tmp / "mano").symlink_to(root.parent / "mano")
    return tmp / "hoi4d"


def test_a_hostile_pickle_is_refused_naming_file_episode_and_field(root: Path, tmp_path: Path) -> None:
    bad = _bad_copy(root, tmp_path)
    marker = tmp_path / "ran"
    frame = bad / "handpose/refinehandpose_right" / SPECS[0].seq / "7.pickle"
    frame.write_bytes(pickle.dumps({"poseCoeff": _Exploit(marker)}, protocol=2))
    with pytest.raises(AdapterError, match=r"system") as e:
        _raw(bad)
    assert e.value.file == str(frame) and e.value.episode == SEQ and e.value.field == "handpose"
    assert not marker.exists()


def test_a_field_of_another_shape_is_named(root: Path, tmp_path: Path) -> None:
    bad = _bad_copy(root, tmp_path)
    frame = bad / "handpose/refinehandpose_left" / SPECS[0].seq / "3.pickle"
    d = pickle.loads(frame.read_bytes())
    frame.write_bytes(pickle.dumps({**d, "poseCoeff": d["poseCoeff"][3:]}, protocol=2))
    with pytest.raises(AdapterError, match=r"'poseCoeff' is \(45,\), expected \(48,\)") as e:
        _raw(bad)
    assert e.value.file == str(frame) and e.value.field == "handpose"


@pytest.mark.parametrize(
    ("missing", "field"),
    [
        (f"HOI4D_annotations/{SPECS[0].seq}/3Dseg/output.log", "camera_poses"),
        ("camera_params/ZY20210800001/intrin.npy", "intrinsics"),
        (f"HOI4D_release/{SPECS[0].seq}/align_rgb/image.mp4", "align_rgb"),
    ],
)
def test_a_missing_file_flags_the_sequence_at_discovery(root: Path, tmp_path: Path, missing: str, field: str) -> None:
    bad = _bad_copy(root, tmp_path)
    (bad / missing).unlink()
    adapter = _adapter(bad)
    ref = next(r for r in adapter.discover(bad) if r.raw_id == SEQ)
    assert ref.error is not None and missing.rsplit("/", 1)[-1].split(".")[0] in ref.error
    with pytest.raises(AdapterError) as e:
        adapter.read(ref)
    assert e.value.field == field and e.value.episode == SEQ
    assert e.value.file.endswith(missing.split("/", 1)[1])  # where it was looked for
    others = [r for r in adapter.discover(bad) if r.raw_id != SEQ]
    assert all(r.error is None for r in others)  # only that sequence


def test_no_mano_model_is_named(root: Path) -> None:
    adapter = get_adapter("hoi4d")
    ref = next(iter(adapter.discover(root)))
    with pytest.raises(AdapterError, match="mano_model_dir") as e:
        adapter.read(ref)
    assert e.value.field == "mano_model_dir"


def test_a_short_camera_trajectory_is_named(root: Path, tmp_path: Path) -> None:
    bad = _bad_copy(root, tmp_path)
    log = bad / "HOI4D_annotations" / SPECS[0].seq / "3Dseg/output.log"
    log.write_text("\n".join(log.read_text().splitlines()[: 5 * 20]) + "\n")  # 20 poses for 30 hand frames
    with pytest.raises(AdapterError, match="frame 20 past the sequence's 20 camera poses") as e:
        _raw(bad)
    assert e.value.field == "handpose"
