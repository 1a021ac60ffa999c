"""ARCTIC sequences in the maker's layout (`tests.fixtures.writers.arctic`; no public sample under 4 MiB exists) read by
the `arctic` adapter: MANO parameters to keypoints against smplx's own MANO fed as ARCTIC's loader feeds it, the hand
invariants the geometry QA measures, the egocentric view first, object poses kept as natives, and planted defects
(a 48-value pose, swapped hands, a missing file, a missing frame, a hostile pickle, no MANO model) caught naming file,
sequence and field."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError, RawEpisode
from adapters.pickles import unpickle_npy
from adapters.registry import get_adapter
from adapters.synthetic.video import synthetic_frame
from ingest.canonical.mano.evaluate import mano_hands
from ingest.episode import CanonicalEpisode
from ingest.qa.judge import judge_arrays
from schemas.canonical import CANONICAL_FPS, bone_lengths
from schemas.canonicalize import CanonicalizeSpec
from schemas.mano import ManoConvention
from tests.fixtures.mano import TIPS, smplx_mano_keypoints, write_mano_npz
from tests.fixtures.offline import prepared
from tests.fixtures.writers.arctic import ArcticSeqSpec, write_arctic
from tests.fixtures.writers.headcam import HEIGHT, WIDTH

SEQ = "s01/box_grab_01"


def _root(tmp: Path, **spec: object) -> tuple[Path, Path]:
    data = write_arctic(tmp / "arctic" / "data", [ArcticSeqSpec(**spec)])  # type: ignore[arg-type]
    return tmp / "arctic", data


def _read(root: Path, model: Path | None, **options: object) -> RawEpisode:
    adapter = get_adapter("arctic", {"mano_model_dir": None if model is None else str(model), **options})
    (ref,) = adapter.discover(root)
    return adapter.read(ref)


def _edit(path: Path, change: object) -> None:
    d = unpickle_npy(path.read_bytes())
    change(d)  # type: ignore[operator]
    np.save(path, np.array(d, dtype=object), allow_pickle=True)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mano")
    write_mano_npz(folder)
    return folder


@pytest.fixture(scope="module")
def posed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fixture with bent fingers and a non-zero shape, so the mean pose, the betas and `transl` all matter."""
    root, data = _root(tmp_path_factory.mktemp("posed"))
    rng = np.random.default_rng(7)

    def bend(d: dict) -> None:
        for side in ("left", "right"):
            d[side]["pose"] = rng.normal(scale=0.2, size=d[side]["pose"].shape)
            d[side]["shape"] = rng.normal(scale=0.5, size=10)

    _edit(data / "raw_seqs/s01/box_grab_01.mano.npy", bend)
    return root, data


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory, model: Path) -> CanonicalEpisode:
    root, _ = _root(tmp_path_factory.mktemp("arctic"))
    (ep,) = prepared(_read(root, model), CanonicalizeSpec())
    return ep


def test_keypoints_are_smplx_mano_fed_as_arctic_feeds_it(posed: tuple[Path, Path], model: Path) -> None:
    root, data = posed
    raw = _read(root, model)
    truth = unpickle_npy((data / "raw_seqs/s01/box_grab_01.mano.npy").read_bytes())
    hands = mano_hands(raw).hands
    for h, side in enumerate(("left", "right")):
        d = truth[side]
        want = smplx_mano_keypoints(
            side, d["rot"], d["pose"], d["shape"], flat_hand_mean=False, tips=TIPS["smplx"], transl=d["trans"]
        )
        got = hands[h].keypoints.values  # type: ignore[union-attr]
        assert np.abs(got - want).max() < 1e-5, side  # float32 inside smplx
        # the same parameters read as a flat-mean pose (HOI4D's, TACO's form) are another hand
        wrong = replace(raw.hands.hands[h].mano, convention=ManoConvention("axis_angle", flat_hand_mean=True))
        flat = mano_hands(replace(raw, hands=replace(raw.hands, hands={h: replace(raw.hands.hands[h], mano=wrong)})))
        assert np.abs(flat.hands[h].keypoints.values - want).max() > 0.005  # type: ignore[union-attr]


def test_the_hand_invariants_hold(episode: CanonicalEpisode) -> None:
    """Ahead of the wearer, below the eyes, left on the left, human-sized, inside the egocentric image."""
    assert judge_arrays(episode, CanonicalizeSpec()).rejected is None
    qa = episode.qa
    assert qa is not None and qa.hands_in_front == 1.0 and qa.hands_in_image == 1.0 and qa.hands_ahead == 1.0
    assert qa.hands_below_eyes == 1.0 and qa.left_of_right == 1.0
    assert qa.hand_length is not None and 0.17 < qa.hand_length < 0.20
    assert qa.bone_length_cv is not None and qa.bone_length_cv < 1e-3
    bones = bone_lengths(episode.keypoints.reshape(-1, 21, 3).astype(np.float64))
    assert ((bones > 0.005) & (bones < 0.10)).all()  # every bone human-sized


