"""LeRobot v2.x as a source: the real GR00T v2.0 sample, a v2.1 dataset of our writer read back, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from adapters.base import AdapterError, EpisodeRef, RawEpisode
from adapters.lerobot.adapter import LeRobotSource
from adapters.lerobot.cameras import canonical_camera
from adapters.registry import get_adapter
from schemas.canonical import Camera
from schemas.storage import SourceVanishedError
from schemas.tiers import QualityTier
from tests.adapters.lerobot.conftest import quirk_report
from tests.fixtures.corrupt import inject_fault
from tests.fixtures.episodes import write_canonical_dataset
from tests.fixtures.offline import prepared
from tests.realdata import realdata

GR00T = "gr00t_robot_sim_picknplace"
EGO = "observation.images.ego_view"
GHOST = "observation.images.egoview"
LENGTHS = [416, 470, 470, 412, 328]
MODALITY_WIDTHS = {
    "left_arm": 7,
    "left_hand": 6,
    "left_leg": 6,
    "neck": 3,
    "right_arm": 7,
    "right_hand": 6,
    "right_leg": 6,
    "waist": 3,
}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


# ---------------------------------------------------------------------------------------------------------------
# The real GR00T sample (v2.0): ghost camera, timestamps one frame late, no frame_index, modality.json, float64.


@pytest.fixture(scope="module")
def gr00t() -> Path:
    return realdata(GR00T)


@pytest.fixture(scope="module")
def gr00t_read(gr00t: Path) -> tuple[list[EpisodeRef], list[RawEpisode]]:
    adapter = LeRobotSource()
    refs = list(adapter.discover(gr00t))
    return refs, [adapter.read(r) for r in refs]


def test_the_ghost_camera_of_the_real_sample_is_a_finding_each_episode_names(gr00t: Path) -> None:
    """The real GR00T sample declares `egoview` and ships no mp4 for it: discovery's findings say so (with what it
    expected), every episode read carries it, and canonicalization puts it in the episode's lineage."""
    adapter = LeRobotSource()
    refs = list(adapter.discover(gr00t))
    ghost = [f for f in adapter.findings() if f.code == "ghost_camera"]
    assert len(ghost) == 1 and ghost[0].subset == GR00T and ghost[0].root == str(gr00t.resolve())  # the root resolved
    assert GHOST in ghost[0].message and ghost[0].severity == "warning" and ghost[0].episodes is None
    raw = adapter.read(refs[0])
    assert ghost[0] in raw.findings and all(f.severity != "info" for f in raw.findings)
    [ep] = prepared(raw)
    assert ghost[0].line() in ep.source_findings


def test_registered_by_name() -> None:
    assert isinstance(get_adapter("lerobot"), LeRobotSource)


def test_gr00t_discovery_is_sorted_stable_and_skips_the_ghost_camera(gr00t: Path) -> None:
    first = list(LeRobotSource().discover(gr00t))
    second = list(LeRobotSource().discover(gr00t))
    assert [r.raw_id for r in first] == [f"episode_{i:06d}" for i in range(5)]
    assert first == second
    assert sorted(first, key=lambda r: r.sort_key) == first
    assert all(r.error is None and r.subset == GR00T and r.adapter == "lerobot" for r in first)
    root = gr00t.resolve()  # discovery reads the root resolved once (`SourceAdapter.source_root`)
    assert first[2].paths == (
        str(root / "data/chunk-000/episode_000002.parquet"),
        str(root / f"videos/chunk-000/{EGO}/episode_000002.mp4"),
    )
    assert LeRobotSource({"max_episodes": 2}).discover(gr00t).__next__().raw_id == "episode_000000"
    assert len(list(LeRobotSource({"max_episodes": 2}).discover(gr00t))) == 2


