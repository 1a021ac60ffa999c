"""HOT3D: conventions checked on numbers of the maker's real sample, the files read as the maker reads them, UmeTrack
and MANO hands, bad sequences, the canonical geometry on both headsets (hands ahead, below the eyes, left on the left,
human size, the table's objects at one height along the canonical up), which reading Quest 3's Y-up world as Z-up
breaks. Each headset's world on the real samples' numbers: Aria's is Z-up, Quest 3's Y-up; the table's objects share one
height along the declared up and no other, the Quest 3 wrists come out in front, the left on the left; a headset the
maker does not record with is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.aria import se3_from_wxyz
from adapters.base import AdapterError, RawEpisode
from adapters.hot3d import adapter as hot3d_adapter
from adapters.hot3d.adapter import WORLD_UP, Hot3DAdapter, headset_kind
from adapters.registry import get_adapter
from adapters.synthetic.hot3d import Hot3DFixture, write_hot3d
from ingest.canonical.decouple import FORWARD_AXIS, gravity_aligned_frame
from ingest.canonical.mano.evaluate import mano_hands
from ingest.episode import CanonicalEpisode
from schemas.canonical import MANO21_NAMES, WRIST_POS, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.corrupt import HOT3D_BAD_CASES, write_hot3d_bad
from tests.fixtures.mano import write_mano_npz
from tests.fixtures.offline import prepared
from tests.fixtures.writers.hot3d import unseen

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
    return write_hot3d_bad(tmp_path_factory.mktemp("hot3d"), HOT3D_BAD_CASES)


def test_discovery_names_the_headset_subsets(fixture: Hot3DFixture) -> None:
    refs = list(get_adapter("hot3d").discover(fixture.root))
    assert [(r.subset, r.raw_id) for r in refs] == sorted((s.headset.lower(), s.raw_id) for s in fixture.sequences)
    assert all(r.error is None for r in refs)


def test_a_folder_without_hot3d_ground_truth_is_a_finding_not_a_silence(tmp_path: Path) -> None:
    """A real Aria recording that is no HOT3D sequence (metadata.json beside its VRS, no ground truth) is skipped
    with a finding naming it and what it holds; an MPS output's metadata.json inside a sequence is not one."""
    fixture = write_hot3d(tmp_path / "root", frames=6, quest=False)
    other = tmp_path / "root/aria_everyday/loc1_script1_seq1"
    other.mkdir(parents=True)
    (other / "metadata.json").write_text('{"device_serial": "1WM103600M1292"}')
    (other / "recording.vrs").write_bytes(b"VRS")
    mps = fixture.root / fixture.sequences[0].raw_id / "mps/eye_gaze"
    mps.mkdir(parents=True)
    (mps / "metadata.json").write_text("{}")
    adapter = Hot3DAdapter()
    refs = list(adapter.discover(fixture.root))
    assert [r.raw_id for r in refs] == [fixture.sequences[0].raw_id]
    [skipped] = adapter.findings()
    assert (skipped.code, skipped.path, skipped.severity) == ("folder_skipped", str(other), "warning")
    assert skipped.message.startswith("aria_everyday/loc1_script1_seq1: metadata.json but none of")
    assert "(a VRS recording without HOT3D ground truth)" in skipped.message and "recording.vrs" in skipped.message


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
        every = seq.per_frame  # Aria: two stamps per frame; Quest 3: one
        np.testing.assert_allclose(cam.values[::every], seq.world_from_camera, atol=1e-9)
        for hand, side in enumerate(("left", "right")):
            kp = raw.states[f"mano21_keypoints/{side}"].values
            np.testing.assert_allclose(kp[::every, WRIST], seq.wrists[hand][:, :3, 3], atol=1e-9)
            bones = np.linalg.norm(kp[:, 1:] - kp[:, [0]], axis=-1)
            assert bones.std(axis=0).max() < 0.02  # rigid-ish hand while fingers flex
        assert raw.hands.up_world.tolist() == seq.up.tolist() and raw.hands.camera_convention == "opencv"
        for uid, true in seq.objects.items():
            np.testing.assert_allclose(raw.states[f"objects/{uid}"].values[:, :3, 3], true, atol=1e-12)


