"""Humanoid Everyday through the adapter and the ingest's own steps, on a task written here in the maker's layout
(`tests/fixtures/writers/humanoid_everyday.py`: a `<task>.zip` of `<task>/episode_<n>/` folders, `data.json` with the
README's keys, PNG frames): discovery reads the zip's directory only; a G1 episode comes out canonical by FK of its
arm joints through `g1_arms` (physical invariants: each wrist within its arm's reach of its shoulder, ahead of the
torso, the left one left of the right in every frame), its command moves and is kept; an H1_2 episode likewise
through `h1_2_arms`; the rate is the time stamps'; frames decode from the zip in place; a malformed `data.json` is
refused naming the file, the episode and the field, and the other episode still reads (each field's check:
test_steps.py).

The egocentric camera (`adapters/humanoid_everyday/adapter.py`): frames decoded lazily from the zip or the folder,
the same pixels either way, in the order asked; a broken or resized image raises a FrameError naming the episode,
the step and the path.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from adapters.base import AdapterError, RawEpisode
from adapters.humanoid_everyday.adapter import FrameError, HumanoidEverydayAdapter, StepImagesCamera, read_frame
from adapters.humanoid_everyday.task import Episode
from adapters.registry import get_adapter
from adapters.storage.location import locate
from schemas.actions import ActionKind, action_kind
from schemas.canonical import FINGERTIPS_XYZ, GRIPPER, WRIST_POS, WRIST_ROT6D, Camera, hand_dims
from tests.fixtures.offline import prepared
from tests.fixtures.writers.humanoid_everyday import HZ, EpisodeSpec, steps_of, write_task

TASK = "push_a_button"
SPECS = [EpisodeSpec(robot="g1", seed=0, leading_null=3), EpisodeSpec(robot="h1", seed=1)]
# g1_arms.urdf by hand: the shoulder pitch joint in the pelvis frame with the waist at zero = waist_roll_joint
# (-0.0039635, 0, 0.044) + left_shoulder_pitch_joint (0.0039563, 0.10022, 0.24778); the longest the chain from there to
# the wrist-yaw origin can be is the sum of its joint offsets (roll 0.0404, yaw 0.1034, elbow 0.0821, wrist roll
# 0.1005, pitch 0.038, yaw 0.046 m)
G1_SHOULDER = np.array([-0.0039635 + 0.0039563, 0.10022, 0.044 + 0.24778])
G1_REACH = 0.0404 + 0.1034 + 0.0821 + 0.1005 + 0.038 + 0.046
# h1_2_arms.urdf likewise: left_shoulder_pitch_joint at (0, 0.14806, 0.42333) of the pelvis (torso_joint at its origin);
# the offsets after it: shoulder roll 0.07106, yaw 0.14956, elbow pitch 0.18505, elbow roll 0.12587, wrist pitch 0.085,
# wrist yaw 0.020 m
H1_2_SHOULDER = np.array([0.0, 0.14806, 0.42333])
H1_2_REACH = 0.07106 + 0.14956 + 0.18505 + 0.12587 + 0.085 + 0.020


@pytest.fixture(scope="module")
def task_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_task(tmp_path_factory.mktemp("he"), TASK, SPECS)


def _read(root: Path, **options: object) -> list[RawEpisode]:
    adapter = HumanoidEverydayAdapter(options)
    refs = list(adapter.discover(root))
    assert all(r.error is None for r in refs), [r.error for r in refs]
    return [adapter.read(r) for r in refs]


def test_registered_by_name() -> None:
    assert isinstance(get_adapter("humanoid_everyday"), HumanoidEverydayAdapter)


def test_a_zip_and_its_extracted_folder_give_the_same_episodes(task_zip: Path, tmp_path: Path) -> None:
    """Ids `<task>/episode_<n>` from the zip (its root folder named like the task) and from the folder it extracts
    to; discovery lists the zip's members and writes nothing beside it."""
    before = sorted(p.name for p in task_zip.parent.iterdir())
    refs = list(HumanoidEverydayAdapter().discover(task_zip.parent))
    assert [(r.raw_id, r.subset) for r in refs] == [(f"{TASK}/episode_0", TASK), (f"{TASK}/episode_1", TASK)]
    with zipfile.ZipFile(task_zip) as z:
        z.extractall(tmp_path)
    extracted = list(HumanoidEverydayAdapter().discover(tmp_path))
    assert [(r.raw_id, r.subset) for r in extracted] == [(r.raw_id, r.subset) for r in refs]
    one = list(HumanoidEverydayAdapter().discover(tmp_path / TASK / "episode_1"))
    assert [r.raw_id for r in one] == [f"{TASK}/episode_1"]
    _read(tmp_path)
    assert sorted(p.name for p in task_zip.parent.iterdir()) == before


