"""Writer of small TFDS/RLDS builder directories, faithful to the real on-disk layout, for any OXE subset in the table.

`write_rlds(root, "bridge")` writes `<root>/<dataset>/<version>/` with `dataset_info.json` and `features.json`
shaped like real TFDS ones (the Octo Bridge sample's files are the model) and shards
`<dataset>-<split>.tfrecord-XXXXX-of-YYYYY` whose records are framed with masked CRC32C and hold one flat
`tf.train.Example` per episode, keyed as TFDS flattens them: `steps/<key>` (T x shape, float64 stored as float32, bool
as int64, `zlib`-encoded tensors as one compressed byte string per step), one encoded JPEG/PNG per step and camera,
one string per step for language, `episode_metadata/<name>` (and kuka's top-level `success`).

Every key comes from `adapters.oxe.subsets`, so each subset's builder carries that subset's native keys, with images
and depth shrunk to `image_size`. Values follow each key's declared unit; grippers close and reopen once over their
full native range. A camera with `bgr_at_shape` is stored BGR only when written at that shape: berkeley_autolab_ur5 at
`image_size=(480, 640)` is the raw OXE copy (BGR wrist images), at `(256, 256)` the rlds_dataset_mod copy (RGB).
Deterministic for a given seed. Quirk and fault switches: `mark_last=False` (`is_last`/`is_terminal` never set: Octo's
Bridge copy); `blank_cameras` (all-black frames, `has_image_*` 0: Bridge's padded `image_3`); `corrupt_crc=(split,
i)` (one payload byte of episode i flipped: payload CRC mismatch, framing intact).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from adapters.oxe.builder import NP_DTYPES, shard_name
from adapters.oxe.hands import FRANKA_MAX_WIDTH_M
from adapters.oxe.subsets import NORMALIZED, SE3_FLAT, SUBSETS, OXESubset, StreamSpec, find_subset
from adapters.oxe.tfrecord import build_example, frame_record
from adapters.poses import se3
from adapters.synthetic.rlds_features import Layout, features_json, steps_layout
from adapters.synthetic.video import encode_image, synthetic_frames
from schemas.robots.joint_space import load_joint_space

_INSTRUCTIONS = (
    "put carrot on plate",
    "put cup from counter or drying rack into sink",
    "turn lever vertical to front",
    "flip pot upright which is in sink",
    "pick up the red block",
)
_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"
EpisodeAt = tuple[str, int]
DESCRIPTIONS = Path(
    str(resources.files("schemas") / "robots" / "descriptions")
)  # (split, index of the episode within the split)


@dataclass
class WrittenEpisode:
    """Ground truth for one written episode (what a correct reader must return)."""

    raw_id: str  # <split>/<shard:05d>/<record:06d>, as the oxe adapter names it
    split: str
    index: int  # within the split
    num_steps: int
    tensors: dict[str, np.ndarray]  # key under steps/ -> (T, *shape), declared dtype, values as stored
    images: dict[str, list[np.ndarray]]  # camera key under steps/ -> RGB frames before encoding
    language: dict[str, list[str]]  # text key under steps/ -> one string per step
    episode_metadata: dict[str, Any]  # full key -> value


@dataclass
class WrittenBuilder:
    path: Path  # <root>/<dataset>/<version>
    dataset: str
    subset: OXESubset
    episodes: list[WrittenEpisode]
    shards: dict[str, list[Path]]
    blank_cameras: tuple[str, ...]
    damaged: dict[str, str] = field(default_factory=dict)  # raw id -> "truncated" | "payload_crc" | "length_crc"

    def episode(self, raw_id: str) -> WrittenEpisode:
        return next(e for e in self.episodes if e.raw_id == raw_id)


def _gripper_cycle(steps: int) -> np.ndarray:
    """(steps,) 1 -> 0 -> 1: a grasp that uses the whole stroke, so a reader's scale shows in its output range."""
    return 0.5 + 0.5 * np.cos(2 * np.pi * np.arange(steps) / max(steps - 1, 1))