def test_mano_hands_through_the_mano_path(fixture: Hot3DFixture, tmp_path: Path) -> None:
    write_mano_npz(tmp_path / "mano")
    seq = fixture.good[0]
    ref = next(r for r in Hot3DAdapter().discover(fixture.root) if r.raw_id == seq.raw_id)
    raw = Hot3DAdapter({"mano_model_dir": str(tmp_path / "mano")}).read(ref)
    assert raw.metadata["hands_from"] == "mano"
    # the adapter declares the MANO parameters; canonicalization evaluates them (no model run in the adapter)
    assert all(t.mano is not None and t.keypoints is None for t in raw.hands.hands.values())
    hands = mano_hands(raw).hands
    ume = Hot3DAdapter().read(ref)
    for hand, side in enumerate(("left", "right")):
        mano_kp, ume_kp = hands[hand].keypoints.values, ume.states[f"mano21_keypoints/{side}"].values  # type: ignore[union-attr]
        assert np.linalg.norm(mano_kp[:, WRIST] - ume_kp[:, WRIST], axis=-1).max() < 0.03  # same hand, MANO shape
        span = np.linalg.norm(mano_kp[:, MIDDLE_TIP] - mano_kp[:, WRIST], axis=-1)
        assert ((span > 0.12) & (span < 0.22)).all()
    with pytest.raises(AdapterError, match="no mano_model_dir"):
        Hot3DAdapter({"hands_from": "mano"}).read(ref)


def _canonical(root: Path, raw_ids: set[str]) -> list[tuple[RawEpisode, CanonicalEpisode]]:
    adapter = get_adapter("hot3d")
    raws = [adapter.read(ref) for ref in adapter.discover(root) if ref.raw_id in raw_ids]
    return [(raw, ep) for raw in raws for ep in prepared(raw, CanonicalizeSpec())]


@pytest.fixture(scope="module")
def canonical(fixture: Hot3DFixture) -> list[tuple[RawEpisode, CanonicalEpisode]]:
    return _canonical(fixture.root, {s.raw_id for s in fixture.good})


def physical_violations(raw: RawEpisode, ep: CanonicalEpisode) -> list[str]:
    """What is physically wrong in a canonical HOT3D episode: hands not in front of the headset that films them or not
    below its eyes, the left hand not on the left, hands not human-sized, the table's objects not at one height along
    the canonical up or above the hands (heights relative to the first camera, as the canonical frame's origin)."""
    out = []
    eyes = ep.natives.state[:, ep.natives.state_names.index("camera.z")]
    wrists = {h: ep.state[:, hand_dims(h, WRIST_POS)] for h in (0, 1)}
    for hand, w in wrists.items():
        if not np.median(w[:, 0]) > 0.05:
            out.append(f"hand {hand} not in front: {np.median(w[:, 0]):.2f} m ahead")
        if not (w[:, 2] < eyes - 0.15).all():
            out.append(f"hand {hand} not below the eyes")
    if not (np.median(wrists[0][:, 1]) > np.median(wrists[1][:, 1]) and ep.qa.left_of_right == 1.0):
        out.append(f"left hand not left of the right one (QA left_of_right {ep.qa.left_of_right})")
    if not (0.15 < ep.qa.hand_length < 0.22 and ep.qa.bone_length_cv < 0.05):
        out.append(f"hand not human-sized: {ep.qa.hand_length:.3f} m")
    cam0 = next(iter(raw.camera_poses.values())).values[0, :3, 3]
    objects = np.stack([raw.states[f"objects/{uid}"].values[:, :3, 3] for uid in raw.metadata["objects"]], axis=1)
    heights = (objects - cam0) @ raw.hands.up_world  # (T, objects) along the canonical up
    spread = float((heights.max(axis=1) - heights.min(axis=1)).max())
    if spread > 0.1:
        out.append(f"objects not at one height along the canonical up: {spread:.2f} m apart")
    if np.median(heights) > min(np.median(w[:, 2]) for w in wrists.values()) + 0.05:
        out.append("the table's objects above the hands")
    return out