def test_a_zip_without_a_root_folder(tmp_path: Path) -> None:
    """The maker's loader also takes zips whose episode folders sit at the top (core.py:69-79)."""
    src = write_task(tmp_path / "src", TASK, SPECS[:1])
    out = tmp_path / "flat" / f"{TASK}.zip"
    out.parent.mkdir()
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out, "w") as b:
        for info in a.infolist():
            b.writestr(info.filename.removeprefix(f"{TASK}/"), a.read(info))
    [raw] = _read(out.parent)
    assert raw.ref.raw_id == f"{TASK}/episode_0" and raw.embodiment == "unitree_g1_dex3"


def test_a_dataset_tree_of_categories_and_the_makers_descriptions(tmp_path: Path) -> None:
    """`<dataset>/<category>/<task>/episode_<n>/` as the maker's LeRobot conversion walks it (he2lerobot.py:51-56),
    each task's instruction from its `task_description_dict.json` (scripts/) when it names the task, else its name."""
    write_task(tmp_path / "loco", "squat_to_pick_a_box", SPECS[:1], zipped=False)
    write_task(tmp_path / "basic", "wipe_the_table", SPECS[1:], zipped=False)
    table = {"squat_to_pick_a_box": "Squat to pick a box and stand to put it on the desk."}
    (tmp_path / "task_description_dict.json").write_text(json.dumps(table))
    raws = _read(tmp_path)
    assert [r.ref.raw_id for r in raws] == ["basic/wipe_the_table/episode_0", "loco/squat_to_pick_a_box/episode_0"]
    assert [r.language[0].text for r in raws] == ["wipe the table", table["squat_to_pick_a_box"]]
    assert [r.ref.subset for r in raws] == ["wipe_the_table", "squat_to_pick_a_box"]


def test_g1_wrists_by_fk_within_reach_left_of_right(task_zip: Path) -> None:
    raw = _read(task_zip.parent)[0]
    assert raw.embodiment == "unitree_g1_dex3" and raw.robot_type == "unitree_g1"
    [ep] = prepared(raw)
    assert ep.mask[hand_dims(0, WRIST_POS)].all() and ep.mask[hand_dims(1, WRIST_POS)].all()
    assert ep.mask[hand_dims(0, WRIST_ROT6D)].all() and ep.mask[hand_dims(1, WRIST_ROT6D)].all()
    left, right = (ep.state[:, hand_dims(h, WRIST_POS)].astype(np.float64) for h in (0, 1))
    for wrist, side in ((left, 1.0), (right, -1.0)):
        to_shoulder = np.linalg.norm(wrist - G1_SHOULDER * [1.0, side, 1.0], axis=1)
        assert (to_shoulder < G1_REACH).all() and (to_shoulder > 0.1).all()
        assert (wrist[:, 0] > 0.1).all()  # ahead of the torso
        assert np.ptp(wrist, axis=0).max() > 0.02  # it moves with the joints
    assert (left[:, 1] > right[:, 1] + 0.1).all()
    assert ep.qa is not None and ep.qa.left_of_right == 1.0
    assert action_kind(ep.mask, ep.natives.action) is ActionKind.canonical


