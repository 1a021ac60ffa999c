"""A dataset written by our writer, read back by the real lerobot 0.3.3 (the LeRobot v2.1 reference implementation).

lerobot runs in a subprocess (`tests/oracle/lerobot_oracle.py`) with a torchvision shim on its PYTHONPATH and its
`decode_video_frames` replaced by a seeking PyAV decoder, because torchvision and torchcodec cannot work on this
machine (CUDA-only wheels; docker/README.md, "Install traps"). It loads offline what we wrote (3 episodes, 2 cameras of
different resolutions, every canonical feature) and we compare what it returns with what we put in. The same frames
are also written by lerobot's own writer, and its files are compared with ours.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest

from schemas.canonical import ACTION, HAND_KEYPOINTS, STATE
from tests.fixtures.episodes import CAMERAS, canonical_test_features, write_canonical_dataset
from tests.oracle.fixture import SHIM

pytestmark = pytest.mark.oracle

LENGTHS = [20, 30, 25]
TASKS = ["pick up the cube", "open the drawer", "pick up the cube"]
STARTS = np.cumsum([0, *LENGTHS[:-1]]).tolist()  # [0, 20, 50]
# first, middle and last frame of each episode: covers both sides of every episode boundary
ITEMS = [0, 7, 19, 20, 34, 49, 50, 74]
DELTA_ITEMS = [0, 10, 19, 20, 45, 60, 74]
CHUNK = 16
VIDEO_KEYS = [f"observation.images.{cam}" for cam in CAMERAS]
DEFAULT_KEYS = ["timestamp", "frame_index", "episode_index", "index", "task_index"]
NUMERIC_KEYS = [STATE, ACTION, HAND_KEYPOINTS, "observation.state.native", "action.native"]
# info.json keys allowed to differ between our writer and lerobot's for the same input. None do today: both write
# the same bytes. (Things that may legitimately differ elsewhere: our `.eidata/` folder and lerobot's empty
# `images/<camera>/` folders, checked in test_same_meta_and_layout_as_lerobot_writer.)
EXPECTED_INFO_DIFFERENCES: tuple[str, ...] = ()


def _locate(idx: int) -> tuple[int, int]:
    ep = max(e for e, s in enumerate(STARTS) if s <= idx)
    return ep, idx - STARTS[ep]


def _bits(values: object) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def _psnr(decoded_chw: np.ndarray, original_hwc: np.ndarray) -> float:
    diff = decoded_chw.transpose(1, 2, 0).astype(np.float64) * 255.0 - original_hwc.astype(np.float64)
    mse = float(np.mean(diff**2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("ours") / "ds"
    frames = write_canonical_dataset(root, LENGTHS, TASKS)
    return SimpleNamespace(root=root, frames=frames)


@pytest.fixture(scope="module")
def loaded(ours: SimpleNamespace, run_oracle, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    dump = tmp_path_factory.mktemp("dump") / "frames.npz"
    out = run_oracle(
        "load",
        ours.root,
        "--items",
        ",".join(map(str, ITEMS)),
        "--dump",
        dump,
        "--stats",
        "--delta-items",
        ",".join(map(str, DELTA_ITEMS)),
        "--steps",
        CHUNK,
    )
    with np.load(dump) as npz:
        decoded = {name: npz[name] for name in npz.files}
    return SimpleNamespace(**out, decoded=decoded)


@pytest.fixture(scope="module")
def theirs(ours: SimpleNamespace, run_oracle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same frames and tasks written by lerobot's own `create` / `add_frame` / `save_episode`."""
    work = tmp_path_factory.mktemp("theirs")
    features = {k: ft.to_json() for k, ft in canonical_test_features().items()}
    arrays = {f"{ep}:{k}": np.stack([f[k] for f in frames]) for ep, frames in enumerate(ours.frames) for k in features}
    np.savez(work / "frames.npz", **arrays)
    spec = {"fps": 10, "robot_type": "franka", "features": features, "tasks": TASKS}
    (work / "spec.json").write_text(json.dumps(spec))
    root = work / "ds"
    run_oracle("write", root, "--spec", work / "spec.json", "--frames", work / "frames.npz")
    return root


