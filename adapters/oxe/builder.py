"""TFDS builder directories read without TensorFlow: `features.json` flattened into `FeatureInfo` leaves, the
splits and shard file names of `dataset_info.json` (`Builder`, `load_builder`, `find_builders`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from adapters.base import AdapterError
from adapters.hostile import bounds
from adapters.storage.location import Location

ADAPTER = "oxe"
STEPS = "steps/"
RLDS_FLAGS = ("is_first", "is_last", "is_terminal")
STEP_SIGNALS = ("reward", "discount")
MAX_GENERIC_STATE = 64  # unconfigured per-step tensors larger than this (embeddings, depth) are not read
NP_DTYPES = {name: np.dtype(name).type for name in ("float32", "float64", "int32", "int64", "bool", "uint8")}


@dataclass(frozen=True)
class FeatureInfo:
    """One leaf of a TFDS FeaturesDict, flattened: `key` as in the `tf.train.Example`."""

    key: str
    kind: Literal["tensor", "image", "text", "unknown"]
    shape: tuple[int | None, ...]
    dtype: str
    encoding: str = "none"
    image_format: str | None = None
    description: str = ""

    @property
    def in_steps(self) -> bool:
        return self.key.startswith(STEPS)

    @property
    def rel(self) -> str:
        return self.key[len(STEPS) :] if self.in_steps else self.key


def _shape(d: Mapping[str, Any]) -> tuple[int | None, ...]:
    return tuple(None if int(x) < 0 else int(x) for x in (d.get("shape") or {}).get("dimensions") or [])


def parse_features(doc: Mapping[str, Any]) -> dict[str, FeatureInfo]:
    """TFDS `features.json` -> {flattened key: FeatureInfo} (nested FeaturesDict/Dataset names joined by '/')."""
    out: dict[str, FeatureInfo] = {}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        def leaf(kind: Any, shape: tuple[int | None, ...] = (), dtype: str = "", **more: Any) -> None:
            out[prefix[:-1]] = FeatureInfo(
                prefix[:-1], kind, shape, dtype, description=node.get("description", ""), **more
            )

        if "featuresDict" in node:
            for name, child in node["featuresDict"].get("features", {}).items():
                walk(child, f"{prefix}{name}/")
        elif "sequence" in node:  # Dataset (RLDS steps) or Sequence
            walk(node["sequence"]["feature"], prefix)
        elif "image" in node:
            img = node["image"]
            leaf("image", _shape(img), img.get("dtype", "uint8"), image_format=img.get("encodingFormat"))
        elif "text" in node or node.get("pythonClassName", "").endswith("Text"):
            leaf("text", (), "string")
        elif "tensor" in node:
            t = node["tensor"]
            kind = "text" if t.get("dtype") == "string" else "tensor"
            leaf(kind, _shape(t), t.get("dtype", "float32"), encoding=t.get("encoding", "none"))
        elif "classLabel" in node:
            leaf("tensor", (), "int64")
        else:
            leaf("unknown")

    walk(doc, "")
    return out


@dataclass(frozen=True)
class SplitInfo:
    name: str
    shards: tuple[Location, ...]
    shard_lengths: tuple[int, ...] | None  # episodes per shard, from dataset_info.json


@dataclass(frozen=True)
class Builder:
    """A TFDS builder directory `<dataset>/<version>/`."""

    path: Location
    name: str
    version: str
    splits: tuple[SplitInfo, ...]
    features: dict[str, FeatureInfo] = field(repr=False)


def version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)) or (0,)


def shard_name(template: str, dataset: str, split: str, fmt: str, i: int, n: int) -> str:
    return (
        template.replace("{DATASET}", dataset)
        .replace("{SPLIT}", split)
        .replace("{FILEFORMAT}", fmt)
        .replace("{SHARD_X_OF_Y}", f"{i:05d}-of-{n:05d}")
        .replace("{SHARD_INDEX}", f"{i:05d}")
        .replace("{NUM_SHARDS}", f"{n:05d}")
    )


@lru_cache(maxsize=64)
def load_builder(path: Location) -> Builder:
    """Read `dataset_info.json` and `features.json` of one builder directory (cached per path)."""
    try:
        info = bounds.load_json(path / "dataset_info.json", "dataset_info.json")
    except (OSError, ValueError) as e:
        raise AdapterError(
            f"unreadable dataset_info.json: {e}", adapter=ADAPTER, file=path / "dataset_info.json"
        ) from e
    try:
        features = parse_features(bounds.load_json(path / "features.json", "features.json"))
    except (OSError, ValueError, KeyError) as e:
        raise AdapterError(f"unreadable features.json: {e}", adapter=ADAPTER, file=path / "features.json") from e
    name = info.get("name") or path.parent.name
    fmt = info.get("fileFormat", "tfrecord")
    splits = []
    for s in info.get("splits", []):
        template = s.get("filepathTemplate", "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}")
        lengths = tuple(int(x) for x in s["shardLengths"]) if s.get("shardLengths") else None
        if lengths is not None:
            shards = tuple(
                path / shard_name(template, name, s["name"], fmt, i, len(lengths)) for i in range(len(lengths))
            )
        else:  # no shard list: whatever matches the template on disk
            pattern = shard_name(template, name, s["name"], fmt, 0, 0).replace("00000-of-00000", "*-of-*")
            shards = tuple(sorted(path.glob(pattern)))
        splits.append(SplitInfo(s["name"], shards, lengths))
    splits.sort(key=lambda s: s.name)
    return Builder(path, name, str(info.get("version", path.name)), tuple(splits), features)


def find_builders(root: Location, max_depth: int = 3) -> list[Location]:
    """Builder directories at or under `root` (each holding a dataset_info.json), sorted."""
    if (root / "dataset_info.json").is_file():
        return [root]
    found = []
    for depth in range(1, max_depth + 1):
        found += [p.parent for p in root.glob("/".join(["*"] * depth) + "/dataset_info.json")]
    return sorted(set(found))