def test_g1_command_is_the_ik_solution_and_it_moves(task_zip: Path) -> None:
    """`actions.sol_q` (the IK's arm targets, named as the arm state) and the hands' targets are the action; the
    teleoperator's poses stay natives of the state, never the action."""
    raw = _read(task_zip.parent)[0]
    assert list(raw.actions) == ["actions.sol_q", "actions.left_angles", "actions.right_angles"]
    assert raw.actions["actions.sol_q"].names == raw.states["states.arm_state"].names
    [ep] = prepared(raw)
    assert ep.natives.action is not None and ep.natives.action.shape[1] == 28
    names = ep.natives.action_names
    sol = [i for i, n in enumerate(names) if n.startswith("actions.sol_q.")]
    assert len(sol) == 14 and np.ptp(ep.natives.action[:, sol], axis=0).max() > 0.1
    assert not any("pose" in n or "head_rmat" in n for n in names)
    assert any(n.startswith("actions.left_pose") for n in ep.natives.state_names)
    # the recorded command at 10 Hz: each frame holds the file's sol_q of the step at or before its time (the rows sit
    # on a wall clock, so never a blend of two)
    doc = steps_of(SPECS[0])[SPECS[0].leading_null :]
    t = np.array([s["time"] for s in doc]) - doc[0]["time"]
    rows = np.searchsorted(t, ep.timestamps + 1e-9, side="right") - 1
    sol_q = np.array([s["actions"]["sol_q"] for s in doc])
    assert np.allclose(ep.natives.action[:, sol], sol_q[rows], atol=1e-6)


def test_rate_from_the_time_stamps_and_leading_steps_without_actions(task_zip: Path) -> None:
    raw = _read(task_zip.parent)[0]
    assert raw.native_fps == pytest.approx(HZ, rel=0.01)
    assert raw.metadata["rate_from"].startswith("time stamps: median step")
    assert raw.metadata["steps_without_actions_dropped"] == 3
    assert len(raw.states["states.arm_state"]) == SPECS[0].steps - 3 == len(raw.cameras["egocentric"])
    assert raw.states["states.arm_state"].timestamps[0] == 0.0
    assert set(raw.metadata["not_read"]) == {"depth", "lidar", "states.hand_pressure_state"}


def test_h1_2_wrists_by_fk_of_the_recorders_own_model(task_zip: Path) -> None:
    """H1_2 through `h1_2_arms` (the recorder's IK model): each wrist within its arm's reach of its shoulder, ahead,
    left of right; its Inspire hands give fingertips, no gripper opening is made up."""
    raw = _read(task_zip.parent)[1]
    assert raw.embodiment == "unitree_h1_2" and raw.robot_type == "unitree_h1_2"
    assert raw.states["states.arm_state"].names[3:5] == ("kLeftElbowPitch", "kLeftElbowRoll")  # type: ignore[index]
    assert "states.odometry.position" not in raw.signals  # H1_2 records no odometry (null)
    [ep] = prepared(raw)
    left, right = (ep.state[:, hand_dims(h, WRIST_POS)].astype(np.float64) for h in (0, 1))
    for wrist, side in ((left, 1.0), (right, -1.0)):
        to_shoulder = np.linalg.norm(wrist - H1_2_SHOULDER * [1.0, side, 1.0], axis=1)
        assert (to_shoulder < H1_2_REACH).all() and (to_shoulder > 0.1).all() and (wrist[:, 0] > 0.1).all()
    assert (left[:, 1] > right[:, 1] + 0.1).all()
    assert not ep.mask[hand_dims(0, GRIPPER)].any() and not ep.mask[hand_dims(1, GRIPPER)].any()
    assert ep.natives.action is not None and ep.natives.action.shape[1] == 14 + 12 + 12
    assert action_kind(ep.mask, ep.natives.action) is ActionKind.canonical


