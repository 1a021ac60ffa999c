"""EgoDex adapter: the 21-joint map, values read back against what the fixture writer wrote, quirks, bad input."""

from __future__ import annotations

from pathlib import Path

import av
import h5py
import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.egodex.adapter import (
    MANO21_FROM_EGODEX,
    MANO21_JOINTS,
    REQUIRED,
    EgoDexAdapter,
    choose_description,
    mano21_keypoints,
)
from adapters.registry import get_adapter
from adapters.synthetic.egodex import JOINTS, EgoDexFixture, write_egodex
from adapters.synthetic.video import synthetic_frame
from schemas.canonical import MANO21_NAMES, Camera
from schemas.tiers import QualityTier
from tests.fixtures.corrupt import EGODEX_BAD_CASES, write_egodex_bad


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> EgoDexFixture:
    return write_egodex_bad(tmp_path_factory.mktemp("egodex"), EGODEX_BAD_CASES)


@pytest.fixture(scope="module")
def adapter() -> EgoDexAdapter:
    return get_adapter("egodex")  # type: ignore[return-value]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


# -- the 21-joint map ------------------------------------------------------------------------------------------------


def test_mano21_map_follows_canonical_order_and_names_real_joints() -> None:
    assert tuple(MANO21_FROM_EGODEX) == MANO21_NAMES
    left, right = MANO21_JOINTS
    assert left[0] == "leftHand" and right[0] == "rightHand"
    assert left[1:5] == ("leftThumbKnuckle", "leftThumbIntermediateBase", "leftThumbIntermediateTip", "leftThumbTip")
    assert left[5:9] == tuple(f"leftIndexFinger{p}" for p in ("Knuckle", "IntermediateBase", "IntermediateTip", "Tip"))
    assert right[17:] == tuple(
        f"rightLittleFinger{p}" for p in ("Knuckle", "IntermediateBase", "IntermediateTip", "Tip")
    )
    assert all(j in JOINTS for j in (*left, *right))
    assert not any("Metacarpal" in j for j in (*left, *right))


def test_mano21_keypoints_places_translations_left_0_right_1() -> None:
    T = 3
    transforms = {}
    for h, joints in enumerate(MANO21_JOINTS):
        for k, name in enumerate(joints):
            m = np.tile(np.eye(4), (T, 1, 1))
            m[:, :3, 3] = [[100 * h + k, k + t, -k] for t in range(T)]
            transforms[name] = m
    transforms["leftIndexFingerMetacarpal"] = np.full((T, 4, 4), np.nan)  # ignored
    kp = mano21_keypoints(transforms)
    assert kp.shape == (T, 2, 21, 3)
    assert np.array_equal(kp[2, 0, 8], [8, 10, -8])  # left index tip at t=2
    assert np.array_equal(kp[0, 1, 0], [100, 0, 0])  # right wrist
    assert np.array_equal(kp[1, 1, 20], [120, 21, -20])  # right pinky tip at t=1


def test_mano21_keypoints_uses_translation_not_rotation() -> None:
    rot = np.array([[0, -1, 0, 0.5], [1, 0, 0, 0.25], [0, 0, 1, -1.0], [0, 0, 0, 1]], dtype=np.float32)
    transforms = {name: rot[None] for joints in MANO21_JOINTS for name in joints}
    assert np.allclose(mano21_keypoints(transforms), [0.5, 0.25, -1.0])


# -- discovery -------------------------------------------------------------------------------------------------------


def test_discovery_is_sorted_stable_and_complete(corpus: EgoDexFixture, adapter: EgoDexAdapter) -> None:
    first, second = list(adapter.discover(corpus.root)), list(adapter.discover(corpus.root))
    assert first == second
    ids = [r.raw_id for r in first]
    assert ids == sorted(ids) == sorted(e.raw_id for e in corpus.episodes)
    assert all(r.adapter == "egodex" and r.subset == "default" for r in first)
    assert [r.sort_key for r in first] == sorted(r.sort_key for r in first)