def test_gr00t_report_names_every_quirk_once_and_rides_on_each_episode(gr00t: Path, gr00t_read) -> None:
    report = quirk_report(LeRobotSource(), gr00t)
    codes = {q["code"]: q for q in report}
    assert {
        "ghost_camera",
        "timestamp_offset",
        "no_frame_index_column",
        "legacy_version",
        "global_stats_only",
        "legacy_video_info_key",
        "float64_features",
        "missing_video_files",
    } <= set(codes)
    assert GHOST in codes["ghost_camera"]["message"] and codes["ghost_camera"]["severity"] == "warning"
    assert len(report) == len({q["code"] for q in report})
    for ep in gr00t_read[1]:
        assert ep.metadata["quirks"] == report
        assert ep.metadata["camera_notes"] == {GHOST: "ghost camera: declared, no files"}


def test_gr00t_lengths_cameras_and_identity(gr00t_read) -> None:
    refs, episodes = gr00t_read
    for ref, ep, n in zip(refs, episodes, LENGTHS, strict=True):
        assert ep.ref == ref
        assert list(ep.cameras) == [EGO]
        cam = ep.cameras[EGO]
        assert (len(cam), cam.height, cam.width, cam.canonical) == (n, 256, 256, Camera.head)
        streams = (*ep.states.values(), *ep.actions.values(), *ep.signals.values(), *ep.outcomes.values())
        assert all(len(s) == n for s in streams)
        assert (ep.robot_type, ep.native_fps, ep.tier) == ("GR1ArmsOnly", 20.0, QualityTier.high)
        assert ep.embodiment == "gr1" and ep.metadata["embodiment_from"].startswith("robot_type")
        assert ep.metadata["codebase_version"] == "v2.0" and ep.metadata["episode_index"] == int(ref.raw_id[-1])


def test_gr00t_timestamp_offset_is_detected_and_corrected(gr00t: Path, gr00t_read) -> None:
    for ref, ep in zip(*gr00t_read, strict=True):
        raw = pq.read_table(gr00t / ep.metadata["data_file"])["timestamp"].to_numpy()
        ts = ep.states["state.left_arm"].timestamps
        cam_ts = ep.cameras[EGO].timestamps
        assert ts.dtype == np.float64 and ts[0] == 0.0 and cam_ts[0] == 0.0
        assert ep.metadata["timestamp_offset_s"] == pytest.approx(0.05, abs=1e-6) == raw[0]
        np.testing.assert_array_equal(ts, raw - raw[0])
        assert np.max(np.abs(ts - cam_ts)) < 1e-4  # every row now lands on its video frame (lerobot's tolerance)
        codes = [q["code"] for q in ep.metadata["episode_quirks"]]
        assert "timestamp_offset_corrected" in codes and "no_frame_index" in codes, ref.raw_id


def test_gr00t_timestamp_offset_option(gr00t: Path) -> None:
    ref = next(LeRobotSource().discover(gr00t))
    kept = LeRobotSource({"timestamp_offset": "none"}).read(ref)
    assert kept.states["state.waist"].timestamps[0] == pytest.approx(0.05, abs=1e-6)
    assert kept.metadata["timestamp_offset_s"] == 0.0
    fixed = LeRobotSource({"timestamp_offset": 0.05}).read(ref)
    assert fixed.states["state.waist"].timestamps[0] == pytest.approx(0.0, abs=1e-6)
    assert fixed.metadata["timestamp_offset_s"] == 0.05


def test_gr00t_state_and_action_split_by_modality_exactly(gr00t: Path, gr00t_read) -> None:
    for ep in gr00t_read[1]:
        table = pq.read_table(gr00t / ep.metadata["data_file"])
        for group, col, streams in (("state", "observation.state", ep.states), ("action", "action", ep.actions)):
            assert {k: s.values.shape[1] for k, s in streams.items()} == {
                f"{group}.{k}": w for k, w in MODALITY_WIDTHS.items()
            }
            layout = ep.metadata["stream_layout"][col]
            assert [e[1:] for e in layout] == sorted([e[1:] for e in layout]) and layout[0][1:] == [0, 7]
            whole = np.concatenate([streams[name].values for name, _, _ in layout], axis=1)
            expected = np.stack(table[col].to_numpy(zero_copy_only=False))
            assert whole.dtype == np.float64 and whole.shape == (len(table), 44)
            np.testing.assert_array_equal(whole, expected)  # bit for bit, no float32 round trip
        assert ep.states["state.left_hand"].names == tuple(f"motor_{i}" for i in range(7, 13))
    assert gr00t_read[1][0].metadata["modality"]["video"]["ego_view"]["original_key"] == EGO


