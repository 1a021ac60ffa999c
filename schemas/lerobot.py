"""LeRobot v2.1 meta files as pydantic models (the features of `info.json`: `schemas/lerobot_features.py`).

Reading tolerates what real datasets carry (pre-release v2.0 info, float fps, extra keys); `dump_*` helpers write
exactly what lerobot 0.3.3 writes (key order, `indent=4`, jsonl separators).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from string import Formatter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.lerobot_features import FeatureSpec, prerelease_v20_features, video_keys

CODEBASE_VERSION = "v2.1"
DEFAULT_CHUNK_SIZE = 1000
INFO_PATH = "meta/info.json"
EPISODES_PATH = "meta/episodes.jsonl"
TASKS_PATH = "meta/tasks.jsonl"
EPISODES_STATS_PATH = "meta/episodes_stats.jsonl"
LEGACY_STATS_PATH = "meta/stats.json"
MODALITY_PATH = "meta/modality.json"  # GR00T's (`schemas.modality`)
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"

# The placeholders lerobot's own path templates use: v2.0/v2.1 `{episode_chunk}`, `{episode_index}`, `{video_key}`
# (huggingface/lerobot lerobot/common/datasets/utils.py @000e447 DEFAULT_PARQUET_PATH / DEFAULT_VIDEO_PATH); v3.0
# `{chunk_index}`, `{file_index}`, `{video_key}`, and `{image_key}` for images (src/lerobot/datasets/utils.py @00448aa
# DEFAULT_DATA_PATH / DEFAULT_VIDEO_PATH / DEFAULT_IMAGE_PATH, which keeps the v2.1 ones as LEGACY_*). Hand-made
# per-episode datasets mix them (`data/chunk-{chunk_index:03d}/episode_{episode_index:06d}.parquet` under v2.1).
CHUNK_PLACEHOLDERS = ("episode_chunk", "chunk_index")


def fill_path_template(
    template: str,
    episode_index: int,
    chunk: int,
    video_key: str | None = None,
    file_index: int | None = None,
    total_episodes: int | None = None,
) -> str:
    """A per-episode path from a template in any of lerobot's spellings: the chunk under either name, the camera
    as `{video_key}` or `{image_key}`, the pre-release v2.0 `{total_episodes}` (`train-{episode_index:05d}-of-
    {total_episodes:05d}.parquet`). `{file_index}` (v3.0's file within a chunk) is only filled when given; any other
    placeholder raises ValueError naming the template and the placeholders it knows.

    The template comes from the dataset, so it is data, not code: a placeholder is a bare name with at most a format
    spec (no `{episode_index.__class__}` attribute or `[0]` index access), and the path filled in must stay inside the
    dataset root (relative, no `..` part), else ValueError naming the template and the path it gives."""
    values = _values(episode_index, chunk, video_key, file_index, total_episodes)
    try:
        _bare_names(template)
        path = template.format(**values)
    except KeyError as err:
        raise ValueError(
            f"path template {template!r}: placeholder {{{err.args[0]}}} is none of {sorted(values)}"
        ) from None
    except (IndexError, ValueError) as err:
        raise ValueError(f"path template {template!r} cannot be filled ({err})") from None
    parts = [x for x in path.split("/") if x and x != "."]  # PurePosixPath(path).parts, not made per episode
    if not path or path.startswith(("/", "\\")) or ".." in parts or "\\" in path or "\0" in path or ":" in parts[0]:
        raise ValueError(f"path template {template!r} gives {path!r}, which leaves the dataset root")
    return path


def fill_path_templates(
    template: str,
    episodes: Sequence[int],
    chunks_size: int,
    video_key: str | None = None,
    total_episodes: int | None = None,
) -> list[str]:
    """`fill_path_template` of each of `episodes` (chunk `episode // chunks_size`): the same paths, the same error.
    Where the template writes its numbers as digits (`_numbers_as_digits`) the first episode's path is filled and
    checked as one, the others by one `str.format_map` each: a dry run fills one per episode file, 1.6M at 1M
    episodes (issue 99), and the checks cost 3x the fill."""
    if not episodes:
        return []
    first = fill_path_template(template, episodes[0], episodes[0] // chunks_size, video_key, None, total_episodes)
    if not _numbers_as_digits(template):
        return [first] + [
            fill_path_template(template, i, i // chunks_size, video_key, None, total_episodes) for i in episodes[1:]
        ]
    out, values = [first], _values(episodes[0], 0, video_key, None, total_episodes)
    for i in episodes[1:]:
        values["episode_index"] = i
        values["episode_chunk"] = values["chunk_index"] = i // chunks_size
        out.append(template.format_map(values))
    return out


def _values(
    episode_index: int, chunk: int, video_key: str | None, file_index: int | None, total_episodes: int | None
) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(CHUNK_PLACEHOLDERS, chunk) | {"episode_index": episode_index}
    if total_episodes is not None:
        values["total_episodes"] = total_episodes
    if video_key is not None:
        values |= {"video_key": video_key, "image_key": video_key}
    if file_index is not None:
        values["file_index"] = file_index
    return values


NUMBERS = (*CHUNK_PLACEHOLDERS, "episode_index", "file_index", "total_episodes")  # the placeholders given an int
_DIGITS_SPEC = re.compile(r"0?\d*d?")  # `06d`, `03`, `d`, none: an int written as digits, a '-', padding spaces


@lru_cache(maxsize=1024)
def _numbers_as_digits(template: str) -> bool:
    """Whether every number the template places is written by a spec of digits only (`{episode_index:06d}`, lerobot's
    own). Then two episodes' paths differ only in runs of digits ('-', spaces), never in a '/', '\\', ':' or NUL or
    in a part '.' or '..' (a part holding a number holds a digit): `fill_path_template`'s checks and its errors are
    the same for every episode as for the first. Any other template is checked per episode."""
    try:
        fields = list(Formatter().parse(template))
    except ValueError:
        return False
    return all(
        name not in NUMBERS or (not conversion and _DIGITS_SPEC.fullmatch(spec or "") is not None)
        for _, name, spec, conversion in fields
    )


@lru_cache(maxsize=1024)
def _bare_names(template: str) -> None:
    """ValueError unless every placeholder of `template` is a bare name; checked once per template (a plan fills
    one or two templates for each of a million episodes' files, issue 99), an error raised again at each ask."""
    for _, name, spec, conversion in Formatter().parse(template):
        if name is not None and (not name.isidentifier() or conversion or "{" in (spec or "")):
            raise ValueError(f"placeholder {{{name}}} is not a bare name (attribute, index or nested field)")


class InfoJson(BaseModel):
    """`meta/info.json`. Field order is lerobot's write order."""

    model_config = ConfigDict(extra="allow")

    codebase_version: str = CODEBASE_VERSION
    robot_type: str | None = None
    total_episodes: int = 0
    total_frames: int = 0
    total_tasks: int = 0
    total_videos: int = 0
    total_chunks: int = 0
    chunks_size: int = DEFAULT_CHUNK_SIZE
    fps: float
    splits: dict[str, str] = Field(default_factory=dict)
    data_path: str = DATA_PATH
    video_path: str | None = VIDEO_PATH
    features: dict[str, FeatureSpec]

    @property
    def video_keys(self) -> list[str]:
        return video_keys(self.features)

    def episode_chunk(self, episode_index: int) -> int:
        return episode_index // self.chunks_size

    def data_file(self, episode_index: int) -> str:
        chunk = self.episode_chunk(episode_index)
        return fill_path_template(self.data_path, episode_index, chunk, total_episodes=self.total_episodes)

    def data_files(self, episodes: Sequence[int]) -> list[str]:
        """`data_file` of each of `episodes` (`fill_path_templates`)."""
        return fill_path_templates(self.data_path, episodes, self.chunks_size, total_episodes=self.total_episodes)

    def video_files(self, episodes: Sequence[int], video_key: str) -> list[str]:
        """`video_file` of each of `episodes` (`fill_path_templates`)."""
        if self.video_path is None:
            raise ValueError("dataset has no video_path")
        return fill_path_templates(self.video_path, episodes, self.chunks_size, video_key, self.total_episodes)

    def video_file(self, episode_index: int, video_key: str) -> str:
        if self.video_path is None:
            raise ValueError("dataset has no video_path")
        chunk = self.episode_chunk(episode_index)
        return fill_path_template(self.video_path, episode_index, chunk, video_key, total_episodes=self.total_episodes)

    @model_validator(mode="before")
    @classmethod
    def _accept_prerelease_v20(cls, data: Any) -> Any:
        """lerobot's pre-release v2.0 info.json, without `features`: read as the features it describes
        (`prerelease_v20_features`), its videos' path from `videos`."""
        if not isinstance(data, dict) or "features" in data or not isinstance(data.get("keys"), list):
            return data
        out = {**data, "features": prerelease_v20_features(data)}
        if "video_path" not in data:
            out["video_path"] = (data.get("videos") or {}).get("videos_path") if data.get("video_keys") else None
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in InfoJson.model_fields}
        out["fps"] = int(self.fps) if float(self.fps).is_integer() else self.fps
        out["features"] = {k: f.to_json() for k, f in self.features.items()}
        out.update(self.model_extra or {})
        return out


class ActionSegment(BaseModel):
    """A LingBot-VA `action_config` segment: frames [start_frame, end_frame) described by `action_text`."""

    model_config = ConfigDict(extra="allow")

    start_frame: int = Field(ge=0)
    end_frame: int
    action_text: str

    @model_validator(mode="after")
    def _ordered(self) -> ActionSegment:
        if self.end_frame <= self.start_frame:
            raise ValueError(f"end_frame {self.end_frame} must be greater than start_frame {self.start_frame}")
        return self


class MetaRecord(BaseModel):
    """A meta file's record read and written back whole: extra keys are kept."""

    model_config = ConfigDict(extra="allow")

    def to_json(self) -> dict[str, Any]:
        """The declared fields in order (None ones left out), then the extra keys as read."""
        return self.model_dump(exclude={k for k in type(self).model_fields if getattr(self, k) is None})


class EpisodeEntry(MetaRecord):
    """One line of `meta/episodes.jsonl`; extra keys (lineage, converter fields) are kept."""

    episode_index: int
    tasks: list[str]
    length: int
    action_config: list[ActionSegment] | None = None

    @model_validator(mode="after")
    def _segments_inside(self) -> EpisodeEntry:
        for seg in self.action_config or []:
            if seg.end_frame > self.length:
                raise ValueError(
                    f"action_config segment [{seg.start_frame}, {seg.end_frame}) ends past the episode "
                    f"length {self.length}"
                )
        return self


class TaskEntry(MetaRecord):
    task_index: int
    task: str


StatValue = list[Any]


class FeatureStats(MetaRecord):
    """min/max/mean/std as nested lists (shape (D,), (1,) or (3,1,1)); count = [n]."""

    min: StatValue
    max: StatValue
    mean: StatValue
    std: StatValue
    count: list[int]


class EpisodeStatsEntry(MetaRecord):
    episode_index: int
    stats: dict[str, FeatureStats]


# ---------------------------------------------------------------------------------------------------------------
# Serialization exactly as lerobot 0.3.3 writes it.


def dump_info(info: InfoJson) -> str:
    return json.dumps(info.to_json(), indent=4, ensure_ascii=False)


def dump_jsonl_line(obj: dict[str, Any]) -> str:
    """One jsonl line as the `jsonlines` package writes it (json.dumps defaults, no ASCII escaping)."""
    return json.dumps(obj, ensure_ascii=False) + "\n"


class MetaFileError(ValueError):
    """A dataset meta file that cannot be read, with the file (`path`) and the line the cause is on, so an error
    about a dataset's meta names the file that holds the bad byte, not `info.json` (reliability review 1n)."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = str(path)
        super().__init__(message)


def split_lines(text: str) -> list[str]:
    """A jsonl file's lines with their "\\n": unlike `str.splitlines`, a U+2028 inside a JSON string (which
    `ensure_ascii=False` leaves raw) does not end a line."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def dump_lines(entries: Iterable[EpisodeEntry | TaskEntry | EpisodeStatsEntry]) -> str:
    return "".join(dump_jsonl_line(e.to_json()) for e in entries)