def test_torchvision_shim_stays_out_of_this_process() -> None:
    # transformers breaks if it can import the shim (docker/README.md): only the oracle's children see it
    assert all(Path(p or ".").resolve() != SHIM for p in sys.path)
    spec = importlib.util.find_spec("torchvision")
    assert spec is None or SHIM not in Path(spec.origin or "").parents


def test_totals_and_episode_lengths(loaded: SimpleNamespace) -> None:
    assert (loaded.num_episodes, loaded.num_frames, loaded.len, loaded.fps) == (3, 75, 75, 10)
    assert loaded.episode_lengths == LENGTHS
    assert loaded.episode_from == STARTS
    assert loaded.episode_to == np.cumsum(LENGTHS).tolist()
    assert loaded.index_column == list(range(75))
    assert loaded.tasks == {"0": TASKS[0], "1": TASKS[1]}
    assert loaded.video_keys == VIDEO_KEYS
    assert list(loaded.features) == [*VIDEO_KEYS, *NUMERIC_KEYS, *DEFAULT_KEYS]
    assert loaded.stats_keys == sorted(loaded.features)


def test_lerobot_timestamp_sync_check_passes(loaded: SimpleNamespace) -> None:
    assert loaded.sync_checks_on_load == [True]  # the call inside LeRobotDataset.__init__ ran and passed
    assert loaded.sync_check_explicit is True


@pytest.mark.parametrize("idx", ITEMS)
def test_item_values_are_bit_equal(loaded: SimpleNamespace, ours: SimpleNamespace, idx: int) -> None:
    ep, fi = _locate(idx)
    item, frame = loaded.items[str(idx)], ours.frames[ep][fi]
    for key in NUMERIC_KEYS:
        got = np.asarray(item[key], dtype=np.float32)
        assert got.shape == frame[key].shape, key
        np.testing.assert_array_equal(_bits(got), _bits(frame[key]), err_msg=key)
    assert (item["episode_index"], item["frame_index"], item["index"]) == (ep, fi, idx)
    assert item["timestamp"] == float(np.float32(fi / 10))
    assert item["task"] == TASKS[ep]


@pytest.mark.parametrize("idx", ITEMS)
@pytest.mark.parametrize("key", VIDEO_KEYS)
def test_decoded_frames_match_written_frames(loaded: SimpleNamespace, ours: SimpleNamespace, idx: int, key: str):
    ep, fi = _locate(idx)
    decoded = loaded.decoded[f"{idx}:{key}"]
    h, w = CAMERAS[key.rsplit(".", 1)[1]]
    assert decoded.shape == (3, h, w) and decoded.dtype == np.float32
    assert decoded.min() >= 0.0 and decoded.max() <= 1.0
    psnr = _psnr(decoded, ours.frames[ep][fi][key])
    assert psnr > 30.0, f"{key} item {idx} (episode {ep} frame {fi}): PSNR {psnr:.1f} dB"


def test_decoder_seeks(loaded: SimpleNamespace) -> None:
    # GOP 2: each item decodes at most 2 frames per camera when the decoder seeks instead of reading from the start
    assert loaded.decoder["calls"] == len(ITEMS) * len(VIDEO_KEYS)
    assert loaded.decoder["frames"] <= 2 * loaded.decoder["calls"]


def test_action_chunks_with_delta_timestamps(loaded: SimpleNamespace, ours: SimpleNamespace) -> None:
    out = loaded.delta  # what the oracle's `load-delta` returns
    assert out["delta_indices"] == {"action": list(range(CHUNK))}
    for idx in DELTA_ITEMS:
        ep, fi = _locate(idx)
        got = out["items"][str(idx)]
        assert got["shape"] == [CHUNK, 50]
        assert (got["episode_index"], got["frame_index"]) == (ep, fi)
        pad = np.asarray(got["action_is_pad"])
        np.testing.assert_array_equal(pad, [fi + k >= LENGTHS[ep] for k in range(CHUNK)], err_msg=f"item {idx}")
        actions = np.asarray(got["action"], dtype=np.float32)
        for k in range(CHUNK):
            src = min(fi + k, LENGTHS[ep] - 1)  # lerobot repeats the episode's last action past its end
            np.testing.assert_array_equal(_bits(actions[k]), _bits(ours.frames[ep][src][ACTION]), err_msg=f"{idx}+{k}")