def test_gr00t_without_modality_split_keeps_the_44_vector(gr00t: Path) -> None:
    ep = LeRobotSource({"split_modality": False, "max_episodes": 1}).read(next(LeRobotSource().discover(gr00t)))
    assert list(ep.states) == ["observation.state"] and list(ep.actions) == ["action"]
    assert ep.states["observation.state"].values.shape == (416, 44)
    assert ep.states["observation.state"].names == tuple(f"motor_{i}" for i in range(44))


def test_gr00t_language_annotations_signals_success(gr00t: Path, gr00t_read) -> None:
    lines = (gr00t / "meta/tasks.jsonl").read_text(encoding="utf-8").splitlines()
    tasks = {json.loads(line)["task_index"]: json.loads(line)["task"] for line in lines}
    for ep in gr00t_read[1]:
        table = pq.read_table(gr00t / ep.metadata["data_file"])
        text = tasks[table["task_index"][0].as_py()]
        assert ep.language == [type(ep.language[0])(text, "instruction", None, None)]
        assert "valid" not in [lang.text for lang in ep.language]
        assert ep.metadata["annotations"] == {
            "annotation.human.validity": [{"text": "valid", "start_s": None, "end_s": None}]
        }
        outcomes = ep.outcomes  # lerobot's `next.*` columns: a step's outcomes, beside the state
        assert outcomes["next.done"].values.dtype == bool and bool(outcomes["next.done"].values[-1])
        assert outcomes["next.reward"].values.dtype == np.float64
        assert set(outcomes) == {"next.reward", "next.done"}
        assert set(ep.signals) == {"annotation.human.action.task_description", "annotation.human.validity"}
        assert ep.success is None and ep.metadata["success_from"] is None  # next.done is not a success flag


def test_gr00t_frames_decode_lazily_to_256x256(gr00t_read) -> None:
    cam = gr00t_read[1][4].cameras[EGO]
    got = dict(cam.frames([0, 1, 327]))
    assert sorted(got) == [0, 1, 327]
    assert all(f.shape == (256, 256, 3) and f.dtype == np.uint8 for f in got.values())
    assert psnr(got[0], got[327]) < psnr(got[0], got[1])  # the scene moves over the episode


def test_options_override_embodiment_tier_robot_type_and_camera_map(gr00t: Path) -> None:
    adapter = LeRobotSource(
        {
            "embodiment": "human",
            "tier": "low",
            "robot_type": "gr1",
            "camera_map": {"ego_view": "third_person"},
            "cameras": ["ego_view"],
        }
    )
    ep = adapter.read(next(adapter.discover(gr00t)))
    assert (ep.embodiment, ep.tier, ep.robot_type) == ("human", QualityTier.low, "gr1")
    assert ep.cameras[EGO].canonical == Camera.third_person
    with pytest.raises(ValidationError, match="unknown embodiment"):
        LeRobotSource({"embodiment": "gr1_humanoid"})
    with pytest.raises(ValidationError):
        LeRobotSource({"timestamp_offset": "sometimes"})


@pytest.mark.parametrize(
    ("name", "camera"),
    [
        ("cam_high", Camera.head),
        ("ego_view", Camera.head),
        ("top", Camera.head),
        ("front", Camera.head),
        ("cam_left_wrist", Camera.wrist_left),
        ("left_wrist_rgb", Camera.wrist_left),
        ("wrist_right", Camera.wrist_right),
        ("wrist", Camera.wrist_right),
        ("robot0_eye_in_hand", Camera.wrist_right),
        ("cam_low", Camera.third_person),
        ("agentview", Camera.third_person),
        ("exterior_image_1_left", Camera.third_person),
        ("image", None),
    ],
)
def test_camera_name_heuristics(name: str, camera: Camera | None) -> None:
    assert canonical_camera(name) == camera


