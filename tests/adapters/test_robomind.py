"""RoboMIND adapter: discovery of the release layout, each robot's streams read back as written, cameras decoded in
the maker's channel order, language, and the joint-space robots reaching the canonical hands."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.base import EpisodeRef
from adapters.registry import get_adapter
from adapters.robomind.adapter import RoboMINDAdapter
from adapters.robomind.layouts import ROBOTS
from adapters.synthetic.robomind import RED, EpisodeSpec, WrittenEpisode, default_specs, write_robomind
from ingest.canonical.canonicalize import canonicalize
from ingest.canonical.frames import rot6d_to_matrix
from jobs.qa_findings import findings, summarize
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, Camera, hand_dims
from schemas.qa import QAConfig
from schemas.tiers import QualityTier

N = 40


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, WrittenEpisode]]:
    root = tmp_path_factory.mktemp("robomind")
    specs = [*default_specs(N), EpisodeSpec("ur_1rgb", "bread_in_basket_1", "1014_140258", N, split=None)]
    written = write_robomind(root, specs, instructions={"bread_in_basket_1": "Put bread into the basket"})
    ann = root / "language_description_annotation_json"
    ann.mkdir()
    steps = [{"step_description": "move towards the bread", "start_frame": "camera_top_0000.jpg",
              "end_frame": "camera_top_0009.jpg"},
             {"step_description": "grab the bread", "start_frame": "camera_top_0012.jpg",
              "end_frame": "camera_top_0030.jpg"}]  # fmt: skip
    (ann / "h5_ur_1rgb.json").write_text(
        json.dumps(
            [
                {
                    "id": "h5_ur_1rgb/bread_in_basket_1/success_episodes/1014_140258/data",
                    "response": {"task_summary": "Take the bread away", "steps": steps},
                }
            ]
        )
    )
    return root, written


def _refs(root: Path, **options: object) -> list[EpisodeRef]:
    return list(RoboMINDAdapter(options).discover(root))


def _ref(root: Path, robot: str, **options: object) -> EpisodeRef:
    return next(r for r in _refs(root, **options) if r.subset == robot)


def test_registered_by_name() -> None:
    assert isinstance(get_adapter("robomind"), RoboMINDAdapter)


def test_discovery_walks_robots_tasks_splits_in_order(release: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root, written = release
    refs = _refs(root)
    assert sorted(r.raw_id for r in refs) == sorted(written)
    assert [r.subset for r in refs] == sorted(r.subset for r in refs)  # h5_ folders in name order
    assert all(r.error is None and r.source == "robomind" for r in refs)
    unsplit = next(r for r in refs if r.raw_id.startswith("bread_in_basket_1/"))
    assert unsplit.raw_id == "bread_in_basket_1/unsplit/1014_140258" and unsplit.subset == "ur_1rgb"
    assert unsplit.uid == "robomind/ur_1rgb/bread_in_basket_1/unsplit/1014_140258"
    assert unsplit.paths == (str(written[unsplit.raw_id].path.resolve()),)
    assert [r.raw_id for r in _refs(root, robots=["franka_3rgb"], splits=["val"])] == [
        "task_franka_3rgb/val/1014_151731"
    ]
    assert len(_refs(root, max_episodes=3)) == 3
    assert _refs(root) == refs  # stable
    # a root one level up (a benchmark folder above the h5_ folders) or the h5_ folder itself
    assert [r.raw_id for r in _refs(root / "h5_ur_1rgb")] == [r.raw_id for r in refs if r.subset == "ur_1rgb"]


def test_a_benchmark_level_is_part_of_the_raw_id(tmp_path: Path) -> None:
    write_robomind(tmp_path, [EpisodeSpec("franka_1rgb", "bread_on_table", "1023_101644", 8, benchmark="benchmark1_1")])
    [ref] = _refs(tmp_path)
    assert ref.raw_id == "benchmark1_1/bread_on_table/train/1023_101644" and ref.subset == "franka_1rgb"


def test_discovery_opens_no_hdf5(release: tuple[Path, dict[str, WrittenEpisode]], monkeypatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("discovery must not open HDF5 files")

    monkeypatch.setattr(h5py, "File", forbidden)
    assert len(_refs(release[0])) == len(release[1])


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_every_vector_reads_back_as_written(release: tuple[Path, dict[str, WrittenEpisode]], robot: str) -> None:
    root, written = release
    ref = _ref(root, robot)
    raw = RoboMINDAdapter().read(ref)
    layout = ROBOTS[robot]
    w = written[ref.raw_id]
    assert raw.robot_type == layout.robot_type and raw.embodiment == layout.embodiment
    assert raw.native_fps == 30.0 and raw.success is True
    for path, values in w.joints.items():
        group = raw.states if path.startswith("puppet/") else raw.actions
        s = group[path.replace("/", ".")]
        np.testing.assert_array_equal(s.values, values)
        np.testing.assert_allclose(s.timestamps, np.arange(N) / 30.0)
        assert s.names is None or len(s.names) == values.shape[1]
    assert set(raw.states) == {p.replace("/", ".") for p in w.joints if p.startswith("puppet/")}
    assert raw.metadata["attrs"] == {"compress": True, "sim": False}
    assert set(raw.metadata["depth"]) == set(layout.cameras)
    assert {k: c.canonical for k, c in raw.cameras.items()} == layout.cameras


def test_column_names_per_robot(release: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root = release[0]
    franka = RoboMINDAdapter().read(_ref(root, "franka_3rgb")).states
    assert franka["puppet.joint_position"].names == (*(f"joint{i}" for i in range(1, 8)), "gripper")
    assert franka["puppet.end_effector"].names == ("x", "y", "z", "roll", "pitch", "yaw")
    agilex = RoboMINDAdapter().read(_ref(root, "agilex_3rgb")).states
    assert agilex["puppet.joint_position_right"].names[0] == "right_joint1"
    assert agilex["puppet.joint_velocity_left"].names[-1] == "left_gripper.vel"  # never taken for a position
    ur = RoboMINDAdapter().read(_ref(root, "ur_1rgb")).states["puppet.joint_position"]
    assert ur.names[:2] == ("shoulder_pan_joint", "shoulder_lift_joint") and ur.values.shape[1] == 7


@pytest.mark.parametrize("robot", ["franka_3rgb", "ur_1rgb", "agilex_3rgb", "tienkung_xsens_1rgb"])
def test_frames_decode_in_true_colour(release: tuple[Path, dict[str, WrittenEpisode]], robot: str) -> None:
    """The patch written red comes back red whichever channel order the release stores (a swap makes it blue)."""
    raw = RoboMINDAdapter().read(_ref(release[0], robot))
    for cam in raw.cameras.values():
        frames = list(cam.frames([0, N - 1]))
        assert [i for i, _ in frames] == [0, N - 1]
        for _, img in frames:
            assert img.shape == (48, 64, 3) and img.dtype == np.uint8
            patch = img[2:10, 2:14].reshape(-1, 3).mean(axis=0)
            assert np.abs(patch - RED).max() < 12, patch


def test_raw_buffers_and_the_makers_intrinsics(tmp_path: Path) -> None:
    """Raw 480x640 buffers (the maker's fallback when imdecode fails) decode too; a 640x480 UR camera_top gets the
    maker's matrix, a 64x48 one none (its principal point is not near the image centre)."""
    write_robomind(tmp_path / "raw", [EpisodeSpec("ur_1rgb", "t", "e1", 3, raw=True)], size=(480, 640))
    raw = RoboMINDAdapter().read(_refs(tmp_path / "raw")[0])
    cam = raw.cameras["camera_top"]
    [(_, img)] = list(cam.frames([2]))
    assert img.shape == (480, 640, 3) and np.abs(img[5:50, 5:50].reshape(-1, 3).mean(0) - RED).max() < 1
    assert cam.intrinsics is not None and cam.intrinsics[0, 2] == pytest.approx(317.789, abs=1e-3)
    write_robomind(tmp_path / "small", [EpisodeSpec("ur_1rgb", "t", "e1", 3)])
    assert RoboMINDAdapter().read(_refs(tmp_path / "small")[0]).cameras["camera_top"].intrinsics is None


def test_language_from_the_table_the_folder_name_and_the_step_annotations(
    release: tuple[Path, dict[str, WrittenEpisode]],
) -> None:
    root = release[0]
    refs = {r.raw_id: r for r in _refs(root)}
    ur = RoboMINDAdapter().read(refs["bread_in_basket_1/unsplit/1014_140258"])
    assert [(lang.text, lang.kind) for lang in ur.language[:2]] == [
        ("Put bread into the basket", "instruction"),
        ("Take the bread away", "summary"),
    ]
    steps = [(lang.text, lang.start_s, lang.end_s) for lang in ur.language[2:]]
    assert steps == [("move towards the bread", 0.0, 10 / 30), ("grab the bread", 12 / 30, 31 / 30)]
    franka = RoboMINDAdapter().read(refs["task_franka_3rgb/val/1014_151731"])
    assert [lang.text for lang in franka.language] == ["task franka 3rgb"]
    assert franka.metadata["language_from"] == "task folder name"


def _canonical(root: Path, robot: str):
    [ep] = canonicalize(RoboMINDAdapter().read(_ref(root, robot)))
    return ep


# robot folder -> (hands FK fills, y of each arm base in the canonical frame (schemas.robots), gripper mapped)
_JOINT_SPACE = {
    "franka_1rgb": ((1,), (0.0,), True),
    "ur_1rgb": ((1,), (0.0,), False),
    "franka_fr3_dual": ((0, 1), (0.5, -0.5), True),
    "agilex_3rgb": ((0, 1), (0.3, -0.3), False),
    "tienkung_gello_1rgb": ((0, 1), (0.15911, -0.15911), False),  # the arm mounts (humanoid.urdf left/right_link0)
    "tienkung_xsens_1rgb": ((0, 1), (0.15911, -0.15911), False),
}


@pytest.mark.parametrize("robot", sorted(_JOINT_SPACE))
def test_joint_space_robots_reach_the_canonical_hands(
    release: tuple[Path, dict[str, WrittenEpisode]], robot: str
) -> None:
    """Every arm the robot has comes out by FK: ahead of its own base and within its reach, moving with its joints;
    on a two-arm rig the left wrist stays left of the right one (QA's left_of_right) in every frame."""
    hands, base_y, gripper = _JOINT_SPACE[robot]
    ep = _canonical(release[0], robot)
    assert ep.tier is QualityTier.high, ep.tier_reasons
    for h in (0, 1):
        assert ep.mask[hand_dims(h, WRIST_POS)].all() == (h in hands)
        assert ep.mask[hand_dims(h, WRIST_ROT6D)].all() == (h in hands)
        assert ep.mask[hand_dims(h, GRIPPER)].all() == (gripper and h in hands)
    for h, y in zip(hands, base_y, strict=True):
        wrist = ep.state[:, hand_dims(h, WRIST_POS)] - np.array([0.0, y, 0.0])  # from this arm's own base
        assert (wrist[:, 0] > 0.05).all() and (np.linalg.norm(wrist, axis=1) < 1.0).all()  # ahead, within reach
        assert np.ptp(wrist, axis=0).max() > 0.01  # it moves with the joints
    assert ep.qa is not None and ep.qa.action_pos_err < 1e-5
    assert ep.qa.left_of_right == (1.0 if len(hands) == 2 else None)
    summary = summarize(robot, [ep.qa])
    assert summary is not None and findings(summary, QAConfig()) == []
    natives = RoboMINDAdapter().read(_ref(release[0], robot)).states
    assert ep.state_native is not None and ep.state_native.shape[1] == sum(s.values.shape[1] for s in natives.values())


def test_dual_arm_grippers_follow_each_finger_joint(release: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    """FR3 dual: left_gripper and right_gripper each become their own hand's opening (1 open .. 0 closed .. 1)."""
    ep = _canonical(release[0], "franka_fr3_dual")
    for h in (0, 1):
        g = ep.state[:, hand_dims(h, GRIPPER)][:, 0]
        assert g[0] > 0.95 and g[len(g) // 2] < 0.1 and g[-1] > 0.9


def test_franka_gripper_opening_follows_the_finger_joint(release: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    """joint_position[7] written 0.04 (open) .. 0 (closed) .. 0.04: the canonical opening goes 1 .. 0 .. 1."""
    ep = _canonical(release[0], "franka_1rgb")
    g = ep.state[:, hand_dims(1, GRIPPER)][:, 0]
    assert g[0] > 0.95 and g[len(g) // 2] < 0.1 and g[-1] > 0.9
    raw = RoboMINDAdapter().read(_ref(release[0], "franka_1rgb"))
    assert raw.metadata["gripper_range"] == pytest.approx([0.0, 0.04], abs=2e-3)


# humanoid.urdf (tienkung_pro.urdf), by hand: the left shoulder (shoulder_roll_l_link's origin, on joint 1's axis) in
# the pelvis frame = waist (-0.024, 0, 0.0062) + mount (0, 0.15911, 0.42582) + 0.0767 along the mount's z, which is
# (0, sin 1.3083, cos 1.3083); the longest reach from it to the hand base: upper arm 0.253 + forearm 0.2355 + flange
# 0.1115 m
_TIENKUNG_SHOULDER = np.array([-0.024, 0.15911 + 0.0767 * np.sin(1.3083), 0.0062 + 0.42582 + 0.0767 * np.cos(1.3083)])
_TIENKUNG_REACH = 0.253 + 0.2355 + 0.1115


@pytest.mark.parametrize("robot", ["tienkung_gello_1rgb", "tienkung_prod1_gello_1rgb", "tienkung_xsens_1rgb"])
def test_tien_kung_hands_by_fk_and_the_hand_values_stay_native(
    release: tuple[Path, dict[str, WrittenEpisode]], robot: str
) -> None:
    """Both Tien Kung wrists by FK on the Pro description: ahead of the torso, the left one left of the right in every
    frame, each within its arm's reach of its own shoulder, palms facing in as the fixture holds them; the hand
    closure (Gello) and the 12 Inspire values (Xsens) have no established unit, so no opening is made up: the
    gripper dims stay masked and the values stay in the natives."""
    raw = RoboMINDAdapter().read(_ref(release[0], robot))
    assert raw.embodiment == "tienkung" and raw.cameras["camera_top"].canonical is Camera.head
    ep = _canonical(release[0], robot)
    assert ep.tier is QualityTier.high and not any("kinematic" in r for r in ep.tier_reasons), ep.tier_reasons
    left, right = (ep.state[:, hand_dims(h, WRIST_POS)] for h in (0, 1))
    assert (left[:, 0] > 0.2).all() and (right[:, 0] > 0.2).all()  # pelvis origin: 0.2 m ahead of it at least
    assert (left[:, 1] > right[:, 1] + 0.2).all()
    for wrist, y in ((left, 1.0), (right, -1.0)):
        to_shoulder = np.linalg.norm(wrist - _TIENKUNG_SHOULDER * [1.0, y, 1.0], axis=1)
        assert (to_shoulder < _TIENKUNG_REACH).all() and (to_shoulder > 0.2).all()
    rot = [rot6d_to_matrix(ep.state[:, hand_dims(h, WRIST_ROT6D)]) for h in (0, 1)]
    assert (rot[0][:, 1, 1] < -0.5).all() and (rot[1][:, 1, 1] > 0.5).all()  # palm normals (wrist y) point inwards
    assert (rot[0][:, 0, 2] > 0.5).all() and (rot[1][:, 0, 2] > 0.5).all()  # fingers (wrist z) point forward
    assert not ep.mask[hand_dims(0, GRIPPER)].any() and not ep.mask[hand_dims(1, GRIPPER)].any()
    hands = raw.states["puppet.end_effector" if "xsens" in robot else "puppet.joint_position"]
    assert ep.state_native is not None and ep.state_native.shape[1] == sum(
        s.values.shape[1] for s in raw.states.values()
    )
    assert (hands.names or ())[-1] == ("right_thumb_rotation" if "xsens" in robot else "right_hand_closure")


def test_sliced_reads_return_the_requested_frames(release: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    """Frames are read in slices of up to BLOCK rows: strided, sparse and full requests give the same pixels."""
    cam = RoboMINDAdapter().read(_ref(release[0], "franka_1rgb")).cameras["camera_top"]
    full = dict(cam.frames())
    assert sorted(full) == list(range(N))
    for wanted in (list(range(0, N, 3)), [0, 35], [5], [N - 1]):
        got = list(cam.frames(wanted))
        assert [i for i, _ in got] == wanted
        assert all(np.array_equal(img, full[i]) for i, img in got)
    assert not np.array_equal(full[0], full[1])  # frames differ, so a shifted index would show