def _assert_stats_close(ours_stats: dict, ref_stats: dict, keys: list[str], where: str) -> None:
    for key in keys:
        assert set(ours_stats[key]) == set(ref_stats[key]) == {"min", "max", "mean", "std", "count"}, key
        for stat, ref in ref_stats[key].items():
            got, want = np.asarray(ours_stats[key][stat], dtype=np.float64), np.asarray(ref, dtype=np.float64)
            assert got.shape == want.shape, f"{where} {key}.{stat}: shape {got.shape} vs {want.shape}"
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-6, err_msg=f"{where} {key}.{stat}")


def test_numeric_stats_equal_lerobot_compute_episode_stats(loaded: SimpleNamespace, ours: SimpleNamespace) -> None:
    ref = loaded.stats  # what the oracle's `stats` returns
    mine = _jsonl(ours.root / "meta/episodes_stats.jsonl")
    assert [e["episode_index"] for e in mine] == [0, 1, 2]
    numeric = [*NUMERIC_KEYS, *DEFAULT_KEYS]
    for ep, entry in enumerate(mine):
        assert sorted(ref[str(ep)]) == sorted(numeric)
        _assert_stats_close(entry["stats"], ref[str(ep)], numeric, f"episode {ep}")


def test_all_stats_equal_those_lerobot_writes_for_the_same_frames(ours: SimpleNamespace, theirs: Path) -> None:
    # lerobot computes camera stats on the original frames (its temporary PNGs), as we do while streaming
    mine = _jsonl(ours.root / "meta/episodes_stats.jsonl")
    ref = _jsonl(theirs / "meta/episodes_stats.jsonl")
    assert [e["episode_index"] for e in mine] == [e["episode_index"] for e in ref] == [0, 1, 2]
    for a, b in zip(mine, ref, strict=True):
        assert list(a["stats"]) == list(b["stats"])  # same features, same order
        _assert_stats_close(a["stats"], b["stats"], list(b["stats"]), f"episode {a['episode_index']}")


@pytest.mark.parametrize("ep", range(len(LENGTHS)))
def test_parquet_schema_and_rows_equal_lerobot_writer(ours: SimpleNamespace, theirs: Path, ep: int) -> None:
    rel = f"data/chunk-000/episode_{ep:06d}.parquet"
    mine, ref = pq.read_schema(ours.root / rel), pq.read_schema(theirs / rel)
    assert mine.equals(ref, check_metadata=True), f"\nours:\n{mine}\nlerobot:\n{ref}"
    assert json.loads(mine.metadata[b"huggingface"]) == json.loads(ref.metadata[b"huggingface"])
    for field in ref:  # field metadata, e.g. the ARROW:extension:* keys of the [2, 21, 3] keypoints
        assert mine.field(field.name).metadata == field.metadata, field.name
    kp = mine.field(HAND_KEYPOINTS).metadata
    assert kp[b"ARROW:extension:name"] == b"datasets.features.features.Array3DExtensionType"
    assert json.loads(kp[b"ARROW:extension:metadata"]) == [[2, 21, 3], "float32"]
    assert pq.read_table(ours.root / rel).equals(pq.read_table(theirs / rel))


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_same_meta_and_layout_as_lerobot_writer(ours: SimpleNamespace, theirs: Path) -> None:
    mine_info = json.loads((ours.root / "meta/info.json").read_text())
    ref_info = json.loads((theirs / "meta/info.json").read_text())
    for key in EXPECTED_INFO_DIFFERENCES:
        mine_info.pop(key, None)
        ref_info.pop(key, None)
    assert mine_info == ref_info
    assert (ours.root / "meta/info.json").read_text() == (theirs / "meta/info.json").read_text()
    for rel in ("meta/episodes.jsonl", "meta/tasks.jsonl"):
        assert (ours.root / rel).read_text() == (theirs / rel).read_text(), rel
    # expected layout differences: our `.eidata/` (writer lock, staging); lerobot leaves only empty `images/` folders
    assert {p for p in _tree(ours.root) if not p.startswith(".eidata/")} == _tree(theirs)
    assert not list((ours.root / ".eidata").rglob("*.mp4")) and not list((ours.root / ".eidata").rglob("*.parquet"))