# ---------------------------------------------------------------------------------------------------------------
# A v2.1 dataset written by our writer reads back exactly.


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[list[dict]]]:
    root = tmp_path_factory.mktemp("ours") / "franka_demo"
    return root, write_canonical_dataset(root, [12, 7], tasks=["pick the cube", "open the drawer"])


def test_our_v21_dataset_reads_back_exactly(ours) -> None:
    root, written = ours
    adapter = LeRobotSource()
    refs = list(adapter.discover(root))
    assert [(r.subset, r.raw_id, r.error) for r in refs] == [
        ("franka_demo", "episode_000000", None),
        ("franka_demo", "episode_000001", None),
    ]
    assert quirk_report(adapter, root) == []  # what our writer writes is clean v2.1
    for ref, frames, task in zip(refs, written, ["pick the cube", "open the drawer"], strict=True):
        ep = adapter.read(ref)
        n = len(frames)
        for key, streams in (
            ("observation.state", ep.states),
            ("observation.state.native", ep.states),
            ("observation.hand_keypoints", ep.states),
            ("action", ep.actions),
            ("action.native", ep.actions),
        ):
            want = np.stack([f[key] for f in frames])
            assert streams[key].values.dtype == np.float32
            np.testing.assert_array_equal(streams[key].values, want)  # bit for bit
        np.testing.assert_array_equal(ep.states["observation.state"].timestamps, np.float32(np.arange(n) / 10))
        assert ep.metadata["timestamp_offset_s"] == 0.0 and ep.metadata["episode_quirks"] == []
        assert ep.language == [type(ep.language[0])(task)]
        assert (ep.robot_type, ep.embodiment, ep.native_fps) == ("franka", "franka", 10.0)
        assert {k: c.canonical for k, c in ep.cameras.items()} == {
            "observation.images.head": Camera.head,
            "observation.images.wrist_right": Camera.wrist_right,
        }
        for key, cam in ep.cameras.items():
            decoded = dict(cam.frames())
            assert len(decoded) == len(cam) == n
            assert min(psnr(decoded[i], frames[i][key]) for i in range(n)) > 30


# ---------------------------------------------------------------------------------------------------------------
# Bad input: per-episode errors (others still discovered and readable) or quirks.


@pytest.fixture
def damaged(ours, tmp_path: Path) -> Path:
    root = tmp_path / "franka_demo"
    shutil.copytree(ours[0], root)
    return root


def _discover(root: Path, **opts) -> tuple[LeRobotSource, dict[str, EpisodeRef]]:
    adapter = LeRobotSource(opts)
    return adapter, {r.raw_id: r for r in adapter.discover(root)}


def _others_fine(adapter: LeRobotSource, refs: dict[str, EpisodeRef], bad: str) -> None:
    for raw_id, ref in refs.items():
        if raw_id != bad:
            assert ref.error is None
            assert len(adapter.read(ref).states["observation.state"]) > 0


@pytest.mark.parametrize("fault", ["missing_parquet", "unreadable_parquet"])
def test_bad_data_parquet_is_a_per_episode_error(damaged: Path, fault: str) -> None:
    touched = inject_fault(damaged, fault, episode=1)
    adapter, refs = _discover(damaged)
    assert list(refs) == ["episode_000000", "episode_000001"]
    bad = refs["episode_000001"]
    assert bad.error and ("missing" if fault == "missing_parquet" else "unreadable parquet") in bad.error
    with pytest.raises(AdapterError) as info:
        adapter.read(bad)
    err = info.value
    assert (err.adapter, err.file, err.episode, err.field) == ("lerobot", str(touched), "episode_000001", "data_path")
    _others_fine(adapter, refs, "episode_000001")
    code = "missing_data_files" if fault == "missing_parquet" else "unreadable_parquet"
    assert code in {q["code"] for q in quirk_report(adapter, damaged)}


