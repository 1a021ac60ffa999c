"""TACO sequences in the maker's layout (`tests.fixtures.writers.taco`; no public sample under 4 MiB exists) read by the
`taco` adapter: MANO parameters to keypoints against smplx's MANO fed as TACO's manopth loader feeds it (flat mean,
joints centred on the wrist, + `hand_trans`), the hand invariants, the egocentric video first, the triplet as the
task, object poses kept, and planted defects caught naming file, sequence and field."""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from adapters.base import AdapterError, RawEpisode
from adapters.registry import get_adapter
from adapters.synthetic.video import write_mp4
from ingest.canonical.mano.evaluate import mano_hands
from ingest.episode import CanonicalEpisode
from ingest.qa.judge import judge_arrays
from schemas.canonicalize import CanonicalizeSpec
from schemas.mano import MAKERS
from tests.fixtures.mano import TIPS, smplx_mano_keypoints, write_mano_npz
from tests.fixtures.offline import prepared
from tests.fixtures.writers.taco import TacoSeqSpec, write_taco

SEQ = "20231105_019"
REL = Path("(stir, spoon, bowl)") / SEQ


def _read(root: Path, model: Path | None, **options: object) -> RawEpisode:
    adapter = get_adapter("taco", {"mano_model_dir": None if model is None else str(model), **options})
    (ref,) = adapter.discover(root)
    return adapter.read(ref)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mano")
    write_mano_npz(folder)
    return folder


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory, model: Path) -> CanonicalEpisode:
    (ep,) = prepared(_read(write_taco(tmp_path_factory.mktemp("taco"), [TacoSeqSpec()]), model), CanonicalizeSpec())
    return ep


def test_keypoints_are_smplx_mano_fed_as_tacos_loader_feeds_it(tmp_path: Path, model: Path) -> None:
    root = write_taco(tmp_path, [TacoSeqSpec()])
    rng = np.random.default_rng(3)
    for side in ("left", "right"):  # bent fingers and a shape, so the flat mean and the wrist centring matter
        path = root / "Hand_Poses" / REL / f"{side}_hand.pkl"
        frames = pickle.loads(path.read_bytes())
        for f in frames.values():
            f["hand_pose"] = f["hand_pose"].detach() + torch.as_tensor(np.r_[np.zeros(3), rng.normal(0, 0.2, 45)])
        path.write_bytes(pickle.dumps(frames))
        shape = {"hand_shape": torch.as_tensor(rng.normal(0, 0.5, (1, 10)))}
        (root / "Hand_Poses" / REL / f"{side}_hand_shape.pkl").write_bytes(pickle.dumps(shape))
    raw = _read(root, model)
    hands = mano_hands(raw).hands
    for h, side in enumerate(("left", "right")):
        frames = pickle.loads((root / "Hand_Poses" / REL / f"{side}_hand.pkl").read_bytes())
        pose = np.stack([f["hand_pose"].detach().numpy() for _, f in sorted(frames.items())]).astype(np.float64)
        trans = np.stack([f["hand_trans"].numpy() for _, f in sorted(frames.items())]).astype(np.float64)
        beta = pickle.loads((root / "Hand_Poses" / REL / f"{side}_hand_shape.pkl").read_bytes())["hand_shape"]
        local = smplx_mano_keypoints(
            side, pose[:, :3], pose[:, 3:], beta.numpy().reshape(10), flat_hand_mean=True, tips=TIPS[f"manopth_{side}"]
        )
        want = local - local[:, :1] + trans[:, None]  # manopth's center_idx=0, then + hand_trans
        got = hands[h].keypoints.values  # type: ignore[union-attr]
        assert np.abs(got - want).max() < 1e-5, side
        # read as ARCTIC's form (offsets from the mean, smplx transl) the same numbers are another hand
        wrong = replace(raw.hands.hands[h].mano, convention=MAKERS["arctic"])
        other = replace(raw, hands=replace(raw.hands, hands={h: replace(raw.hands.hands[h], mano=wrong)}))
        assert np.abs(mano_hands(other).hands[h].keypoints.values - want).max() > 0.005  # type: ignore[union-attr]


def test_the_hand_invariants_hold(episode: CanonicalEpisode) -> None:
    assert judge_arrays(episode, CanonicalizeSpec()).rejected is None
    qa = episode.qa
    assert qa is not None and qa.hands_in_front == 1.0 and qa.hands_in_image == 1.0 and qa.hands_ahead == 1.0
    assert qa.hands_below_eyes == 1.0 and qa.left_of_right == 1.0
    assert qa.hand_length is not None and 0.17 < qa.hand_length < 0.20


def test_the_egocentric_video_is_the_head_camera_and_the_triplet_the_task(episode: CanonicalEpisode) -> None:
    assert episode.num_frames == 15 and episode.tier.value == "high"
    assert next(iter(episode.cameras)) == "head" and "third_person" in episode.cameras
    head = episode.cameras["head"]
    assert head.source.name == "egocentric" and list(head.indices) == list(range(0, 45, 3))
    np.testing.assert_allclose(head.source.intrinsics, [[250, 0, 160], [0, 250, 120], [0, 0, 1]])
    assert episode.task == "stir the bowl with the spoon"
    assert {n.split(".")[0] for n in episode.natives.state_names} >= {"object/tool_042", "object/target_117"}


