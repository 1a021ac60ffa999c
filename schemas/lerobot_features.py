"""LeRobot's feature schema, one module for the reader (`adapters/lerobot`), the writer (`ingest/lerobot`) and the
exporter (`jobs/export/lerobot_v3`), v2.1 and v3.0: an entry of `info.json["features"]` (dtype, shape, names, a
camera's probed video info), lerobot's five index features, the v3.0 form of a v2.1 feature set, and the `huggingface`
feature JSON a feature is stored under in parquet.

Reading tolerates what real datasets carry (v2.0 `video_info`, `names` as a list, a dict or nested lists, float fps,
extra keys); `to_json` writes what lerobot writes (`tests/schemas/test_lerobot_features.py` holds it to real files).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The five columns lerobot adds to every dataset, in the order it writes them.
DEFAULT_FEATURE_DTYPES: dict[str, str] = {
    "timestamp": "float32",
    "frame_index": "int64",
    "episode_index": "int64",
    "index": "int64",
    "task_index": "int64",
}
IMAGE_NAMES = ["height", "width", "channels"]
VISUAL_DTYPES = ("video", "image")  # a camera: frames in mp4 files, or images in the parquet rows
NUMERIC_DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "bool"}

Names = list[str] | list[list[str]] | dict[str, Any] | None


class VideoInfo(BaseModel):
    """The `info` block lerobot probes from episode 0's mp4 (`video.*` keys)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    height: int | None = Field(None, alias="video.height")
    width: int | None = Field(None, alias="video.width")
    codec: str | None = Field(None, alias="video.codec")
    pix_fmt: str | None = Field(None, alias="video.pix_fmt")
    is_depth_map: bool = Field(False, alias="video.is_depth_map")
    fps: float | None = Field(None, alias="video.fps")
    channels: int | None = Field(None, alias="video.channels")
    has_audio: bool = False

    def to_json(self) -> dict[str, Any]:
        """The fields by their `video.*` keys in this order, an integral fps as an int, then the extra keys."""
        out = self.model_dump(by_alias=True)
        if self.fps is not None and float(self.fps).is_integer():
            out["video.fps"] = int(self.fps)
        return out


class FeatureSpec(BaseModel):
    """One entry of `info.json["features"]`."""

    model_config = ConfigDict(extra="allow")

    dtype: str
    # a `null` dimension is a width that varies by episode (BEHAVIOR-1K's `observation.task_info`: `shape: [null]`)
    shape: tuple[int | None, ...]
    names: Names = None
    # Video features: the probed `VideoInfo`; other features may carry free-form info (e.g. the embodiment mask).
    info: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_v20_video_info(cls, data: Any) -> Any:
        if isinstance(data, dict) and "video_info" in data and "info" not in data:
            data = dict(data)
            data["info"] = data.pop("video_info")
        return data

    @field_validator("shape", mode="before")
    @classmethod
    def _shape_as_tuple(cls, v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    @property
    def sized(self) -> tuple[int, ...]:
        """The shape with every width known, as a writer writes it; ValueError for a width that varies by episode."""
        if any(d is None for d in self.shape):
            raise ValueError(f"a feature of shape {list(self.shape)} has a width that varies by episode: not written")
        return tuple(d for d in self.shape if d is not None)

    @property
    def is_video(self) -> bool:
        return self.dtype == "video"

    @property
    def is_visual(self) -> bool:
        return self.dtype in VISUAL_DTYPES

    @property
    def video_info(self) -> VideoInfo | None:
        return VideoInfo.model_validate(self.info) if self.is_video and self.info else None

    def flat_names(self) -> list[str] | None:
        """Names as one flat list whatever the on-disk variant (list, {"motors": [...]}, nested lists)."""
        return flatten_names(self.names)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dtype": self.dtype, "shape": list(self.shape), "names": self.names}
        if self.info is not None:
            out["info"] = self.info
        out.update(self.model_extra or {})
        return out


def flatten_names(names: Names) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str):  # a single name as a dict value, e.g. {"gripper": "g"}: one name, not its characters
        return [names]
    if isinstance(names, dict):
        return [n for v in names.values() for n in (flatten_names(v) or [])]
    return [m for n in names for m in (flatten_names(n) or [] if isinstance(n, list | tuple | dict) else [str(n)])]


def default_features() -> dict[str, FeatureSpec]:
    return {k: FeatureSpec(dtype=d, shape=(1,), names=None) for k, d in DEFAULT_FEATURE_DTYPES.items()}