def test_length_mismatch_is_a_quirk_and_the_rows_are_read(damaged: Path) -> None:
    inject_fault(damaged, "length_mismatch", episode=1)
    adapter, refs = _discover(damaged)
    assert all(r.error is None for r in refs.values())
    ep = adapter.read(refs["episode_000001"])
    assert len(ep.states["observation.state"]) == 7 and ep.metadata["meta_length"] == 10
    assert [q["code"] for q in ep.metadata["episode_quirks"]] == ["episode_length_mismatch"]
    assert "episode_length_mismatch" in {q["code"] for q in quirk_report(adapter, damaged)}
    assert adapter.read(refs["episode_000000"]).metadata["episode_quirks"] == []


def test_declared_camera_without_files_is_skipped_with_a_quirk(damaged: Path) -> None:
    inject_fault(damaged, "ghost_camera")
    adapter, refs = _discover(damaged)
    assert all(r.error is None for r in refs.values())
    ep = adapter.read(refs["episode_000000"])
    assert sorted(ep.cameras) == ["observation.images.head", "observation.images.wrist_right"]
    ghost = [q for q in ep.metadata["quirks"] if q["code"] == "ghost_camera"]
    assert len(ghost) == 1 and "observation.images.ghost_cam" in ghost[0]["message"]
    # Asked for by name, the ghost fails every episode, naming the camera.
    adapter, refs = _discover(damaged, cameras=["ghost_cam", "head"])
    assert all(r.error for r in refs.values())
    with pytest.raises(AdapterError) as info:
        adapter.read(refs["episode_000000"])
    assert (info.value.field, info.value.episode) == ("observation.images.ghost_cam", "episode_000000")


def test_mp4_missing_for_one_episode_fails_that_episode(damaged: Path) -> None:
    mp4 = inject_fault(damaged, "missing_mp4", episode=1)
    adapter, refs = _discover(damaged)
    with pytest.raises(AdapterError) as info:
        adapter.read(refs["episode_000001"])
    assert (info.value.file, info.value.field) == (str(mp4), "observation.images.head")
    _others_fine(adapter, refs, "episode_000001")


def test_unreadable_mp4_fails_at_read_naming_the_camera(damaged: Path) -> None:
    mp4 = damaged / "videos/chunk-000/observation.images.wrist_right/episode_000000.mp4"
    mp4.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"garbage" * 10)
    adapter, refs = _discover(damaged)
    assert refs["episode_000000"].error is None  # discovery opens no video
    with pytest.raises(AdapterError) as info:
        adapter.read(refs["episode_000000"])
    assert (info.value.file, info.value.field) == (str(mp4), "observation.images.wrist_right")
    assert "unreadable mp4" in str(info.value)
    _others_fine(adapter, refs, "episode_000000")


def test_a_folder_of_datasets_goes_on_past_a_broken_one(ours, tmp_path: Path) -> None:
    shutil.copytree(ours[0], tmp_path / "a_good")
    broken = tmp_path / "b_broken"
    shutil.copytree(ours[0], broken)
    (broken / "meta/info.json").write_text("{not json", encoding="utf-8")
    adapter = LeRobotSource()
    refs = list(adapter.discover(tmp_path))
    expected = [("a_good", "episode_000000", True), ("a_good", "episode_000001", True), ("b_broken", "meta", False)]
    assert [(r.subset, r.raw_id, r.error is None) for r in refs] == expected
    assert "not valid JSON" in refs[-1].error
    with pytest.raises(AdapterError) as info:
        adapter.read(refs[-1])
    assert info.value.file == str(broken / "meta/info.json")
    assert len(adapter.read(refs[0]).states["observation.state"]) == 12
    assert [r.subset for r in LeRobotSource({"subset": "a_good"}).discover(tmp_path)] == ["a_good", "a_good"]


