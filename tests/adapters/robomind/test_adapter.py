"""RoboMIND adapter: discovery of the release layout, each robot's streams read back as written, cameras decoded in the
maker's channel order, language, and the joint-space robots reaching the canonical hands. Bad input: each is an
AdapterError naming the file, the episode and the field, with an actionable cause; discovery goes on past it and the
other episodes read. Through the real Ray ingest job: the joint-space robots come out with their FK masks, tier high and
every geometry QA invariant passing; Tien Kung keeps its natives with the reason; a truncated file and a Git LFS pointer
are quarantined while the job goes on; the real lerobot loads every dataset."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from adapters.base import AdapterError
from adapters.lerobot_format.files import read_jsonl
from adapters.registry import get_adapter
from adapters.robomind.adapter import RoboMINDAdapter
from adapters.robomind.layouts import ROBOTS
from adapters.synthetic.robomind import EpisodeSpec, WrittenEpisode, write_robomind
from ingest.frames import rot6d_to_matrix
from ingest.qa.dataset import geometry_findings, geometry_summary
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from jobs.verdicts.step import run_verdicts
from schemas.behaviour import BehaviourConfig
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, Camera, hand_dims
from schemas.corpus import EpisodeLineage
from schemas.lerobot import EPISODES_PATH, INFO_PATH
from schemas.qa import QAConfig
from schemas.tiers import QualityTier
from tests.adapters.robomind.conftest import N, discover_refs, robot_ref
from tests.fixtures.corrupt import break_robomind
from tests.fixtures.offline import prepared
from tests.fixtures.writers.robomind import write_instructions


def test_registered_by_name() -> None:
    assert isinstance(get_adapter("robomind"), RoboMINDAdapter)


def test_discovery_walks_robots_tasks_splits_in_order(release: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    root, written = release
    refs = discover_refs(root)
    assert sorted(r.raw_id for r in refs) == sorted(written)
    assert [r.subset for r in refs] == sorted(r.subset for r in refs)  # h5_ folders in name order
    assert all(r.error is None and r.source == "robomind" for r in refs)
    unsplit = next(r for r in refs if r.raw_id.startswith("bread_in_basket_1/"))
    assert unsplit.raw_id == "bread_in_basket_1/unsplit/1014_140258" and unsplit.subset == "ur_1rgb"
    assert unsplit.uid == "robomind/ur_1rgb/bread_in_basket_1/unsplit/1014_140258"
    assert unsplit.paths == (str(written[unsplit.raw_id].path.resolve()),)
    assert [r.raw_id for r in discover_refs(root, robots=["franka_3rgb"], splits=["val"])] == [
        "task_franka_3rgb/val/1014_151731"
    ]
    assert len(discover_refs(root, max_episodes=3)) == 3
    assert discover_refs(root) == refs  # stable
    # a root one level up (a benchmark folder above the h5_ folders) or the h5_ folder itself
    assert [r.raw_id for r in discover_refs(root / "h5_ur_1rgb")] == [r.raw_id for r in refs if r.subset == "ur_1rgb"]


def test_a_benchmark_level_is_part_of_the_raw_id(tmp_path: Path) -> None:
    write_robomind(tmp_path, [EpisodeSpec("franka_1rgb", "bread_on_table", "1023_101644", 8, benchmark="benchmark1_1")])
    [ref] = discover_refs(tmp_path)
    assert ref.raw_id == "benchmark1_1/bread_on_table/train/1023_101644" and ref.subset == "franka_1rgb"


def test_discovery_opens_no_hdf5(release: tuple[Path, dict[str, WrittenEpisode]], monkeypatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("discovery must not open HDF5 files")

    monkeypatch.setattr(h5py, "File", forbidden)
    assert len(discover_refs(release[0])) == len(release[1])


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_every_vector_reads_back_as_written(release: tuple[Path, dict[str, WrittenEpisode]], robot: str) -> None:
    root, written = release
    ref = robot_ref(root, robot)
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


def test_language_from_the_table_the_folder_name_and_the_step_annotations(
    release: tuple[Path, dict[str, WrittenEpisode]],
) -> None:
    root = release[0]
    refs = {r.raw_id: r for r in discover_refs(root)}
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
    [ep] = prepared(RoboMINDAdapter().read(robot_ref(root, robot)))
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
    summary = geometry_summary(robot, [ep.qa])
    assert summary is not None and geometry_findings(summary, QAConfig()) == []
    streams = RoboMINDAdapter().read(robot_ref(release[0], robot)).states
    state = ep.natives.state
    assert state is not None and state.shape[1] == sum(s.values.shape[1] for s in streams.values())


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
    raw = RoboMINDAdapter().read(robot_ref(release[0], "franka_1rgb"))
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
    raw = RoboMINDAdapter().read(robot_ref(release[0], robot))
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
    assert ep.natives.state is not None and ep.natives.state.shape[1] == sum(
        s.values.shape[1] for s in raw.states.values()
    )
    assert (hands.names or ())[-1] == ("right_thumb_rotation" if "xsens" in robot else "right_hand_closure")


def test_sliced_reads_return_the_requested_frames(release: tuple[Path, dict[str, WrittenEpisode]]) -> None:
    """Frames are read in slices of up to BLOCK rows: strided, sparse and full requests give the same pixels."""
    cam = RoboMINDAdapter().read(robot_ref(release[0], "franka_1rgb")).cameras["camera_top"]
    full = dict(cam.frames())
    assert sorted(full) == list(range(N))
    for wanted in (list(range(0, N, 3)), [0, 35], [5], [N - 1]):
        got = list(cam.frames(wanted))
        assert [i for i, _ in got] == wanted
        assert all(np.array_equal(img, full[i]) for i, img in got)
    assert not np.array_equal(full[0], full[1])  # frames differ, so a shifted index would show


CASES = {  # bad switch -> (field, words the message must hold)
    "no_joint_position": ("puppet/joint_position", "is missing"),
    "truncated": ("trajectory.hdf5", "not a readable HDF5 file"),
    "lfs_pointer": ("trajectory.hdf5", "git lfs pull"),
    "bad_frame": ("observations/rgb_images/camera_top", "frame 0: neither a JPEG/PNG nor a raw"),
    "wrong_width": ("puppet/joint_position", "expected (T, 8) for h5_franka_1rgb, found (12, 7)"),
    "no_hdf5": ("trajectory.hdf5", "no *.hdf5 file in data/"),
}


@pytest.fixture(scope="module")
def bad_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("robomind_bad")
    specs = [
        EpisodeSpec(
            "franka_1rgb", "bread_on_table", f"1023_10{k:02d}00", 12, bad="truncated" if bad == "truncated" else None
        )
        for k, bad in enumerate([None, *CASES])
    ]
    written = write_robomind(root, specs)
    for k, bad in enumerate(CASES, start=1):
        if bad != "truncated":
            break_robomind(written[f"bread_on_table/train/1023_10{k:02d}00"], bad)
    for folder in ("h5_simulation/open_and_close_01", "h5_mystery_robot/task"):  # releases this adapter does not read
        (root / folder / "success_episodes/train/2024_10_10-10_19_11/data").mkdir(parents=True)
        (root / folder / "success_episodes/train/2024_10_10-10_19_11/data/trajectory.hdf5").write_bytes(b"")
    return root


def _outcome(adapter: RoboMINDAdapter, ref) -> AdapterError | None:
    if ref.error:
        with pytest.raises(AdapterError) as info:
            adapter.read(ref)
        assert str(info.value) == ref.error
        return info.value
    try:
        adapter.read(ref)
    except AdapterError as e:
        return e
    return None


def test_each_bad_episode_names_file_episode_and_field_and_the_rest_read(bad_release: Path) -> None:
    adapter = RoboMINDAdapter()
    refs = list(adapter.discover(bad_release))
    assert len(refs) == 1 + len(CASES) + 2
    outcomes = {r.raw_id: _outcome(adapter, r) for r in refs}
    assert outcomes.pop("bread_on_table/train/1023_100000") is None  # the good one
    franka = {r.raw_id: outcomes[r.raw_id] for r in refs if r.subset == "franka_1rgb" and r.raw_id in outcomes}
    for k, (bad, (field, words)) in enumerate(CASES.items(), start=1):
        raw_id = f"bread_on_table/train/1023_10{k:02d}00"
        err = franka[raw_id]
        assert err is not None, bad
        assert err.field == field and err.episode == raw_id and words in err.reason, (bad, str(err))
        assert err.file is not None and f"1023_10{k:02d}00/data" in err.file
        assert str(err).startswith("adapter robomind, file ")
    sim = outcomes["open_and_close_01/train/2024_10_10-10_19_11"]
    assert sim is not None and sim.field == "release" and "simulation release h5_simulation" in sim.reason
    other = outcomes["task/train/2024_10_10-10_19_11"]
    assert other is not None and "unknown release folder h5_mystery_robot" in other.reason


def test_a_missing_optional_dataset_is_recorded_not_fatal(tmp_path: Path) -> None:
    import h5py

    [w] = write_robomind(tmp_path, [EpisodeSpec("ur_1rgb", "t", "e1", 6)]).values()
    with h5py.File(w.path, "a") as f:
        del f["puppet/end_effector"], f["master/joint_position"]
    raw = RoboMINDAdapter().read(next(RoboMINDAdapter().discover(tmp_path)))
    assert raw.metadata["missing_datasets"] == ["puppet/end_effector", "master/joint_position"]
    assert set(raw.states) == {"puppet.joint_position"} and set(raw.actions) == {"master.end_effector"}


def test_a_franka_3rgb_episode_without_its_top_camera_reads_the_other_two(tmp_path: Path) -> None:
    """675 Franka 3RGB trajectories hold only the left and right cameras (the maker's README): not an error."""
    import h5py

    [w] = write_robomind(tmp_path, [EpisodeSpec("franka_3rgb", "2024_09_20_close_cabinet", "0920_142729", 6)]).values()
    with h5py.File(w.path, "a") as f:
        del f["observations/rgb_images/camera_top"], f["observations/depth_images/camera_top"]
    raw = RoboMINDAdapter().read(next(RoboMINDAdapter().discover(tmp_path)))
    assert sorted(raw.cameras) == ["camera_left", "camera_right"] and raw.metadata["cameras_missing"] == ["camera_top"]
    with pytest.raises(AdapterError, match="camera is missing") as info:
        RoboMINDAdapter({"cameras": ["camera_top"]}).read(next(RoboMINDAdapter().discover(tmp_path)))
    assert info.value.field == "observations/rgb_images/camera_top"


EXPECTED = {  # subset -> (embodiment, tier, has_action)
    "franka_3rgb": ("franka", "high", True),
    "ur_1rgb": ("ur5e", "high", True),
    "agilex_3rgb": ("piper_dual", "high", True),
    "tienkung_xsens_1rgb": ("tienkung", "high", True),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("robomind_job")
    specs = [EpisodeSpec(robot, f"task_{robot}", f"1014_1446{k:02d}", 40) for k, robot in enumerate(EXPECTED)]
    specs += [EpisodeSpec("franka_3rgb", "task_franka_3rgb", "1014_150000", 40, split="val"),
              EpisodeSpec("ur_1rgb", "task_ur_1rgb", "1014_160000", 40, bad="truncated"),
              EpisodeSpec("agilex_3rgb", "task_agilex_3rgb", "1014_170000", 40)]  # fmt: skip
    written = write_robomind(tmp / "robomind", specs, size=(32, 48))
    write_instructions(tmp / "robomind", {"task_ur_1rgb": "pick up the bread"})
    break_robomind(written["task_agilex_3rgb/train/1014_170000"], "lfs_pointer")
    spec = {
        "output": str(tmp / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [{"name": "robomind", "adapter": "robomind", "root": str(tmp / "robomind")}],
    }
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp / "job.yaml"), progress=False)
    assert report.tallies["robomind"].written == 5 and report.quarantined == 2
    run_verdicts(tmp / "corpus", BehaviourConfig())
    return tmp / "corpus"


@pytest.mark.shared_ray  # the job runs on the session's one Ray (tests/ray_scope.py)
def test_catalog_embodiments_tiers_and_quarantine(corpus: Path) -> None:
    sql = "SELECT episode_uid, embodiment, tier, has_action, qa_duplicate_of FROM episodes ORDER BY 1"
    rows = run_query(corpus, sql).to_pylist()
    # the fixture writes franka_3rgb's val episode with its train episode's trajectory: a copy, rejected as one by
    # `eidata verdicts`
    [copy] = [r for r in rows if r["qa_duplicate_of"] is not None]
    assert copy["episode_uid"].endswith("franka_3rgb/val/1014_150000") and copy["tier"] == "rejected"
    assert copy["qa_duplicate_of"].endswith("franka_3rgb/train/1014_144600")
    got = {r["episode_uid"].split("/")[1]: (r["embodiment"], r["tier"], r["has_action"]) for r in rows if r is not copy}
    assert got == EXPECTED and len(rows) == 5
    q = run_query(corpus, "SELECT episode_uid, field, file, message FROM quarantine ORDER BY 1").to_pylist()
    assert [(r["episode_uid"], r["field"]) for r in q] == [
        ("robomind/agilex_3rgb/task_agilex_3rgb/train/1014_170000", "trajectory.hdf5"),
        ("robomind/ur_1rgb/task_ur_1rgb/train/1014_160000", "trajectory.hdf5"),
    ]
    assert "git lfs pull" in q[0]["message"] and "not a readable HDF5 file" in q[1]["message"]
    assert all(r["file"].endswith("/data/trajectory.hdf5") for r in q)


@pytest.mark.shared_ray  # the job runs on the session's one Ray (tests/ray_scope.py)
def test_joint_space_datasets_have_fk_masks_and_pass_qa(corpus: Path) -> None:
    for subset, (emb, _, _) in EXPECTED.items():
        root = corpus / "datasets/robomind" / subset
        mask = yaml.safe_load((root / INFO_PATH).read_text())["features"]["action"]["info"]["mask"]
        hands = (0, 1) if emb in ("piper_dual", "tienkung") else (1,)  # two arms; their grippers/hands stay native
        wrists = [d for h in hands for part in (WRIST_POS, WRIST_ROT6D) for d in range(50)[hand_dims(h, part)]]
        grip = list(range(50)[hand_dims(1, GRIPPER)]) if emb == "franka" else []
        assert [i for i, m in enumerate(mask) if m] == sorted(wrists + grip), subset
        records = [EpisodeLineage.of(line).qa for _, line in read_jsonl(root / EPISODES_PATH)]
        summary = geometry_summary(subset, records)
        assert summary is not None and geometry_findings(summary, QAConfig()) == [], subset
        assert summary.record.action_pos_err is not None and summary.record.action_pos_err < 1e-5


@pytest.mark.shared_ray  # the job runs on the session's one Ray (tests/ray_scope.py)
def test_the_instruction_is_the_task(corpus: Path) -> None:
    lines = [line for _, line in read_jsonl(corpus / "datasets/robomind/ur_1rgb" / EPISODES_PATH)]
    assert [line["tasks"] for line in lines] == [["pick up the bread"]]


@pytest.mark.shared_ray  # the job runs on the session's one Ray (tests/ray_scope.py)
@pytest.mark.oracle
def test_lerobot_loads_every_robomind_dataset(corpus: Path, run_oracle) -> None:
    roots = [corpus / "datasets/robomind" / subset for subset in EXPECTED]
    res = run_oracle("load-many", *roots, timeout=300)  # one process: each lerobot start costs seconds
    for subset, root in zip(EXPECTED, roots, strict=True):
        r = res[str(root)]
        assert r["num_episodes"] == (2 if subset == "franka_3rgb" else 1) and r["fps"] == 10, subset