def test_the_egocentric_view_is_the_head_camera_with_its_frames(episode: CanonicalEpisode) -> None:
    assert episode.num_frames == 15 and episode.tier.value == "high"  # 45 frames at 30 fps, 1.5 s at 10 Hz
    np.testing.assert_allclose(episode.timestamps, np.arange(15) / CANONICAL_FPS, atol=1e-9)
    assert next(iter(episode.cameras)) == "head" and "third_person" in episode.cameras
    head = episode.cameras["head"]
    assert head.source.name == "ego" and list(head.indices) == list(range(0, 45, 3))
    np.testing.assert_allclose(head.source.intrinsics, [[250, 0, 160], [0, 250, 120], [0, 0, 1]])
    assert episode.task == "grab the box"
    # frame i is image <i + ioi_offset>.jpg (offset 1 here), decoded to RGB, never BGR
    ((_, got),) = head.source.frames([3])
    want = synthetic_frame(HEIGHT, WIDTH, 3, seed=0)
    assert np.abs(got.astype(float) - want).mean() < 4  # JPEG
    assert np.abs(got.astype(float) - want[..., ::-1]).mean() > 10
    assert np.abs(got.astype(float) - synthetic_frame(HEIGHT, WIDTH, 4, seed=0)).mean() > 4  # not the next image


def test_object_poses_are_kept_as_natives(tmp_path: Path, model: Path) -> None:
    root, data = _root(tmp_path)
    raw = _read(root, model)
    obj = np.load(data / "raw_seqs/s01/box_grab_01.object.npy")
    pose = raw.states["object/box"].values
    np.testing.assert_allclose(pose[:, :3, 3], obj[:, 4:] / 1000.0)  # millimetres to metres
    np.testing.assert_allclose(raw.states["object/box/articulation"].values, obj[:, 0])
    (ep,) = prepared(raw, CanonicalizeSpec())
    assert any(n.startswith("object/box") for n in ep.natives.state_names)
    assert raw.metadata["views"]["view_2"].startswith("no folder")  # views not on disk are said, not dropped
    assert any(n.startswith("no per-hand validity") for n in raw.hands.notes)  # said in the lineage's hand notes


def test_swapped_hands_put_the_left_one_on_the_right(tmp_path: Path, model: Path) -> None:
    root, data = _root(tmp_path)
    _edit(data / "raw_seqs/s01/box_grab_01.mano.npy", lambda d: d.update(left=d["right"], right=d["left"]))
    (ep,) = prepared(_read(root, model), CanonicalizeSpec())
    assert ep.qa is not None and ep.qa.left_of_right == 0.0  # below min_left_of_right_fraction: flagged


@pytest.mark.parametrize(
    ("defect", "file", "field", "words"),
    [
        ("pose48", ".mano.npy", "right.pose", "expected finite (T, 45)"),
        ("no_egocam", ".egocam.dist.npy", "egocam", "missing"),
        ("short_object", ".object.npy", "object", "frames where right.rot has 45"),
        ("hostile", ".mano.npy", "mano", "refusing to unpickle global"),
        ("no_image", "00011.jpg", "images", "frame 10"),
        ("no_model", ".mano.npy", "mano_model_dir", "set the adapter option mano_model_dir"),
    ],
)
def test_planted_defects_name_file_sequence_and_field(
    tmp_path: Path, model: Path, defect: str, file: str, field: str, words: str
) -> None:
    root, data = _root(tmp_path)
    stem = data / "raw_seqs/s01/box_grab_01"
    marker = tmp_path / "pwned"
    if defect == "pose48":
        _edit(Path(f"{stem}.mano.npy"), lambda d: d["right"].update(pose=np.zeros((45, 48))))
    elif defect == "no_egocam":
        os.remove(f"{stem}.egocam.dist.npy")
    elif defect == "short_object":
        np.save(f"{stem}.object.npy", np.zeros((40, 7)))
    elif defect == "hostile":
        import pickle

        class Evil:
            def __reduce__(self) -> tuple:
                return os.system, (f"touch {marker}",)

        Path(f"{stem}.mano.npy").write_bytes(pickle.dumps(Evil()))
        np.save(f"{stem}.mano.npy", np.array(Evil(), dtype=object), allow_pickle=True)
    elif defect == "no_image":
        os.remove(data / "images/s01/box_grab_01/0/00011.jpg")  # ioi_offset 1: frame 10
    with pytest.raises(AdapterError) as e:
        _read(root, None if defect == "no_model" else model)
    assert e.value.episode == SEQ and e.value.field == field and e.value.file.endswith(file), str(e.value)
    assert words in str(e.value) and not marker.exists()


def test_cameras_option_reads_only_the_views_asked_for(tmp_path: Path, model: Path) -> None:
    root, _ = _root(tmp_path)
    raw = _read(root, model, cameras=["ego"])
    assert list(raw.cameras) == ["ego"] and raw.metadata["views"]["view_1"] == "not asked for (option cameras)"
    assert raw.cameras["ego"].canonical is not None and raw.cameras["ego"].canonical.value == "head"


def test_a_view_linked_out_of_the_data_folder_is_refused(tmp_path: Path, model: Path) -> None:
    root, data = _root(tmp_path / "in", views=(0,))
    outside = tmp_path / "outside"
    (data / "images/s01/box_grab_01/0").rename(outside)
    (data / "images/s01/box_grab_01/0").symlink_to(outside, target_is_directory=True)
    with pytest.raises(AdapterError) as e:
        _read(root, model)
    assert e.value.field == "images" and e.value.episode == SEQ and "outside" in str(e.value)


@pytest.mark.parametrize("depth", ["", "arctic_data/", "arctic_data/data/"])
def test_raw_seqs_is_found_up_to_three_folders_down(tmp_path: Path, depth: str) -> None:
    write_arctic(tmp_path / "root" / depth / "x", [ArcticSeqSpec(frames=4, views=())])
    refs = list(get_adapter("arctic").discover(tmp_path / "root"))
    assert [r.raw_id for r in refs] == [SEQ] and refs[0].locator["data"].endswith(f"{depth}x")