def _rename_camera(root: Path, old: str, new: str) -> None:
    info = json.loads((root / "meta/info.json").read_text(encoding="utf-8"))
    info["features"] = {(new if k == old else k): v for k, v in info["features"].items()}
    (root / "meta/info.json").write_text(json.dumps(info, indent=4), encoding="utf-8")
    (root / "videos/chunk-000" / old).rename(root / "videos/chunk-000" / new)


def test_camera_mapping_lone_unmatched_taken_slot_and_explicit_map(damaged: Path) -> None:
    _rename_camera(damaged, "observation.images.head", "observation.images.image")
    ep = LeRobotSource({"max_episodes": 1}).read(next(LeRobotSource().discover(damaged)))
    assert {k: c.canonical for k, c in ep.cameras.items()} == {
        "observation.images.image": Camera.head,  # the lone unmatched camera is the main one
        "observation.images.wrist_right": Camera.wrist_right,
    }
    _rename_camera(damaged, "observation.images.wrist_right", "observation.images.cam_high")
    adapter = LeRobotSource()
    ep = adapter.read(next(adapter.discover(damaged)))
    assert {k: c.canonical for k, c in ep.cameras.items()} == {
        "observation.images.image": None,
        "observation.images.cam_high": Camera.head,
    }
    adapter = LeRobotSource({"camera_map": {"observation.images.image": "head", "cam_high": "third_person"}})
    ep = adapter.read(next(adapter.discover(damaged)))
    assert {k: c.canonical for k, c in ep.cameras.items()} == {
        "observation.images.image": Camera.head,
        "observation.images.cam_high": Camera.third_person,
    }
    assert ep.metadata["camera_map"] == {
        "observation.images.image": "head",
        "observation.images.cam_high": "third_person",
    }


def test_without_video_the_first_row_moves_to_zero(gr00t: Path, tmp_path: Path) -> None:
    root = tmp_path / "gr00t_no_video"
    for part in ("meta", "data"):
        shutil.copytree(gr00t / part, root / part)
    adapter = LeRobotSource({"max_episodes": 1})
    ep = adapter.read(next(adapter.discover(root)))
    assert ep.cameras == {}
    assert [q["code"] for q in quirk_report(adapter, root)].count("ghost_camera") == 2
    assert ep.states["state.neck"].timestamps[0] == 0.0
    assert "no video" in next(q["message"] for q in ep.metadata["episode_quirks"] if "offset" in q["code"])