def test_discovery_reads_no_dataset_and_opens_no_video(corpus: EgoDexFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("discovery must not read this")

    monkeypatch.setattr(av, "open", refuse)
    monkeypatch.setattr(h5py.Dataset, "__getitem__", refuse)
    refs = list(EgoDexAdapter().discover(corpus.root))
    assert len(refs) == len(corpus.episodes)


def test_max_episodes_stops_discovery(corpus: EgoDexFixture) -> None:
    refs = list(EgoDexAdapter({"max_episodes": 2}).discover(corpus.root))
    assert [r.raw_id for r in refs] == sorted(e.raw_id for e in corpus.episodes)[:2]


# -- reading ---------------------------------------------------------------------------------------------------------


def test_read_returns_written_poses_streams_and_intrinsics(corpus: EgoDexFixture, adapter: EgoDexAdapter) -> None:
    refs = {r.raw_id: r for r in adapter.discover(corpus.root)}
    for ep in corpus.good:
        raw = adapter.read(refs[ep.raw_id])
        assert (raw.embodiment, raw.tier, raw.native_fps) == ("human", QualityTier.high, 30.0)
        ts = np.arange(ep.num_frames) / 30.0
        for joint in JOINTS:
            s = raw.states[f"transforms/{joint}"]
            assert s.values.dtype == np.float32 and s.values.shape == (ep.num_frames, 4, 4)
            assert np.array_equal(s.values, ep.transforms[joint])
            assert s.timestamps.dtype == np.float64 and np.allclose(s.timestamps, ts)
            assert (s.unit, s.frame) == ("se3_4x4", "arkit_world")
        assert "transforms/camera" not in raw.states
        pose = raw.camera_poses["camera"]
        assert np.array_equal(pose.values, ep.transforms["camera"]) and pose.frame == "arkit_world"
        cam = raw.cameras["camera"]
        assert cam.canonical is Camera.head and np.array_equal(cam.intrinsics, ep.intrinsic)
        assert (cam.height, cam.width, len(cam)) == (corpus.height, corpus.width, ep.num_frames)
        kp = raw.states["mano21_keypoints"]
        assert kp.values.shape == (ep.num_frames, 2, 21, 3) and kp.names == MANO21_NAMES
        assert np.array_equal(kp.values[:, 1, 4], ep.transforms["rightThumbTip"][:, :3, 3])
        conf = {k[len("confidences/") :]: s for k, s in raw.states.items() if k.startswith("confidences/")}
        assert set(conf) == set(ep.confidences)
        for joint, s in conf.items():
            assert np.array_equal(s.values, ep.confidences[joint]) and s.unit == "0..1"
        assert raw.metadata["has_confidences"] is (not ep.old)
        assert raw.metadata["pose_frames"] == raw.metadata["video_frames"] == ep.num_frames


def test_fixture_camera_is_opencv_as_apples_code_reads_it(corpus: EgoDexFixture) -> None:
    """The fixture writes `transforms/camera` as Apple's code reads it: `inv(T_world_cam) @ T_world_joint`
    (`convert_to_camera_frame`) puts the hands at z > 0, and K alone (`draw_line`'s `cv2.projectPoints`, no axis
    flip) projects them inside the image, the left hand on the image's left."""
    for ep in corpus.good:
        K = ep.intrinsic.astype(np.float64)
        cam = ep.transforms["camera"].astype(np.float64)
        for side in ("left", "right"):
            p = (np.linalg.inv(cam) @ ep.transforms[f"{side}Hand"].astype(np.float64))[:, :3, 3]
            assert np.median(p[:, 2]) > 0.2
            uv = p[:, :2] / p[:, 2:] @ K[:2, :2].T + K[:2, 2]
            assert ((uv >= 0) & (uv < [corpus.width, corpus.height])).all()
            assert (uv[:, 0] < corpus.width / 2).all() == (side == "left")


def test_hand_signals_declare_the_opencv_camera(corpus: EgoDexFixture, adapter: EgoDexAdapter) -> None:
    ref = next(r for r in adapter.discover(corpus.root) if r.error is None)
    sig = adapter.read(ref).hands
    assert sig.camera_convention == "opencv" and sig.camera is not None
    np.testing.assert_allclose(sig.up_world, [0, 1, 0])


def test_non_finite_intrinsic_names_its_field(tmp_path: Path) -> None:
    corpus = write_egodex(tmp_path, tasks=("basic_pick_place",), episodes_per_task=1, old_episode=False)
    ep = corpus.episodes[0]
    with h5py.File(ep.hdf5, "a") as f:
        f["camera/intrinsic"][0, 0] = np.nan
    adapter = EgoDexAdapter()
    (ref,) = adapter.discover(corpus.root)
    with pytest.raises(AdapterError, match="pinhole") as info:
        adapter.read(ref)
    assert (info.value.field, info.value.file) == ("camera/intrinsic", str(ep.hdf5))


def test_language_follows_which_llm_description_and_old_description(
    corpus: EgoDexFixture, adapter: EgoDexAdapter
) -> None:
    refs = {r.raw_id: r for r in adapter.discover(corpus.root)}
    seen = set()
    for ep in corpus.good:
        raw = adapter.read(refs[ep.raw_id])
        assert [(lang.text, lang.kind) for lang in raw.language] == [(ep.instruction, "instruction")]
        seen.add(raw.metadata["description_attr"])
        if ep.old:
            assert raw.metadata["description_attr"] == "description"
            assert not any(k.startswith("confidences/") for k in raw.states)
    assert raw.metadata["attrs"]["task"] == "basic_pick_place"
    reverse = adapter.read(refs["part1/add_remove_lid/1"])
    assert reverse.language[0].text == "Take the lid off the jar."
    assert reverse.metadata["attrs"]["which_llm_description"] == "2"
    assert reverse.metadata["attrs"]["llm_verbs"] == ["pick", "place"]
    assert seen == {"llm_description", "llm_description2", "description"}


def test_choose_description_rules() -> None:
    both = {"llm_description": "forward", "llm_description2": "back"}
    assert choose_description({**both, "which_llm_description": 2}) == ("back", "llm_description2")
    assert choose_description({**both, "which_llm_description": "1"}) == ("forward", "llm_description")
    assert choose_description({"which_llm_description": "2", "llm_description": "f"}) == ("f", "llm_description")
    assert choose_description({"description": "old"}) == ("old", "description")
    assert choose_description({"task": "x"}) == (None, None)


def test_frames_match_written_video(corpus: EgoDexFixture, adapter: EgoDexAdapter) -> None:
    ep = corpus.good[0]
    raw = adapter.read(next(r for r in adapter.discover(corpus.root) if r.raw_id == ep.raw_id))
    cam = raw.cameras["camera"]
    assert np.allclose(cam.timestamps, np.arange(ep.num_frames) / 30.0, atol=1e-6)
    frames = list(cam.frames())
    assert [i for i, _ in frames] == list(range(ep.num_frames))
    for i, rgb in frames:
        assert rgb.shape == (corpus.height, corpus.width, 3) and rgb.dtype == np.uint8
        assert psnr(rgb, synthetic_frame(corpus.height, corpus.width, i, ep.seed)) > 30
    other = synthetic_frame(corpus.height, corpus.width, 0, ep.seed + 1)
    assert psnr(frames[0][1], other) < 20  # the check can fail


# -- bad input -------------------------------------------------------------------------------------------------------

BAD = {  # case -> (found at discovery, field, file suffix, words in the message)
    "missing_camera": (True, "transforms/camera", ".hdf5", "missing transforms/camera"),
    "missing_hand_joint": (True, "transforms/leftIndexFingerTip", ".hdf5", "missing transforms/leftIndexFingerTip"),
    "short_video": (False, "video", ".mp4", "15 frames, the poses have 20"),
    "corrupt_video": (False, "video", ".mp4", "unreadable mp4"),
    "missing_video": (True, "mp4", ".mp4", "no video"),
}


@pytest.mark.parametrize("case", EGODEX_BAD_CASES)
def test_bad_input_is_a_specific_per_episode_error(case: str, tmp_path: Path) -> None:
    corpus = write_egodex_bad(tmp_path, [case], tasks=("basic_pick_place",), num_frames=20, old_episode=False)
    adapter = EgoDexAdapter()
    refs = list(adapter.discover(corpus.root))
    assert len(refs) == len(corpus.episodes) == 3
    bad = next(e for e in corpus.episodes if e.bad == case)
    at_discovery, field, suffix, words = BAD[case]
    ref = next(r for r in refs if r.raw_id == bad.raw_id)
    assert (ref.error is not None) is at_discovery
    with pytest.raises(AdapterError) as info:
        adapter.read(ref)
    err = info.value
    assert (err.adapter, err.episode, err.field) == ("egodex", bad.raw_id, field)
    assert err.file is not None and err.file.endswith(bad.raw_id + suffix)
    assert words in err.reason
    if at_discovery:
        assert ref.error == str(err)
    for good in (r for r in refs if r.raw_id != bad.raw_id):
        assert good.error is None
        raw = adapter.read(good)
        assert len(next(iter(raw.cameras.values())).timestamps) == 20


def test_pose_dataset_of_wrong_length_names_its_field(tmp_path: Path) -> None:
    corpus = write_egodex(tmp_path, tasks=("basic_pick_place",), episodes_per_task=1, old_episode=False)
    ep = corpus.episodes[0]
    with h5py.File(ep.hdf5, "a") as f:
        del f["transforms/rightHand"]
        f["transforms/rightHand"] = np.zeros((ep.num_frames + 3, 4, 4), np.float32)
    adapter = EgoDexAdapter()
    (ref,) = adapter.discover(corpus.root)
    with pytest.raises(AdapterError, match="shape") as info:
        adapter.read(ref)
    assert info.value.field == "transforms/rightHand"


def test_unreadable_hdf5_is_reported_at_discovery(tmp_path: Path) -> None:
    corpus = write_egodex(tmp_path, tasks=("basic_pick_place",), old_episode=False)
    broken = corpus.episodes[0]
    broken.hdf5.write_bytes(b"not an hdf5 file" * 10)
    adapter = EgoDexAdapter()
    refs = list(adapter.discover(corpus.root))
    assert [r.raw_id for r in refs if r.error] == [broken.raw_id]
    with pytest.raises(AdapterError, match="unreadable HDF5") as info:
        adapter.read(refs[0])
    assert (info.value.file, info.value.episode) == (str(broken.hdf5), broken.raw_id)
    assert adapter.read(refs[1]).states["transforms/leftHand"].values.shape == (20, 4, 4)


# -- the discovery check reads each group's links once: it must flag exactly what `path in f` flags ------------------


def _mutilate(f: h5py.File, case: str) -> None:
    if case == "one_dataset":
        del f["transforms/leftIndexFingerTip"]
    elif case == "two_datasets":  # the message names the first in REQUIRED's order
        del f["transforms/rightHand"], f["camera/intrinsic"]
    elif case == "soft_link":  # resolves: not missing
        del f["transforms/leftHand"]
        f["transforms/leftHand"] = h5py.SoftLink("/transforms/rightHand")
    elif case == "dangling_soft_link":
        del f["transforms/leftHand"]
        f["transforms/leftHand"] = h5py.SoftLink("/nowhere")
    elif case == "camera_is_a_dataset":
        del f["camera"]
        f["camera"] = np.eye(3)
    elif case == "dangling_group":  # `transforms` leads nowhere: every joint is missing
        del f["transforms"]
        f["transforms"] = h5py.SoftLink("/nowhere")
    elif case == "group_via_soft_link":  # `transforms` reached through a soft link: every joint resolves
        f.move("transforms", "poses")
        f["transforms"] = h5py.SoftLink("/poses")


MUTILATIONS = {  # case -> the reason discovery gives (None: not flagged)
    "one_dataset": "missing transforms/leftIndexFingerTip",
    "two_datasets": "missing camera/intrinsic (and 1 more)",
    "soft_link": None,
    "dangling_soft_link": None,  # h5py's `in` holds for a link that exists, whatever it points to
    "camera_is_a_dataset": "missing camera/intrinsic",
    "dangling_group": "missing transforms/camera (and 42 more)",
    "group_via_soft_link": None,
}


def test_an_external_link_flags_its_episode_dangling_or_not(tmp_path: Path) -> None:
    """An external link is another file opened on named access: refused whatever it points to (issue 58 item 3,
    `adapters.hostile.sealed`), naming the link; the episode beside it is read."""
    corpus = write_egodex(tmp_path / "src", tasks=("basic_pick_place",), episodes_per_task=1, old_episode=False)
    ep = corpus.episodes[0]
    root = tmp_path / "root"
    (root / "cases").mkdir(parents=True)
    for case in ("good", "dangling", "outside"):
        (root / "cases" / f"{case}.hdf5").write_bytes(ep.hdf5.read_bytes())
        (root / "cases" / f"{case}.mp4").write_bytes(ep.mp4.read_bytes())
    for case, target in (("dangling", "absent.hdf5"), ("outside", str(ep.hdf5))):
        with h5py.File(root / "cases" / f"{case}.hdf5", "a") as f:
            del f["transforms/leftHand"]
            f["transforms/leftHand"] = h5py.ExternalLink(target, "/transforms/leftHand")
    adapter = EgoDexAdapter()
    refs = {Path(r.raw_id).name: r for r in adapter.discover(root)}
    assert refs["good"].error is None and adapter.read(refs["good"]).states
    for case in ("dangling", "outside"):
        assert "transforms/leftHand (an external link)" in refs[case].error, refs[case].error
        with pytest.raises(AdapterError, match="an external link"):
            adapter.read(refs[case])


def test_discovery_check_flags_what_in_flags_with_the_same_message(tmp_path: Path) -> None:
    corpus = write_egodex(tmp_path / "src", tasks=("basic_pick_place",), episodes_per_task=1, old_episode=False)
    ep = corpus.episodes[0]
    root = tmp_path / "root"
    (root / "cases").mkdir(parents=True)
    flagged_by_in = {}
    for case in MUTILATIONS:
        hdf5, mp4 = root / "cases" / f"{case}.hdf5", root / "cases" / f"{case}.mp4"
        hdf5.write_bytes(ep.hdf5.read_bytes())
        mp4.write_bytes(ep.mp4.read_bytes())
        with h5py.File(hdf5, "a") as f:
            _mutilate(f, case)
        with h5py.File(hdf5, "r") as f:  # the reference: h5py's own `in`, one required path at a time
            flagged_by_in[case] = [key for key in REQUIRED if key not in f]
    adapter = EgoDexAdapter()
    refs = {Path(r.raw_id).name: r for r in adapter.discover(root)}
    assert set(refs) == set(MUTILATIONS)
    for case, reason in MUTILATIONS.items():
        ref, missing = refs[case], flagged_by_in[case]
        assert (ref.error is None) == (reason is None) == (not missing), case
        if reason is None:
            continue
        assert missing[0] in reason
        with pytest.raises(AdapterError) as info:  # read runs the same check and raises the same error
            adapter.read(ref)
        err = info.value
        assert (err.reason, err.field, err.episode) == (reason, missing[0], f"cases/{case}")
        assert err.file == str(root / "cases" / f"{case}.hdf5")
        assert (
            ref.error
            == str(err)
            == f"adapter egodex, file {err.file}, episode cases/{case}, field {missing[0]!r}: {reason}"
        )