def test_canonical_hands_ahead_below_the_eyes_left_on_the_left_human_sized(
    canonical: list[tuple[RawEpisode, CanonicalEpisode]],
) -> None:
    assert sorted(raw.metadata["headset"] for raw, _ in canonical) == ["Aria", "Quest3"]
    for raw, ep in canonical:
        assert physical_violations(raw, ep) == [], ep.uid


def test_quest3_read_as_z_up_breaks_the_invariants(fixture: Hot3DFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(hot3d_adapter.WORLD_UP, "quest3", hot3d_adapter.WORLD_UP["aria"])
    (raw, ep), *_ = _canonical(fixture.root, {s.raw_id for s in fixture.good if s.headset == "Quest3"})
    found = physical_violations(raw, ep)
    assert any("left hand not left" in v for v in found) and any("not at one height" in v for v in found), found


# facebookresearch/hot3d hot3d/data_loaders/tests/data_sample/, first timestamp of each sample: dynamic_objects.csv
# t_wo of the six objects (commit eb3413ff), headset_trajectory.csv t_wo (commit 322bbffc)
REAL_OBJECTS = {
    "Aria": ((-0.1316392695967966, -0.0221119195517658, -0.4306959342774656),
             (-0.1978888770649568, -0.186251511715335, -0.4162614495613185),
             (-0.0653746268792049, -0.1622062745070008, -0.3306255158867771),
             (-0.3363547908227394, -0.2606048576580702, -0.3891959245100005),
             (-0.4204723895305361, -0.1510038494868436, -0.4237247569789579),
             (-0.2705201116083246, 0.0942888395758195, -0.408175549771675)),
    "Quest3": ((-0.2398117437530548, 0.731738851708539, -0.2668892691211174),
               (0.0949329075629214, 0.7181370923639753, -0.5339562221777642),
               (0.2290927770604534, 0.7218466525043389, -0.5623583023125276),
               (0.2276835731046791, 0.7686022223752406, -0.4001916052647579),
               (0.2422222559761161, 0.729988931907435, -0.4380059301567447),
               (0.1181436197872359, 0.7478515193401646, -0.3097789008786182)),
}  # fmt: skip


REAL_HEADSET = {"Aria": (0.0648581547977763, 0.0183710906074943, 0.0060656618334766),
                "Quest3": (0.0034970109462738, 1.1696090087890625, -0.0776387786865234)}  # fmt: skip


# Quest3/P0002_273c2819: headset_trajectory.csv q_wo (w x y z), camera_models.json camera-slam-left T_Device_Camera,
# umetrack_hand_pose_trajectory.jsonl wrist t_xyz of hands "0" (left) and "1" (right), all at 43124400000000
QUEST_DEVICE_Q = (0.6316699154608774, -0.334256056968385, 0.6353578507409454, -0.29255154722449)


QUEST_SLAM_LEFT = ((-0.44995020258640295, 0.4002398518639525, -0.5571697905977196, 0.5717645499833561),
                   (0.02676488494873047, -0.1293854675292969, -0.03089171028137207))  # fmt: skip


QUEST_WRISTS = {0: (-0.12991822814941406, 0.7555054931640625, -0.13133995056152345),
                1: (0.18956837463378906, 0.7504779052734375, -0.17308558654785156)}  # fmt: skip


@pytest.mark.parametrize("headset", ["Aria", "Quest3"])
def test_real_table_objects_share_one_height_along_the_declared_up_and_no_other(headset: str) -> None:
    up = WORLD_UP[headset_kind(headset)]
    objects = np.asarray(REAL_OBJECTS[headset])
    spread = objects.max(axis=0) - objects.min(axis=0)  # per world axis, metres
    axis = int(np.argmax(np.abs(up)))
    others = np.delete(spread, axis)
    assert spread[axis] < 0.12 and spread[axis] < 0.4 * others.min(), (headset, spread)  # a table, not a wall
    assert (np.asarray(REAL_HEADSET[headset]) - np.median(objects, axis=0)) @ up > 0.35  # the eyes above the table


def _real_quest_camera() -> np.ndarray:
    device = se3_from_wxyz(np.array([QUEST_DEVICE_Q]), np.array([REAL_HEADSET["Quest3"]]))[0]
    return device @ se3_from_wxyz(np.array([QUEST_SLAM_LEFT[0]]), np.array(QUEST_SLAM_LEFT[1]))[0]


def _in_reference(up: np.ndarray) -> dict[int, np.ndarray]:
    """The real Quest 3 wrists in the canonical reference frame canonicalize builds on `up` (x ahead, y left, z up)."""
    ref = gravity_aligned_frame(_real_quest_camera(), up, FORWARD_AXIS["opencv"])
    return {h: (np.linalg.inv(ref) @ np.append(p, 1.0))[:3] for h, p in QUEST_WRISTS.items()}


def test_real_quest_wrists_in_front_left_on_the_left_below_the_eyes_in_a_y_up_world() -> None:
    cam = _real_quest_camera()
    for p in QUEST_WRISTS.values():
        assert (np.linalg.inv(cam) @ np.append(p, 1.0))[2] > 0.3  # in front of the SLAM camera (metres)
    wrists = _in_reference(WORLD_UP["quest3"])
    assert all(w[0] > 0.05 for w in wrists.values())  # ahead of the wearer
    assert wrists[0][1] > wrists[1][1] + 0.2  # the left wrist on the left, 0.3 m apart
    assert all(-0.45 < w[2] < -0.2 for w in wrists.values())  # at the table, 0.3 m under the eyes
    z_up = _in_reference(WORLD_UP["aria"])  # Aria's convention on Quest 3's numbers mirrors the hands
    assert z_up[0][1] < z_up[1][1]


def test_the_fixture_quest_world_is_the_samples(tmp_path) -> None:
    seq = next(s for s in write_hot3d(tmp_path).good if s.headset == "Quest3")
    adapter = Hot3DAdapter()
    raw = adapter.read(next(r for r in adapter.discover(tmp_path) if r.raw_id == seq.raw_id))
    assert raw.metadata["world_up"] == [0.0, 1.0, 0.0] and raw.hands.up_world.tolist() == [0.0, 1.0, 0.0]
    dev = raw.states["headset/T_world_device"]
    np.testing.assert_allclose(np.diff(dev.timestamps), 1 / 30, atol=1e-9)  # one stamp per frame, as the sample's
    np.testing.assert_allclose(dev.values[0, :3, 3], REAL_HEADSET["Quest3"], atol=1e-12)
    first = np.array([raw.states[f"objects/{uid}"].values[0, :3, 3] for uid in raw.metadata["objects"]])
    assert sorted(map(tuple, first)) == sorted(REAL_OBJECTS["Quest3"])


def test_a_headset_hot3d_does_not_record_with_is_refused(tmp_path) -> None:
    write_hot3d(tmp_path, quest=False)
    meta = next(tmp_path.rglob("metadata.json"))
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "headset": "Quest2"}))
    ref = next(Hot3DAdapter().discover(tmp_path))
    with pytest.raises(AdapterError, match="'Quest2' is not one HOT3D records with") as err:
        Hot3DAdapter().read(ref)
    assert err.value.field == "headset" and err.value.episode == ref.raw_id


def test_a_hand_unseen_for_a_while_leaves_the_other_hand_and_the_sequence_whole(tmp_path: Path) -> None:
    """HOT3D annotates a hand only on the lines it was seen: the left hand left out of frames 20..39 of 60 (0.67 s,
    over `max_gap_s` 0.5) is invalid on the grid frames that land there (0.7..1.3 s) and the sequence stays one
    episode of 2 s, the right hand valid throughout (issue 56 item 6; before, the left hand's hole cut the sequence
    into two parts under `min_episode_s` 1 s and nothing was kept)."""
    fixture = write_hot3d(tmp_path, frames=60, quest=False)
    unseen(fixture.sequences[0], 0, range(20, 40))
    adapter = Hot3DAdapter()
    (ref,) = adapter.discover(fixture.root)
    (ep,) = prepared(adapter.read(ref))
    assert ep.num_frames == 20 and ep.span_s == pytest.approx((0.0, 1.9)) and ep.tier.value == "high"
    assert ep.hand_valid[:, 1].all()
    assert np.flatnonzero(~ep.hand_valid[:, 0]).tolist() == list(range(7, 14))
    assert not ep.keypoints[7:14, 0].any() and np.isfinite(ep.keypoints).all()