def test_image_features_stored_in_the_parquet_are_cameras(damaged: Path) -> None:
    key = "observation.images.png_cam"
    info = json.loads((damaged / "meta/info.json").read_text(encoding="utf-8"))
    info["features"][key] = {"dtype": "image", "shape": [8, 10, 3], "names": ["height", "width", "channels"]}
    (damaged / "meta/info.json").write_text(json.dumps(info, indent=4), encoding="utf-8")
    rng = np.random.default_rng(0)
    written = {}
    for ep in (0, 1):
        path = damaged / f"data/chunk-000/episode_{ep:06d}.parquet"
        table = pq.read_table(path)
        written[ep] = rng.integers(0, 255, size=(table.num_rows, 8, 10, 3), dtype=np.uint8)
        pngs = [cv2.imencode(".png", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in written[ep]]
        column = pa.StructArray.from_arrays(
            [pa.array(pngs), pa.array([None] * len(pngs), pa.string())], ["bytes", "path"]
        )
        pq.write_table(table.append_column(key, column), path)
    adapter, refs = _discover(damaged, cameras=["png_cam"], camera_map={"png_cam": "third_person"})
    ep = adapter.read(refs["episode_000001"])
    cam = ep.cameras[key]
    assert list(ep.cameras) == [key] and cam.canonical == Camera.third_person and (cam.height, cam.width) == (8, 10)
    np.testing.assert_array_equal(cam.timestamps, ep.states["observation.state"].timestamps)
    np.testing.assert_array_equal(np.stack([f for _, f in cam.frames()]), written[1])  # PNG: lossless


def test_success_column_and_action_config_segments(damaged: Path) -> None:
    for ep, flag in ((0, True), (1, False)):
        path = damaged / f"data/chunk-000/episode_{ep:06d}.parquet"
        table = pq.read_table(path)
        values = np.zeros(table.num_rows, dtype=bool)
        values[-1] = flag
        pq.write_table(table.append_column("next.success", pa.array(values)), path)
    episodes = damaged / "meta/episodes.jsonl"
    rows = [json.loads(line) for line in episodes.read_text(encoding="utf-8").splitlines()]
    rows[0]["action_config"] = [
        {"start_frame": 0, "end_frame": 5, "action_text": "reach"},
        {"start_frame": 5, "end_frame": 12, "action_text": "grasp"},
    ]
    episodes.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    adapter, refs = _discover(damaged)
    first, second = adapter.read(refs["episode_000000"]), adapter.read(refs["episode_000001"])
    assert (first.success, first.metadata["success_from"]) == (True, "next.success")
    assert second.success is False
    assert [(s.start_frame, s.end_frame, s.action_text) for s in first.action_config] == [
        (0, 5, "reach"),
        (5, 12, "grasp"),
    ]
    assert second.action_config is None
    assert "next.success" in first.outcomes


def test_discovery_opens_no_video(gr00t: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("discover opened a video")

    monkeypatch.setattr(av, "open", refuse)
    assert len(list(LeRobotSource().discover(gr00t))) == 5


def test_timestamps_drifting_from_the_video_are_left_alone(damaged: Path) -> None:
    path = damaged / "data/chunk-000/episode_000000.parquet"
    table = pq.read_table(path)
    i = table.column_names.index("timestamp")
    stretched = pa.array((table["timestamp"].to_numpy() * 1.5).astype(np.float32))
    pq.write_table(table.set_column(i, "timestamp", stretched), path)
    adapter, refs = _discover(damaged, validate_data=False)
    ep = adapter.read(refs["episode_000000"])
    assert ep.metadata["timestamp_offset_s"] == 0.0
    np.testing.assert_array_equal(ep.states["observation.state"].timestamps, stretched.to_numpy())
    assert [q["code"] for q in ep.metadata["episode_quirks"]] == ["timestamp_video_drift"]


def test_a_videos_folder_gone_after_discovery_is_never_read_as_a_dataset_without_cameras(
    gr00t: Path, tmp_path: Path
) -> None:
    """Review 7 f6: `videos/` moved away just after discovery and put back: every episode was written without its
    camera (the read-time meta took it for a ghost), exit 0, and the rerun kept them so. Now a read refuses as the
    environment's (`SourceVanishedError`: the job defers, exit 75) in the instance that discovered (its meta cached)
    and in a worker's fresh one; a worker whose meta was loaded while the folder was away loads it again once it
    is back, and reads the camera."""
    copy = Path(shutil.copytree(gr00t, tmp_path / "gr00t"))
    adapter = LeRobotSource()
    refs = list(adapter.discover(copy))
    assert all(len(r.paths) == 2 and r.paths[1].endswith(".mp4") for r in refs)
    (copy / "videos").rename(tmp_path / "away")
    late = LeRobotSource()
    assert EGO not in late.dataset(copy).cameras  # loaded while away: a ghost to this instance's meta
    for reader in (adapter, late, LeRobotSource()):
        with pytest.raises(SourceVanishedError, match="files discovery found are gone since"):
            reader.read(refs[1])
    (tmp_path / "away").rename(copy / "videos")
    raw = late.read(refs[1])
    assert list(raw.cameras) == [EGO] and len(raw.cameras[EGO]) == LENGTHS[1]
    # one camera's file gone for one episode: its read defers too (not "no mp4", a permanent data quarantine)
    Path(refs[2].paths[1]).rename(tmp_path / "one.mp4")
    with pytest.raises(SourceVanishedError):
        LeRobotSource().read(refs[2])
