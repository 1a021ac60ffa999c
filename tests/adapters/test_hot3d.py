"""HOT3D: conventions checked on numbers of the maker's real sample, the files read as the maker reads them, UmeTrack
and MANO hands, bad sequences, the canonical geometry (hands ahead, below the eyes, left on the left, human size)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.hot3d.adapter import Hot3DAdapter
from adapters.hot3d.files import se3_from_wxyz
from adapters.hot3d.umetrack import UmeTrackProfile, mirror_right
from adapters.registry import get_adapter
from adapters.synthetic.hot3d import BAD_CASES, Hot3DFixture, umetrack_profile, write_hot3d
from ingest.canonical.canonicalize import CanonicalEpisode, CanonicalizeSpec, canonicalize
from schemas.canonical import MANO21_NAMES, WRIST_POS, hand_dims
from tests.fixtures.mano import write_mano_npz

WRIST, MIDDLE_TIP, INDEX_TIP = (MANO21_NAMES.index(n) for n in ("wrist", "middle_tip", "index_tip"))

# facebookresearch/hot3d hot3d/data_loaders/tests/data_sample/Aria/P0003_c701bd11, first timestamp 56752108188860:
# headset_trajectory.csv (t_wo, q_wo w x y z), mps/slam/online_calibration.jsonl camera-rgb T_Device_Camera
# (Translation, UnitQuaternion [w, [x, y, z]]), umetrack_hand_pose_trajectory.jsonl wrist t_xyz of hands "0" and "1"
REAL_DEVICE = ((0.411852458099982, 0.7525190601826829, 0.0297778170072289, -0.5130359621245455),
               (0.0648581547977763, 0.0183710906074943, 0.0060656618334766))  # fmt: skip
REAL_RGB = ((0.9431785122262992, 0.3286754082265991, 0.03767550810144332, 0.031101867965789714),
            (-0.0038260073816772273, -0.01272303558927869, -0.0031469770875251555))  # fmt: skip
REAL_WRISTS = {0: (-0.0063320407766531694, -0.18270445986105133, -0.2788972812028033),
               1: (-0.03699809794843867, 0.13625339804913894, -0.3784855996868497)}  # fmt: skip
UPRIGHT = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # vrs_to_mp4's np.rot90(img, -1)


def _real_camera(order: str = "wxyz") -> np.ndarray:
    def pose(q: tuple[float, ...], t: tuple[float, ...]) -> np.ndarray:
        q = q if order == "wxyz" else (q[3], q[0], q[1], q[2])  # read as if x came first
        return se3_from_wxyz(np.array([q]), np.array(t))[0]

    return pose(*REAL_DEVICE) @ pose(*REAL_RGB)


def test_real_sample_world_is_z_up_and_its_hands_sit_in_front_left_on_the_left() -> None:
    cam = _real_camera()
    in_cam = {h: np.linalg.inv(cam) @ np.append(p, 1.0) for h, p in REAL_WRISTS.items()}
    assert all(v[2] > 0.1 for v in in_cam.values())  # ahead of the RGB camera (metres)
    upright = {h: UPRIGHT @ v[:3] for h, v in in_cam.items()}
    assert upright[0][0] < upright[1][0]  # the left wrist left of the right one in the upright image
    assert all(u[1] > 0 for u in upright.values())  # both below the image centre
    up_in_world = cam[:3, :3] @ (UPRIGHT.T @ np.array([0.0, -1.0, 0.0]))
    assert up_in_world[2] > 0.7  # the upright image's up is the world's +z
    wrong = _real_camera("xyzw")  # the other quaternion order breaks every one of these
    assert not all((np.linalg.inv(wrong) @ np.append(p, 1.0))[2] > 0.1 for p in REAL_WRISTS.values())


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Hot3DFixture:
    return write_hot3d(tmp_path_factory.mktemp("hot3d"), bad=BAD_CASES)


def test_discovery_names_the_headset_subsets(fixture: Hot3DFixture) -> None:
    refs = list(get_adapter("hot3d").discover(fixture.root))
    assert [(r.subset, r.raw_id) for r in refs] == sorted((s.headset.lower(), s.raw_id) for s in fixture.sequences)
    assert all(r.error is None for r in refs)


def test_every_bad_sequence_names_file_episode_and_field(fixture: Hot3DFixture) -> None:
    refs = {r.raw_id: r for r in Hot3DAdapter().discover(fixture.root)}
    expected = {"no_hand_source": ("hands", "mano_model_dir"), "bad_quaternion": ("headset", "quaternion norm 2"),
                "missing_calibration": ("calibration", "online_calibration.jsonl"),
                "bad_hand_line": ("umetrack_hands", "line 4: hand 0: no 'wrist_xform'"),
                "truncated_video": ("video/camera-rgb", "do not cover the ground truth")}  # fmt: skip
    for seq in fixture.sequences:
        if seq.bad is None:
            continue
        field, why = expected[seq.bad]
        with pytest.raises(AdapterError) as err:
            Hot3DAdapter().read(refs[seq.raw_id])
        assert err.value.field == field and why in str(err.value) and err.value.episode == seq.raw_id


def test_umetrack_hands_and_camera_come_out_where_they_were_written(fixture: Hot3DFixture) -> None:
    adapter = Hot3DAdapter()
    for seq in fixture.good:
        ref = next(r for r in adapter.discover(fixture.root) if r.raw_id == seq.raw_id)
        raw = adapter.read(ref)
        assert raw.metadata["hands_from"] == "umetrack" and raw.embodiment == "human"
        cam = next(iter(raw.camera_poses.values()))
        np.testing.assert_allclose(cam.values[::2], seq.world_from_camera, atol=1e-9)  # two stamps per frame
        for hand, side in enumerate(("left", "right")):
            kp = raw.states[f"mano21_keypoints/{side}"].values
            np.testing.assert_allclose(kp[::2, WRIST], seq.wrists[hand][:, :3, 3], atol=1e-9)
            bones = np.linalg.norm(kp[:, 1:] - kp[:, [0]], axis=-1)
            assert bones.std(axis=0).max() < 0.02  # rigid-ish hand while fingers flex
        assert raw.hands.up_world.tolist() == [0.0, 0.0, 1.0] and raw.hands.camera_convention == "opencv"


def test_umetrack_skinning_mirrors_the_right_hand_and_flexes_towards_the_palm() -> None:
    profile = UmeTrackProfile(umetrack_profile()["hand_model"])
    wrist = np.eye(4)[None]
    rest = profile.mano21(np.zeros((1, 20)), wrist)[0]
    right = profile.mano21(np.zeros((1, 20)), mirror_right(wrist))[0]
    np.testing.assert_allclose(right * [-1, 1, 1], rest, atol=1e-12)  # the right hand is the mirror image
    bent = profile.mano21(np.where(np.arange(20) % 4 == 0, 0.0, 0.6)[None], wrist)[0]
    assert bent[INDEX_TIP, 2] < rest[INDEX_TIP, 2] - 0.02  # the palm faces -z: fingertips curl that way
    assert np.linalg.norm(bent[INDEX_TIP] - bent[WRIST]) < np.linalg.norm(rest[INDEX_TIP] - rest[WRIST])


def test_mano_hands_through_the_mano_path(fixture: Hot3DFixture, tmp_path: Path) -> None:
    write_mano_npz(tmp_path / "mano")
    seq = fixture.good[0]
    ref = next(r for r in Hot3DAdapter().discover(fixture.root) if r.raw_id == seq.raw_id)
    raw = Hot3DAdapter({"mano_model_dir": str(tmp_path / "mano")}).read(ref)
    assert raw.metadata["hands_from"] == "mano"
    ume = Hot3DAdapter().read(ref)
    for side in ("left", "right"):
        mano_kp, ume_kp = raw.states[f"mano21_keypoints/{side}"].values, ume.states[f"mano21_keypoints/{side}"].values
        assert np.linalg.norm(mano_kp[:, WRIST] - ume_kp[:, WRIST], axis=-1).max() < 0.03  # same hand, MANO shape
        span = np.linalg.norm(mano_kp[:, MIDDLE_TIP] - mano_kp[:, WRIST], axis=-1)
        assert ((span > 0.12) & (span < 0.22)).all()
    with pytest.raises(AdapterError, match="no mano_model_dir"):
        Hot3DAdapter({"hands_from": "mano"}).read(ref)


@pytest.fixture(scope="module")
def canonical(fixture: Hot3DFixture) -> list[CanonicalEpisode]:
    adapter = get_adapter("hot3d")
    good = {s.raw_id for s in fixture.good}
    refs = [r for r in adapter.discover(fixture.root) if r.raw_id in good]
    return [ep for ref in refs for ep in canonicalize(adapter.read(ref), CanonicalizeSpec())]


def test_canonical_hands_ahead_below_the_eyes_left_on_the_left_human_sized(canonical: list[CanonicalEpisode]) -> None:
    assert len(canonical) == 2
    for ep in canonical:
        eyes = ep.state_native[:, ep.state_native_names.index("camera.z")]
        for hand in (0, 1):
            wrist = ep.state[:, hand_dims(hand, WRIST_POS)]
            assert np.median(wrist[:, 0]) > 0.2 and (wrist[:, 2] < eyes).all(), (ep.uid, hand)
        left, right = (np.median(ep.state[:, hand_dims(h, WRIST_POS)][:, 1]) for h in (0, 1))
        assert left > right
        assert ep.qa is not None and ep.qa.left_of_right == 1.0
        assert 0.15 < ep.qa.hand_length < 0.22 and ep.qa.bone_length_cv < 0.05
