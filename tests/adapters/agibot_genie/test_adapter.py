"""AgiBot Genie Sim / A2D exports (`<job>/<sn>/<episode>/aligned_joints.h5`, `meta_info.json`, `data_info.json`),
written as the maker's converter writes them (`tests/fixtures/agibot_genie.py`): discovered by their files,
ns clock converted exactly, quaternion order measured per episode and checked by the gripper approach axis,
inclusive `action_config` ends, every dataset kept, canonical ingest at the `low` tier; through the ingest job the
episodes with end poses are written at `low` on the 10 Hz grid and the broken ones quarantined by name. The AgiBot
World adapter reads the World episode beside them and names the exports; a spec still asking it for them is refused
naming this adapter."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from scipy.spatial.transform import Rotation

from adapters.agibot.adapter import AgibotAdapter
from adapters.agibot_genie.adapter import GenieAdapter
from adapters.base import EpisodeRef
from adapters.lerobot_format.files import read_jsonl
from adapters.synthetic.agibot import EpisodeSpec, write_agibot
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import SpecError, load_spec
from jobs.verdicts.step import run_verdicts
from schemas.behaviour import BehaviourConfig
from schemas.lerobot import EPISODES_PATH
from schemas.tiers import QualityTier, tier_of
from tests.fixtures.agibot_genie import BAG_START_NS, Fault, GenieSpec, write_genie_sim
from tests.fixtures.offline import prepared

SPECS = {
    "3335477/A2D0015AB00061/12052353": GenieSpec(),
    "3335477/A2D0015AB00061/12052354": GenieSpec(
        episode="12052354", quat_order="wxyz", error_span=(10, 14), success=False
    ),
    "3335477/A2D0015AB00072/9": GenieSpec(sn="A2D0015AB00072", episode="9", videos=False),
    "3400001/A2D0015AB00061/100": GenieSpec(job="3400001", episode="100", simulation=False, videos=False),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("genie")
    written = write_genie_sim(root, list(SPECS.values()))
    write_agibot(root, [EpisodeSpec(327, 1, 12)], height=32, width=48)  # an AgiBot World episode beside them
    root.joinpath("written.npz").write_bytes(b"")  # a stray file at the top: not an episode
    pytest.written = written  # type: ignore[attr-defined]
    return root.resolve()


def _refs(root: Path) -> dict[str, EpisodeRef]:
    return {r.raw_id: r for r in GenieAdapter().discover(root)}


def test_discovery_finds_every_export_episode_by_its_files(root: Path) -> None:
    genie = list(GenieAdapter().discover(root))
    assert [r.raw_id for r in genie] == sorted(
        SPECS, key=lambda k: [int(p) if p.isdigit() else p for p in k.split("/")]
    )
    assert all(r.error is None and r.source == "agibot_genie_sim" and r.adapter == "agibot_genie" for r in genie)
    assert {r.subset for r in genie} == {"job_3335477", "job_3400001"}
    assert all(r.locator["meta_info"]["sw_version"] for r in genie)  # JSON read at discovery, no HDF5


def test_ns_timestamps_are_converted_from_integers(root: Path) -> None:
    raw_id = "3335477/A2D0015AB00061/12052353"
    ep = GenieAdapter().read(_refs(root)[raw_id])
    with h5py.File(root / raw_id / "aligned_joints.h5") as f:
        stamps = np.array([f[str(i)]["main_timestamp"][()] for i in range(24)])
    assert stamps.dtype == np.uint64 and stamps[0] > BAG_START_NS
    exact = (stamps.astype(np.int64) - np.int64(stamps[0])).astype(np.float64) / 1e9
    t = ep.states["joint.position"].timestamps
    np.testing.assert_array_equal(t, exact)
    lossy = (stamps.astype(np.float64) - float(stamps[0])) / 1e9  # what a float-first conversion gives
    assert np.abs(lossy - exact).max() > 0  # the precision the integer path keeps
    assert np.abs(t - np.arange(24) / 30).max() < 2e-6  # float32 sim seconds, truncated to microseconds
    assert ep.metadata["clock"]["start_ns"] == int(stamps[0]) and ep.native_fps == 30.0
    np.testing.assert_array_equal(ep.signals["timestamp.camera.head_color"].values, exact)


@pytest.mark.parametrize("raw_id", ["3335477/A2D0015AB00061/12052353", "3335477/A2D0015AB00061/12052354"])
def test_quaternion_order_measured_and_the_grippers_point_at_the_table(root: Path, raw_id: str) -> None:
    ep = GenieAdapter().read(_refs(root)[raw_id])
    order = SPECS[raw_id].quat_order
    assert ep.metadata["quaternion_order"] == order
    assert ep.states["end.orientation"].unit == f"quat_{order}"  # the native keeps the file's order
    truth = pytest.written[raw_id]  # type: ignore[attr-defined]
    for hand in (0, 1):
        rot = ep.hands.hands[hand].rotation
        assert rot.unit == "quat_xyzw" and rot.frame == "robot_base"
        approach = Rotation.from_quat(rot.values).as_matrix()[:, :, 2]  # gripper z: link7 -> gripper centre
        assert (approach[:, 2] < -0.9).all()  # top-down grasps: the approach axis points at the table
        gap = (Rotation.from_quat(rot.values).inv() * Rotation.from_quat(truth.end_quat_xyzw[:, hand])).magnitude()
        assert gap.max() < 1e-5
        np.testing.assert_allclose(ep.hands.hands[hand].position.values, truth.end_position[:, hand], atol=1e-6)


def test_a_wrong_reading_would_fail_the_invariant(root: Path) -> None:
    """The invariant can fail: the w-first file read as xyzw points the grippers elsewhere."""
    ep = GenieAdapter({"quaternion": "xyzw"}).read(_refs(root)["3335477/A2D0015AB00061/12052354"])
    approach = Rotation.from_quat(ep.hands.hands[0].rotation.values).as_matrix()[:, :, 2]
    assert not (approach[:, 2] < -0.9).all()


def test_action_config_inclusive_ends_cover_every_frame_once(root: Path) -> None:
    raw_id = "3335477/A2D0015AB00061/12052353"
    ep = GenieAdapter().read(_refs(root)[raw_id])
    source = pytest.written[raw_id].segments  # type: ignore[attr-defined]
    assert [(s["start_frame"], s["end_frame"]) for s in source] == [(0, 7), (8, 15), (16, 23)]  # inclusive
    assert [(s.start_frame, s.end_frame) for s in ep.action_config] == [(0, 8), (8, 16), (16, 24)]
    covered = np.zeros(24, dtype=int)
    for seg in ep.action_config:
        covered[seg.start_frame : seg.end_frame] += 1
    assert (covered == 1).all()  # frame 23, the last inclusive end, is covered; none twice
    assert ep.action_config[0].model_extra["skill"] == "Pick"
    timed = [lang for lang in ep.language if lang.start_s is not None]
    assert [(lang.start_s, lang.end_s) for lang in timed] == [(0.0, 8 / 30), (8 / 30, 16 / 30), (16 / 30, 24 / 30)]
    assert ep.language[0].text == "Put the cup on the tray" and ep.language[0].start_s is None


def test_every_dataset_survives_as_a_native(root: Path) -> None:
    raw_id = "3335477/A2D0015AB00061/12052353"
    ep = GenieAdapter().read(_refs(root)[raw_id])
    with h5py.File(root / raw_id / "aligned_joints.h5") as f:
        paths: list[str] = []
        f["0"].visititems(lambda n, o: paths.append(n) if isinstance(o, h5py.Dataset) else None)
        first = f["0"]
        for path in paths:
            kind, _, rest = path.partition("/")
            key = rest.replace("/", ".")
            if path == "main_timestamp":
                continue
            if kind == "timestamp":
                assert f"timestamp.{key}" in ep.signals, path
            elif first[path].size == 0:
                assert path in ep.metadata["empty_fields"], path
            else:
                stream = (ep.states if kind == "state" else ep.actions)[key]
                np.testing.assert_array_equal(stream.values[0], first[path][()], err_msg=path)
    assert ep.states["joint.position"].names[0] == "idx21_arm_l_joint1"  # the group's name attribute
    assert ep.states["joint.position"].names[7] == "idx61_arm_r_joint1"
    pose = ep.states["end.pose"]  # converter: left arm_position + arm_orientation, then right
    assert pose.names[:7] == ("left_x", "left_y", "left_z", "left_qx", "left_qy", "left_qz", "left_qw")
    np.testing.assert_array_equal(pose.values[:, 7:10], ep.states["end.arm_position"].values[:, 1])


def test_gripper_opening_follows_the_close_command(root: Path) -> None:
    ep = GenieAdapter().read(_refs(root)["3335477/A2D0015AB00061/12052353"])
    opening = ep.hands.hands[1].gripper.values
    command = ep.actions["right_effector.position"].values.reshape(-1)  # 0 open .. 1 close (converter)
    state = ep.states["right_effector.position"].values.reshape(-1)  # 0..120, higher = more closed
    assert opening[command == 0.0].min() > 0.9  # open command: open
    assert opening[state == state.max()].max() < 0.05  # the simulated joint fully shut: closed
    assert np.corrcoef(opening, command)[0, 1] < -0.7  # the command is a threshold of the same joint


def test_tiers_simulation_low_real_kept(root: Path) -> None:
    refs = _refs(root)
    sim = GenieAdapter().read(refs["3335477/A2D0015AB00061/12052354"])
    # issue 69: the simulation is a verdict with its code, never folded into the default (which a spec replaces)
    simulated, spans = sim.verdicts[:2]
    assert sim.tier is QualityTier.high and tier_of(sim.tier, sim.verdicts) is QualityTier.low
    assert (simulated.code, simulated.tier) == ("source_simulation", QualityTier.low)
    assert "Genie Sim simulation" in simulated.reason and spans.tier is QualityTier.high
    assert "Drop frames 10..14" in spans.reason and sim.metadata["error_frames"][0]["start"] == 10
    real = GenieAdapter().read(refs["3400001/A2D0015AB00061/100"])
    assert real.tier is QualityTier.high and not real.verdicts
    assert real.metadata["quaternion_order"] == "xyzw"  # measured here too: the file has state/end/arm_*


def test_success_from_task_result_and_unread_files_listed(root: Path) -> None:
    refs = _refs(root)
    failed = GenieAdapter().read(refs["3335477/A2D0015AB00061/12052354"])
    assert failed.success is False and "task_status false ('object not on target')" in failed.verdicts[2].reason
    good = GenieAdapter().read(refs["3335477/A2D0015AB00061/12052353"])
    assert good.success is True and good.metadata["task_result"]["metric_status"] == "success"
    assert good.metadata["files_not_read"] == ["state.json"]  # the extractor's scene log, named not dropped
    post = good.metadata["label_info"]["cloud_post_processing_result"]
    assert post == {"data_valid": True, "drop_frame_rate": 0.0, "filter_frame_rate": 0.0}


def test_cameras_and_intrinsics(root: Path) -> None:
    ep = GenieAdapter().read(_refs(root)["3335477/A2D0015AB00061/12052353"])
    assert set(ep.cameras) == {"head", "hand_left", "hand_right"}
    assert ep.cameras["hand_left"].canonical.value == "wrist_left" and len(ep.cameras["head"]) == 24
    assert ep.cameras["head"].intrinsics[0, 2] == 24.0  # intrinsic_head_front_rgb.json Cx
    none = GenieAdapter().read(_refs(root)["3335477/A2D0015AB00072/9"])
    assert none.cameras == {} and "no *_color.mp4" in none.metadata["no_video"]


def test_canonical_ingest_keeps_segments_on_the_10hz_grid(tmp_path: Path) -> None:
    write_genie_sim(tmp_path, [GenieSpec(num_frames=90, videos=False)])
    ep = GenieAdapter().read(next(GenieAdapter().discover(tmp_path)))
    (out,) = prepared(ep)
    assert out.tier is QualityTier.low
    assert [(s.start_frame, s.end_frame) for s in out.action_config] == [(0, 10), (10, 20), (20, 30)]


def test_ref_round_trips_through_json(root: Path) -> None:
    ref = _refs(root)["3335477/A2D0015AB00061/12052354"]
    again = EpisodeRef.model_validate_json(ref.model_dump_json())  # as sent to a Ray worker
    assert again == ref
    np.testing.assert_array_equal(
        GenieAdapter().read(again).states["end.orientation"].values,
        GenieAdapter().read(ref).states["end.orientation"].values,
    )


def test_disagreeing_episode_ids_are_recorded(tmp_path: Path) -> None:
    write_genie_sim(tmp_path, [GenieSpec(videos=False)])
    info_path = tmp_path / "3335477" / "A2D0015AB00061" / "12052353" / "data_info.json"
    info = json.loads(info_path.read_text())
    info["episode_id"] = "999"
    info_path.write_text(json.dumps(info))
    ep = GenieAdapter().read(next(GenieAdapter().discover(tmp_path)))
    assert ep.metadata["episode_id_mismatch"] == {"folder": "12052353", "meta_info": "12052353", "data_info": "999"}


# slow: ~16 s quiet (a Ray job, then eidata verdicts); make test keeps the Genie Sim reads above (discovery, clocks,
# quaternion order, segments on the 10 Hz grid through canonicalize) and AgiBot's ingest job in the demo
@pytest.mark.slow
@pytest.mark.shared_ray  # the job runs on the session's one Ray (tests/ray_scope.py)
def test_genie_export_ingested_and_broken_episodes_quarantined(tmp_path: Path) -> None:
    specs = [
        GenieSpec(job="7", episode="1", num_frames=90, videos=False),
        GenieSpec(job="7", episode="2", num_frames=90, videos=False, quat_order="wxyz"),
        GenieSpec(job="7", episode="3", num_frames=90, videos=False, fault=Fault.missing_h5),
        GenieSpec(job="7", episode="4", num_frames=90, videos=False, arm_frames=False),
    ]
    write_genie_sim(tmp_path / "genie", specs)
    spec = {
        "output": str(tmp_path / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [{"name": "genie", "adapter": "agibot_genie", "root": str(tmp_path / "genie")}],
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp_path / "job.yaml"), progress=False)
    assert report.tallies["genie"].written == 2 and report.quarantined == 2

    run_verdicts(tmp_path / "corpus", BehaviourConfig())
    sql = "SELECT episode_uid, tier, qa_duplicate_of, qa_duplicate_residual FROM episodes ORDER BY 1"
    rows = run_query(tmp_path / "corpus", sql).to_pylist()
    # the fixture writes episode 2 with episode 1's trajectory: `eidata verdicts` rejects the copy, naming the original
    assert [(r["episode_uid"], r["tier"], r["qa_duplicate_of"]) for r in rows] == [
        ("genie/job_7/7/A2D0015AB00061/1", "low", None),
        ("genie/job_7/7/A2D0015AB00061/2", "rejected", "genie/job_7/7/A2D0015AB00061/1"),
    ]
    assert rows[1]["qa_duplicate_residual"] <= BehaviourConfig().copy_tolerance
    lines = read_jsonl(tmp_path / "corpus/datasets/genie/job_7" / EPISODES_PATH)
    for _, line in lines:
        assert [(s["start_frame"], s["end_frame"]) for s in line["action_config"]] == [(0, 10), (10, 20), (20, 30)]
    q = run_query(tmp_path / "corpus", "SELECT field, file, message FROM quarantine ORDER BY file").to_pylist()
    assert [(r["field"], Path(r["file"]).relative_to(tmp_path / "genie").as_posix()) for r in q] == [
        ("aligned_joints.h5", "7/A2D0015AB00061/3/aligned_joints.h5"),
        ("state/end/orientation", "7/A2D0015AB00061/4/aligned_joints.h5"),
    ]
    assert "cannot be settled" in q[1]["message"]


def test_agibot_reads_its_world_episode_and_names_the_exports_beside_it(root: Path) -> None:
    world = AgibotAdapter()
    assert [r.raw_id for r in world.discover(root)] == ["327/1"]
    (found,) = world.findings()
    assert found.code == "folder_skipped" and "adapter agibot_genie reads them" in found.message
    assert found.path == str(root / "3335477/A2D0015AB00061/12052353")


def test_a_spec_still_reading_exports_with_agibot_is_refused_naming_agibot_genie(tmp_path: Path) -> None:
    write_genie_sim(tmp_path / "genie", [GenieSpec(videos=False)])
    source = {"name": "genie", "adapter": "agibot", "root": str(tmp_path / "genie")}
    for options, field in (
        ({}, "sources[0].root"),
        ({"genie_quaternion": "wxyz"}, "sources[0].options.genie_quaternion"),
    ):
        (tmp_path / "job.yaml").write_text(
            yaml.safe_dump({"output": "out", "sources": [{**source, "options": options}]})
        )
        with pytest.raises(SpecError) as info:
            load_spec(tmp_path / "job.yaml")
        (issue,) = [i for i in info.value.errors if i.loc == field]
        assert "adapter agibot_genie" in issue.message, issue
    (tmp_path / "job.yaml").write_text(
        yaml.safe_dump({"output": "out", "sources": [{**source, "adapter": "agibot_genie"}]})
    )
    assert load_spec(tmp_path / "job.yaml").sources[0].adapter == "agibot_genie"