def camera_feature(height: int, width: int, info: dict[str, Any] | None = None) -> FeatureSpec:
    """A colour camera stored as video: shape (height, width, 3), lerobot's image names."""
    return FeatureSpec(dtype="video", shape=(height, width, 3), names=list(IMAGE_NAMES), info=info)


def video_keys(features: Mapping[str, FeatureSpec] | Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The video features' keys in feature order, of models or of `info.json`'s dicts (the exporter's form)."""
    return [k for k, ft in features.items() if is_video(ft)]


def is_video(ft: FeatureSpec | Mapping[str, Any]) -> bool:
    return (ft.dtype if isinstance(ft, FeatureSpec) else ft["dtype"]) == "video"


def prerelease_v20_features(data: dict[str, Any]) -> dict[str, Any]:
    """lerobot's pre-release v2.0 info.json has no `features`: `keys` (vectors), `video_keys`, `image_keys`,
    `shapes` (an int per vector, {height, width, channels} per camera), `names`, and `videos` holding
    `videos_path` and each camera's probe (lerobot's pre-release lerobot_dataset.py, CODEBASE_VERSION "v2.0":
    `info["keys"]`, `info["videos"]["videos_path"]`, `data_path.format(episode_index=, total_episodes=)`; code
    index id 25242877893). Read as the features it describes; the vectors' dtype is not stated (float32 assumed,
    the parquet's own type is what the reader uses)."""
    shapes, names, videos = data.get("shapes") or {}, data.get("names") or {}, data.get("videos") or {}
    features: dict[str, Any] = {}
    for key in data["keys"]:
        width = shapes.get(key, 1)
        features[key] = {
            "dtype": "float32",
            "shape": list(width) if isinstance(width, list) else [int(width)],
            "names": names.get(key),
        }
    for dtype, keys in (("video", data.get("video_keys") or []), ("image", data.get("image_keys") or [])):
        for key in keys:
            hw = shapes.get(key) or {}
            shape = [hw.get("height", 0), hw.get("width", 0), hw.get("channels", 3)] if isinstance(hw, dict) else hw
            features[key] = {"dtype": dtype, "shape": shape, "names": list(IMAGE_NAMES)}
            if dtype == "video" and isinstance(videos.get(key), dict):
                features[key]["info"] = videos[key]
    for key, dtype in DEFAULT_FEATURE_DTYPES.items():
        features.setdefault(key, {"dtype": dtype, "shape": [1], "names": None})
    return features


def features_v30(features_v21: dict[str, Any], fps: int) -> dict[str, Any]:
    """v2.1 features -> v3.0: every non-video feature gains `fps` (`convert_info`), but lerobot's five index features
    (timestamp, frame_index, episode_index, index, task_index) stay as its writer and dataset tools write them, without
    one (`dataset_metadata.py` `create`: `{**features, **DEFAULT_FEATURES}`, `utils/constants.py` DEFAULT_FEATURES).
    `lerobot-edit-dataset` writes every dataset it makes (delete_episodes, split, merge) through `create`, and its merge
    requires equal features, so an export with `fps` on those five could not be merged with a dataset made from it by
    lerobot's own tools. Video info is kept as is."""
    out = copy.deepcopy(features_v21)
    for key, ft in out.items():
        if not is_video(ft) and key not in DEFAULT_FEATURE_DTYPES:
            ft["fps"] = fps
    return out


# `datasets`' feature type of a 2-5-D array (lerobot's `get_hf_features_from_features`)
ARRAY_ND = {2: "Array2D", 3: "Array3D", 4: "Array4D", 5: "Array5D"}


def hf_feature_json(ft: FeatureSpec, *, datasets4: bool = False) -> dict[str, Any]:
    """The `datasets` feature a parquet column of `ft` is declared as: (1,) a `Value`, 1-D a sequence of `length`
    (`Sequence` in datasets 3.6, lerobot 0.3.3; `List` in datasets 4, lerobot 0.6.1: `datasets4`), 2-5-D `ArrayND`."""
    shape = tuple(ft.shape)
    if shape == (1,):
        return {"dtype": ft.dtype, "_type": "Value"}
    if len(shape) == 1:
        sequence = "List" if datasets4 else "Sequence"
        return {"feature": {"dtype": ft.dtype, "_type": "Value"}, "length": shape[0], "_type": sequence}
    return {"shape": list(shape), "dtype": ft.dtype, "_type": ARRAY_ND[len(shape)]}


def hf_features(features: Mapping[str, FeatureSpec], *, datasets4: bool = False) -> dict[str, Any]:
    """The `huggingface` schema metadata of a parquet holding `features`, in their order."""
    return {"info": {"features": {k: hf_feature_json(ft, datasets4=datasets4) for k, ft in features.items()}}}