def test_h1_2_inspire_fingertips_follow_the_recorded_hand_values(task_zip: Path) -> None:
    """H1_2's `hand_state` as the recorder writes it (the right hand's six Inspire values first, 1 = open: steps.py):
    the fixture's right hand closes and opens, its left stays open. At every 10 Hz frame the right fingertips pull
    towards the wrist as the recorded right values fall (and the action's as the next frame's fall); the left
    fingertips hold the open hand, the middle one a hand's length (> 0.25 m: 0.054 m mount + 0.137 m palm + the finger)
    along the approach axis. Reading the left six first, or 1 as closed, breaks both."""
    raw = _read(task_zip.parent)[1]
    hand = raw.states["states.hand_state"]
    [ep] = prepared(raw)
    assert ep.mask[hand_dims(0, FINGERTIPS_XYZ)].all() and ep.mask[hand_dims(1, FINGERTIPS_XYZ)].all()
    values = np.asarray(hand.values, np.float64)
    middles = (("right", 2), ("left", 8))  # kRightHandMiddle, kLeftHandMiddle in the recorder's order
    recorded = {side: np.interp(ep.timestamps, hand.timestamps, values[:, k]) for side, k in middles}
    nxt = np.minimum(np.arange(len(ep.timestamps)) + 1, len(ep.timestamps) - 1)
    for hand_i, side in ((0, "left"), (1, "right")):
        for vec, when in ((ep.state, np.arange(len(nxt))), (ep.action, nxt)):
            tips = vec[:, hand_dims(hand_i, FINGERTIPS_XYZ)].astype(np.float64).reshape(-1, 5, 3)
            middle = np.linalg.norm(tips[:, 2], axis=1)
            opened = recorded[side][when]
            assert (tips[opened > 0.99, 2, 2] > 0.25).all(), (side, tips[:, 2])  # open: a hand length along z
            if np.ptp(opened) < 1e-6:
                assert np.ptp(middle) < 1e-6, (side, middle)  # a hand whose record holds still holds still
            else:
                assert np.corrcoef(opened, middle)[0, 1] > 0.95, (side, opened, middle)
                assert middle[opened.argmin()] < middle[opened.argmax()] - 0.05  # closing pulls the tip in
    assert np.ptp(recorded["right"]) > 0.5 and np.ptp(recorded["left"]) == 0.0  # the fixture moves the right hand


def test_frames_decode_from_the_zip_in_order(task_zip: Path) -> None:
    raw = _read(task_zip.parent)[0]
    cam = raw.cameras["egocentric"]
    assert cam.canonical is Camera.head and (cam.height, cam.width) == (480, 640)
    assert cam.intrinsics is not None and cam.intrinsics[0, 0] == pytest.approx(389.07278)
    frames = dict(cam.frames([0, 5, 20]))
    for i, rgb in frames.items():
        assert tuple(rgb[5, 5]) == (230, 20, 20)
        assert rgb[0, 40, 2] == i + SPECS[0].leading_null  # the step the writer drew, after the dropped ones


def _bad(tmp_path: Path, doc: object) -> AdapterError:
    """The error reading episode 0 of a task whose episode 0 `data.json` is `doc`; episode 1 must still read."""
    z = write_task(tmp_path, TASK, SPECS, docs={0: doc})
    adapter = HumanoidEverydayAdapter()
    refs = list(adapter.discover(tmp_path))
    adapter.read(refs[1])
    with pytest.raises(AdapterError) as info:
        adapter.read(refs[0])
    assert info.value.file == f"{z}!{TASK}/episode_0/data.json" and info.value.episode == f"{TASK}/episode_0"
    return info.value


def _steps() -> list[dict]:
    return steps_of(SPECS[0])


def test_a_document_that_is_not_a_list_of_steps(tmp_path: Path) -> None:
    err = _bad(tmp_path, {"steps": _steps()})
    assert err.field == "data.json" and "not the list of steps" in err.reason