def test_a_sequence_without_its_egocentric_video_keeps_its_hands(tmp_path: Path, model: Path) -> None:
    raw = _read(write_taco(tmp_path, [TacoSeqSpec(egocentric_video=False, allocentric=False)]), model)
    assert raw.cameras == {} and raw.metadata["views"]["egocentric"].startswith("no ")
    assert "right hand: betas from right_hand_shape.pkl" in raw.hands.notes
    (ep,) = prepared(raw, CanonicalizeSpec())
    assert ep.num_frames == 15 and ep.mask.any()


def test_swapped_hand_files_put_the_left_hand_on_the_right(tmp_path: Path, model: Path) -> None:
    root = write_taco(tmp_path, [TacoSeqSpec(allocentric=False)])
    folder = root / "Hand_Poses" / REL
    left, right = (folder / "left_hand.pkl").read_bytes(), (folder / "right_hand.pkl").read_bytes()
    (folder / "left_hand.pkl").write_bytes(right)
    (folder / "right_hand.pkl").write_bytes(left)
    (ep,) = prepared(_read(root, model), CanonicalizeSpec())
    assert ep.qa is not None and ep.qa.left_of_right == 0.0  # below min_left_of_right_fraction: flagged


@pytest.mark.parametrize(
    ("defect", "file", "field", "words"),
    [
        ("pose45", "right_hand.pkl", "right_hand.hand_pose", "expected (48,) = 3 global + 45"),
        ("hostile", "left_hand.pkl", "left_hand", "refusing to unpickle global posix.system"),
        ("no_extrinsic", "egocentric_frame_extrinsic.npy", "egocentric_frame_extrinsic", "missing"),
        ("short_video", "color.mp4", "video", "40 frames for 45 pose frames"),
        ("no_target", SEQ, "target", "no target_<id>.npy"),
        ("left_short", "left_hand.pkl", "left_hand", "(44 and 45 frames; first apart: 00044)"),
        ("no_model", "right_hand.pkl", "mano_model_dir", "set the adapter option mano_model_dir"),
    ],
)
def test_planted_defects_name_file_sequence_and_field(
    tmp_path: Path, model: Path, defect: str, file: str, field: str, words: str
) -> None:
    root = write_taco(tmp_path, [TacoSeqSpec(allocentric=False)])
    marker = tmp_path / "pwned"
    if defect == "pose45":
        path = root / "Hand_Poses" / REL / "right_hand.pkl"
        frames = pickle.loads(path.read_bytes())
        frames["00003"]["hand_pose"] = frames["00003"]["hand_pose"][3:]  # the global rotation left out
        path.write_bytes(pickle.dumps(frames))
    elif defect == "hostile":

        class Evil:
            def __reduce__(self) -> tuple:
                return os.system, (f"touch {marker}",)

        (root / "Hand_Poses" / REL / "left_hand.pkl").write_bytes(pickle.dumps({"00000": Evil()}))
    elif defect == "no_extrinsic":
        os.remove(root / "Egocentric_Camera_Parameters" / REL / "egocentric_frame_extrinsic.npy")
    elif defect == "short_video":
        frames = (np.full((240, 320, 3), 100, np.uint8) for _ in range(40))
        write_mp4(root / "Egocentric_RGB_Videos" / REL / "color.mp4", frames, 30)
    elif defect == "left_short":
        path = root / "Hand_Poses" / REL / "left_hand.pkl"
        frames = pickle.loads(path.read_bytes())
        del frames["00044"]
        path.write_bytes(pickle.dumps(frames))
    elif defect == "no_target":
        os.remove(root / "Object_Poses" / REL / "target_117.npy")
    with pytest.raises(AdapterError) as e:
        _read(root, None if defect == "no_model" else model)
    assert e.value.episode == SEQ and e.value.field == field and e.value.file.endswith(file), str(e.value)
    assert words in str(e.value) and not marker.exists()


def test_a_video_linked_out_of_the_root_is_refused(tmp_path: Path, model: Path) -> None:
    root = write_taco(tmp_path / "in", [TacoSeqSpec(allocentric=False)])
    video = root / "Egocentric_RGB_Videos" / REL / "color.mp4"
    video.rename(tmp_path / "color.mp4")
    video.symlink_to(tmp_path / "color.mp4")
    with pytest.raises(AdapterError) as e:
        _read(root, model)
    assert e.value.field == "video" and e.value.episode == SEQ and "outside" in str(e.value)


def test_a_sequence_name_under_two_triplets_is_flagged(tmp_path: Path) -> None:
    root = write_taco(tmp_path, [TacoSeqSpec(allocentric=False), TacoSeqSpec(triplet="(cut, knife, apple)")])
    refs = list(get_adapter("taco").discover(root))
    assert [r.locator["triplet"] for r in refs] == ["(cut, knife, apple)", "(stir, spoon, bowl)"]
    assert refs[0].error is None and refs[1].error is not None and "also under '(cut, knife, apple)'" in refs[1].error