def _values(spec: StreamSpec, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Plausible values for a native tensor: smooth walks, unit quaternions, one-hot terminate, commands in [-1, 1],
    grippers closing and reopening over their native range (0..1, or taco_play's width 0..0.08 m)."""
    shape = (steps, *spec.shape)
    dtype = NP_DTYPES[spec.dtype]
    if spec.key.endswith("terminate_episode"):
        out = np.zeros(shape, dtype=np.float64)
        if spec.shape == (3,):
            out[:, 1], out[-1] = 1, (1, 0, 0)
        else:
            out[-1] = 1
        return out.astype(dtype)
    if spec.dtype == "bool":
        return (np.arange(steps) % 2 == 0).reshape(-1, *([1] * len(spec.shape))) & np.ones(shape, bool)
    walk = rng.normal(size=(1, *spec.shape)) + np.cumsum(0.05 * rng.normal(size=shape), axis=0)
    parts = spec.parts or ()
    walk = walk.reshape(steps, spec.size) if parts else walk  # a matrix's parts slice it flattened (StreamSpec)
    for p in parts:
        sl = walk[:, p.start : p.stop]
        # CALVIN robot_obs 'gripper opening width (1): in meter', Franka Hand 0..0.08
        if "width" in p.name and p.unit == "m":
            walk[:, p.start : p.stop] = FRANKA_MAX_WIDTH_M * _gripper_cycle(steps)[:, None]
        elif "finger" in p.name and p.unit == "m":  # one finger's travel (ManiSkill's qpos), half the width
            walk[:, p.start : p.stop] = FRANKA_MAX_WIDTH_M / 2 * _gripper_cycle(steps)[:, None]
        elif p.unit == "0..1" and "gripper" in p.name:
            walk[:, p.start : p.stop] = _gripper_cycle(steps)[:, None]
        elif p.unit == "m":  # metres: a tabletop workspace for positions, millimetre steps for deltas
            width = p.stop - p.start
            steps_m = np.cumsum(0.003 * rng.normal(size=(steps, width)), axis=0)
            if "delta" in p.name:
                walk[:, p.start : p.stop] = 0.003 * rng.normal(size=(steps, width))
            else:
                walk[:, p.start : p.stop] = np.array([0.45, 0.0, 0.25, 0.0, 0.0, 0.0])[:width] + steps_m
        elif p.unit == SE3_FLAT:  # a homogeneous pose: a 16-vector column-major as libfranka's O_T_EE (deoxys
            # records it so), a (4, 4) tensor the matrix itself (row-major, as TFDS stores a numpy array)
            rot = Rotation.from_rotvec(0.3 * sl[:, :3]).as_matrix()
            mats = se3(rot, np.array([0.45, 0.0, 0.25]) + np.cumsum(0.003 * rng.normal(size=(steps, 3)), axis=0))
            mats = mats if len(spec.shape) == 2 else mats.transpose(0, 2, 1)
            walk[:, p.start : p.stop] = mats.reshape(steps, 16)
        elif p.unit.startswith("quat"):
            walk[:, p.start : p.stop] = sl / np.linalg.norm(sl, axis=1, keepdims=True)
        elif p.unit == "0..1":
            walk[:, p.start : p.stop] = 1 / (1 + np.exp(-sl))
        elif p.unit == "-1..1":
            walk[:, p.start : p.stop] = np.where(sl >= 0, 1.0, -1.0)
        elif p.unit == NORMALIZED:
            walk[:, p.start : p.stop] = np.clip(sl, -1.0, 1.0)
    walk = walk.reshape(shape)
    if not parts and spec.unit == NORMALIZED:
        walk = np.clip(walk, -1.0, 1.0)
    if not parts and spec.unit == "0..1":
        gripper = "gripper" in spec.key.rsplit("/", 1)[-1] and spec.shape == (1,)
        walk = _gripper_cycle(steps)[:, None] if gripper else 1 / (1 + np.exp(-walk))
    if spec.dtype in ("int32", "int64"):
        return np.round(walk).astype(dtype)
    return walk.astype(np.float32).astype(dtype)  # what survives TFDS' float_list storage


def _joint_walk(cfg: OXESubset, arm: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """(steps, n) joint angles (rad) of arm `arm` of the row's `joint_fk` robot: a smooth walk around the middle of
    each joint's range in its description, within it, so the unit reads as radians against the limits; written as
    the recorder counts them, the row's `joint_zero` (the description's angle at the recorded 0) taken off."""
    spec = load_joint_space().robots[cfg.embodiment]
    root = ElementTree.parse(DESCRIPTIONS / f"{spec.description}.urdf").getroot()
    limits = {j.get("name"): j.find("limit") for j in root.iter("joint")}
    lo = np.array([float(limits[j.urdf].get("lower")) for j in spec.arms[arm].joints])  # type: ignore[union-attr]
    hi = np.array([float(limits[j.urdf].get("upper")) for j in spec.arms[arm].joints])  # type: ignore[union-attr]
    phase = rng.uniform(0, 2 * np.pi, size=len(lo))
    swing = 0.3 * np.sin(np.linspace(0, np.pi, steps)[:, None] + phase)  # within +-30 % of each half range
    assert cfg.joint_fk is not None
    zero = np.array([cfg.joint_fk.joint_zero.get(j.urdf, 0.0) for j in spec.arms[arm].joints])
    return (lo + hi) / 2 + swing * (hi - lo) / 2 - zero


def _episode(
    cfg: OXESubset,
    dataset: str,
    layout: Layout,
    split: str,
    index: int,
    steps: int,
    seed: int,
    mark_last: bool,
    blank: tuple[str, ...],
) -> tuple[dict[str, Any], WrittenEpisode]:
    """One episode: the flat Example features and the ground truth."""
    rng = np.random.default_rng([seed, index, sum(map(ord, split))])
    feats: dict[str, Any] = {}
    tensors: dict[str, np.ndarray] = {}
    for spec, shape in layout.tensors:
        values = _values(
            spec.model_copy(update={"shape": shape, "parts": spec.parts if shape == spec.shape else ()}), steps, rng
        )
        if spec in cfg.skipped and spec.key.endswith("language_embedding"):
            values = np.repeat(values[:1], steps, axis=0)  # one embedding of the episode's instruction
        tensors[spec.key] = values
        if spec.encoding == "none":
            feats["steps/" + spec.key] = values
        else:
            raw = [v.astype(NP_DTYPES[spec.dtype]).tobytes() for v in values]
            feats["steps/" + spec.key] = [zlib.compress(b) if spec.encoding == "zlib" else b for b in raw]
    for arm, column in enumerate(cfg.joint_fk.joints if cfg.joint_fk is not None else ()):
        key, _, part = column.partition(":")  # a described robot's joints: within its limits
        spec = next(s for s in cfg.states if s.key == key)
        at = next((p for p in spec.parts if p.name == part), None) if part else None
        cols = slice(at.start, at.stop) if at is not None else slice(None)
        if key in tensors:
            tensors[key][:, cols] = _joint_walk(cfg, arm, steps, rng).astype(np.float32)
            feats["steps/" + key] = tensors[key]
    images: dict[str, list[np.ndarray]] = {}
    for n, (cam, (h, w, _)) in enumerate(layout.cameras):
        if cam.key in blank:
            frames = [np.zeros((h, w, 3), np.uint8) for _ in range(steps)]
        else:
            frames = synthetic_frames(steps, h, w, index * 7 + n)
        images[cam.key] = frames
        bgr = cam.stores_bgr((h, w, 3))  # raw berkeley_autolab_ur5 at 480x640 only, as the two real copies differ
        feats["steps/" + cam.key] = [encode_image(f, cam.encoding_format, store_bgr=bgr) for f in frames]
    for spec, (h, w, c) in layout.images_skipped:
        depth = rng.uniform(0.3, 2.0, size=(h, w, c)).astype(np.float32)  # TFDS: float32 pixels as 4 PNG bytes
        ok, png = cv2.imencode(".png", np.ascontiguousarray(depth.view(np.uint8).reshape(h, w, 4 * c)))
        assert ok
        feats["steps/" + spec.key] = [png.tobytes()] * steps
    language: dict[str, list[str]] = {}
    for k, text in enumerate(cfg.language):
        phrase = _INSTRUCTIONS[(index + k) % len(_INSTRUCTIONS)] if k == 0 or index % 2 == 0 else ""
        language[text.key] = [phrase] * steps
        feats["steps/" + text.key] = [phrase.encode()] * steps
    is_first, is_last = np.arange(steps) == 0, (np.arange(steps) == steps - 1) & mark_last
    feats["steps/is_first"], feats["steps/is_last"], feats["steps/is_terminal"] = is_first, is_last, is_last
    feats["steps/reward"] = tensors["reward"] = is_last.astype(np.float32)  # 1 on the final step of a demo
    if cfg.has_discount:
        feats["steps/discount"] = tensors["discount"] = np.ones(steps, np.float32)
    success = index % 3 != 2
    meta: dict[str, Any] = {}
    for m in cfg.episode_metadata:
        name = m.key.rsplit("/", 1)[-1]
        if name == "file_path" and cfg.success_from_file_path:
            value: Any = (
                f"gs://xembodiment_data/r2d2/raw/LAB/{'success' if success else 'failure'}/2023-04-2"
                f"{index % 10}/ep_{split}_{index:04d}/trajectory.h5"
            )
        elif name == "file_path":
            value = f"/data/{dataset}/raw/{_INSTRUCTIONS[index % 5].replace(' ', '_')}/{split}/out.npy"
        elif name == "recording_folderpath":
            value = f"gs://xembodiment_data/r2d2/raw/LAB/ep_{split}_{index:04d}/recordings/MP4"
        elif name == "episode_id":
            value = str(index) if m.dtype == "string" else index  # ManiSkill's is Text
        elif name.startswith("has_image_"):
            value = False  # Bridge quirk: the flags are 0 although the images are there
        elif m.dtype == "bool":
            value = True
        else:
            value = f"{name}_{index}" if m.dtype == "string" else index
        meta[m.key] = value
        feats[m.key] = [value.encode()] if isinstance(value, str) else np.asarray([value])
    if cfg.success_key is not None:
        meta[cfg.success_key] = success
        feats[cfg.success_key] = np.asarray([success])
    ep = WrittenEpisode("", split, index, steps, tensors, images, language, meta)
    return feats, ep


def write_rlds(
    root: Path | str,
    subset: str = "bridge",
    *,
    dataset_name: str | None = None,
    version: str = "1.0.0",
    episodes: int | dict[str, int] = 3,
    steps: int = 10,
    vary_steps: bool = True,
    shards: int = 1,
    image_size: tuple[int, int] = (48, 64),
    seed: int = 0,
    mark_last: bool = True,
    blank_cameras: Sequence[str] = (),
    corrupt_crc: EpisodeAt | None = None,
) -> WrittenBuilder:
    """Write `<root>/<dataset>/<version>/` for `subset` (a table name or alias, see `adapters.oxe.subsets`).

    `episodes` per split (an int means {"train": n}); episode i of a split has `steps + i % 3` steps when
    `vary_steps`. `shards` splits each split's episodes into that many consecutive shards."""
    cfg = find_subset(subset)
    if cfg is None:
        raise KeyError(f"unknown OXE subset {subset!r}; known: {sorted(SUBSETS)}")
    dataset = dataset_name or (cfg.aliases[0] if cfg.name == "bridge" else cfg.name)
    path = Path(root) / dataset / version
    path.mkdir(parents=True, exist_ok=True)
    counts = {"train": episodes} if isinstance(episodes, int) else dict(episodes)
    layout = steps_layout(cfg, image_size)
    blank = tuple(k if k.startswith("observation/") else f"observation/{k}" for k in blank_cameras)

    per_split: dict[str, list[tuple[bytes, WrittenEpisode]]] = {}
    for split, n in counts.items():
        per_split[split] = []
        for i in range(n):
            feats, ep = _episode(
                cfg, dataset, layout, split, i, steps + (i % 3 if vary_steps else 0), seed, mark_last, blank
            )
            per_split[split].append((build_example(feats), ep))

    written: list[WrittenEpisode] = []
    shard_paths: dict[str, list[Path]] = {}
    spans: dict[tuple[str, int], tuple[Path, int, int]] = {}  # (split, index) -> (shard, header offset, length)
    info_splits = []
    for split, items in per_split.items():
        n_shards = max(1, min(shards, len(items))) if items else 1
        bounds = np.linspace(0, len(items), n_shards + 1).round().astype(int)
        shard_paths[split], lengths, num_bytes = [], [], 0
        for s in range(n_shards):
            shard = path / shard_name(_TEMPLATE, dataset, split, "tfrecord", s, n_shards)
            offset = 0
            with open(shard, "wb") as f:
                for record, (payload, ep) in enumerate(items[bounds[s] : bounds[s + 1]]):
                    framed = frame_record(payload)
                    f.write(framed)
                    ep.raw_id = f"{split}/{s:05d}/{record:06d}"
                    spans[(split, ep.index)] = (shard, offset, len(payload))
                    offset += len(framed)
                    written.append(ep)
            shard_paths[split].append(shard)
            lengths.append(str(bounds[s + 1] - bounds[s]))
            num_bytes += offset
        info_splits.append(
            {"filepathTemplate": _TEMPLATE, "name": split, "numBytes": str(num_bytes), "shardLengths": lengths}
        )
    (path / "features.json").write_text(json.dumps(features_json(cfg, layout), indent=2))
    info = {
        "citation": f"// synthetic {dataset} written by adapters.synthetic.rlds",
        "description": f"Synthetic {dataset} ({cfg.name} layout), see adapters/oxe/subsets.py.",
        "fileFormat": "tfrecord",
        "moduleName": f"{dataset}.{dataset}_dataset_builder",
        "name": dataset,
        "releaseNotes": {version: "Initial release."},
        "splits": info_splits,
        "version": version,
    }
    (path / "dataset_info.json").write_text(json.dumps(info, indent=2))

    result = WrittenBuilder(path, dataset, cfg, written, shard_paths, blank)
    if corrupt_crc is not None:
        shard, offset, length = spans[corrupt_crc]
        result.damaged[next(e.raw_id for e in written if (e.split, e.index) == corrupt_crc)] = "payload_crc"
        with open(shard, "r+b") as f:
            f.seek(offset + 12 + length // 2)
            byte = f.read(1)
            f.seek(offset + 12 + length // 2)
            f.write(bytes([byte[0] ^ 0xFF]))
    return result