def test_a_missing_joint_state_is_named_with_its_step(tmp_path: Path) -> None:
    doc = _steps()
    del doc[7]["states"]["arm_state"]
    err = _bad(tmp_path, doc)
    assert err.field == "[7].states.arm_state" and "missing" in err.reason


def test_an_image_outside_its_episode(tmp_path: Path) -> None:
    doc = _steps()
    doc[4]["image"] = "../episode_1/color/frame_000004.png"
    err = _bad(tmp_path, doc)
    assert err.field == "[4].image" and "not in the episode" in err.reason


def test_not_json(tmp_path: Path) -> None:
    z = write_task(tmp_path, TASK, SPECS[:1])
    with zipfile.ZipFile(z, "a") as f:
        f.writestr(f"{TASK}/episode_9/data.json", b"{not json")
    refs = list(HumanoidEverydayAdapter().discover(tmp_path))
    with pytest.raises(AdapterError) as info:
        HumanoidEverydayAdapter().read(refs[-1])
    assert info.value.field == "data.json" and info.value.file == f"{z}!{TASK}/episode_9/data.json"
    assert json.loads(zipfile.ZipFile(z).read(f"{TASK}/episode_0/data.json"))  # the rest of the zip is intact


def test_a_member_folder_that_leaves_the_zip_is_flagged(tmp_path: Path) -> None:
    """A member named `t/../../evil/data.json` is no episode folder of the zip: its ref is flagged at discovery and
    reading it raises that, naming the zip, before anything is opened."""
    z = write_task(tmp_path, TASK, SPECS[:1])
    with zipfile.ZipFile(z, "a") as f:
        f.writestr(f"{TASK}/../../evil/data.json", b"[]")
    adapter = HumanoidEverydayAdapter()
    refs = list(adapter.discover(tmp_path))
    bad = [r for r in refs if r.error is not None]
    assert len(refs) == 2 and len(bad) == 1 and "not a plain path inside the zip" in bad[0].error
    with pytest.raises(AdapterError) as info:
        adapter.read(bad[0])
    assert info.value.field == "zip" and info.value.file == str(z)


def _camera(episode: Episode, n: int) -> StepImagesCamera:
    images = [f"color/frame_{i:06d}.png" for i in range(n)]
    with episode.files() as f:
        first = read_frame(f, images[0], 0)
    return StepImagesCamera(episode, images, "egocentric", Camera.head, np.arange(n) / 30.0, first)


def test_zip_and_folder_give_the_same_frames(tmp_path: Path) -> None:
    z = write_task(tmp_path / "z", "t", [EpisodeSpec(steps=6)])
    folder = write_task(tmp_path / "f", "t", [EpisodeSpec(steps=6)], zipped=False)
    a = dict(_camera(Episode(zip_path=locate(z), folder="t/episode_0"), 6).frames([1, 4]))
    b = dict(_camera(Episode(zip_path=None, folder=locate(folder / "episode_0")), 6).frames([1, 4]))
    assert list(a) == [1, 4] and all(np.array_equal(a[i], b[i]) for i in a)
    assert a[4][0, 40, 2] == 4 and a[1].shape == (480, 640, 3)


def test_a_broken_or_resized_frame_is_named(tmp_path: Path) -> None:
    folder = write_task(tmp_path, "t", [EpisodeSpec(steps=4)], zipped=False) / "episode_0"
    (folder / "color" / "frame_000002.png").write_bytes(b"not an image")
    _, small = cv2.imencode(".png", np.zeros((48, 64, 3), np.uint8))
    (folder / "color" / "frame_000003.png").write_bytes(small.tobytes())
    cam = _camera(Episode(zip_path=None, folder=locate(folder)), 4)
    with pytest.raises(FrameError, match=r"episode_0: step 2 image 'color/frame_000002\.png': not a decodable image"):
        list(cam.frames([2]))
    with pytest.raises(FrameError, match=r"step 3 image .* is 64x48, frame 0 640x480"):
        list(cam.frames([3]))
