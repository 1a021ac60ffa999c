"""EPIC-KITCHENS-100: narrated action segments of long egocentric kitchen videos; one actionless episode per segment.

| native | canonical | unit, frame | rate |
| --- | --- | --- | --- |
| `<P>/videos/<video_id>.MP4` | camera `video` -> `Camera.head`, lazy, the segment's window only | RGB | video fps |
| `EPIC_100_{train,validation}.csv` `narration` | `Language(kind="narration")`, the whole episode (the task) | | |
| `start_timestamp` / `stop_timestamp` (`HH:MM:SS.ff`) | episode window in the mp4 (authoritative) | s | |
| `start_frame` / `stop_frame` | `metadata`; cross-checked against the timestamps | frame no. | 60 / 50 |
| `verb`, `verb_class`, `noun`, `noun_class`, `all_nouns`, `all_noun_classes` | `metadata["labels"]` | | |
| `narration_timestamp`, `participant_id`, `uid` | `metadata` | | |
| `EPIC_100_video_info.csv` `fps`, `duration`, `resolution` | `native_fps`, past-end check, `metadata` | Hz, s, px | |

Layout, from the makers' code (adapters/README.md `epic_kitchens` has the sources and the real rows checked):
- Videos: the download scripts' `EPIC-KITCHENS/<Pxx>/videos/<video_id>.MP4` and the RDSF release's
  `videos/<split>/<Pxx>/<video_id>.MP4`, either case of extension; `PXX_YY` videos are EPIC-55, `PXX_1YY` the
  extension (annotations README; the scripts' `extension = len(parts[1]) == 3`).
- CSVs: one row per segment, columns read by name (some train files start with a `uid` column); `all_nouns` /
  `all_noun_classes` are Python list literals inside the cell, parsed with `ast.literal_eval`; rows are not in time
  order (a file may be sorted by `narration_id` as text): episodes are sorted naturally.
- `EPIC_100_video_info.csv`: `video_id,duration,fps,resolution`, fps fractional and per video.

Time: `start_timestamp` / `stop_timestamp` (`HH:MM:SS.ff`, parsed as a decimal: the makers' `timestamp_to_sec`,
epic-kitchens-slowfast `epickitchens_record.py`, reads the fraction as hundredths, the same value for two digits)
cut the mp4 by its frame times. `start_frame` / `stop_frame` number the released RGB frames at a nominal 60/s
(EPIC-55) or 50/s (extension), not the video's rate, so they are only checked: a frame more than
`frame_tolerance_s` from its timestamp at both rates is a bad row (`metadata["frame_offset_s"]` keeps the gap).

No actions or states: embodiment `human_video`, tier `actionless` (its verdict
`source_no_action`). raw_id = `narration_id` (`P01_01_10`); subset =
the CSV's split (`train`, `validation`) unless `subset` is given. A bad row is its segment's `AdapterError` naming the
CSV, its line, the segment and the field.
"""

from __future__ import annotations

import ast
import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import av
from pydantic import Field

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, HandSignals, Language, RawEpisode
from adapters.cameras import VideoClipCamera, probe_video
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from schemas.canonical import Camera
from schemas.tiers import QualityTier

CAMERA = "video"
ANNOTATION_DIRS = ("", "epic-kitchens-100-annotations", "annotations")
REQUIRED = ("narration_id", "participant_id", "video_id", "start_timestamp", "stop_timestamp", "narration")
_TIMESTAMP = re.compile(r"^(\d{1,2}):([0-5]\d):([0-5]\d(?:\.\d+)?)$")


def parse_timestamp(text: str) -> float:
    """`HH:MM:SS.ff` -> seconds (the fraction read as a decimal). ValueError names what is wrong."""
    m = _TIMESTAMP.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not HH:MM:SS.ff")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def nominal_frame_rate(video_id: str) -> int:
    """The rate EPIC's frame numbers count at: 50 for extension videos (`PXX_1YY`), 60 for EPIC-55 (`PXX_YY`)."""
    return 50 if len(video_id.partition("_")[2]) == 3 else 60


def parse_list_cell(text: str, kind: type) -> list:
    """A Python list literal inside a CSV cell (`['door']`, `[3, 5]`) -> list of `kind`."""
    value = ast.literal_eval(text.strip())
    if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{text!r} is not a list of {kind.__name__}")
    return value


class EpicKitchensOptions(AdapterOptions):
    annotation_files: list[str] = Field(
        ["EPIC_100_train.csv", "EPIC_100_validation.csv"],
        min_length=1,
        description="segment CSVs, each looked for in the root, epic-kitchens-100-annotations/ and annotations/",
    )
    video_info_file: str = Field("EPIC_100_video_info.csv", description="per-video fps/duration/resolution CSV")
    video_layouts: list[str] = Field(
        ["{participant}/videos/{video_id}", "videos/*/{participant}/{video_id}", "videos/{video_id}", "{video_id}"],
        min_length=1,
        description="where a video is, relative to the root, without extension ('*' = any folder)",
    )
    min_duration_s: float = Field(0.0, ge=0, description="segments shorter than this are skipped")
    frame_tolerance_s: float = Field(0.5, gt=0, description="allowed gap between a frame column and its timestamp")


@dataclass
class _Video:
    path: Location | None
    looked: str
    fps: float | None
    duration: float | None
    resolution: str | None
    error: str | None = None


class EpicKitchensAdapter(SourceAdapter[EpicKitchensOptions]):
    name: ClassVar[str] = "epic_kitchens"
    camera_names: ClassVar[tuple[str, ...] | None] = (CAMERA,)
    expects: ClassVar[str] = "EPIC_100_{train,validation}.csv and <P>/videos/<video_id>.MP4"
    no_actions: ClassVar[str] = "narrated EPIC-KITCHENS segments: no action or state stream"

    def refs(self, root: Location) -> list[EpisodeRef]:
        files = [p for p in (self._find(root, name) for name in self.options.annotation_files) if p is not None]
        if not files:
            looked = ", ".join(self.options.annotation_files)
            raise self.error(f"no segment CSV under the root (looked for {looked})", file=root, field="annotations")
        info_file = self._find(root, self.options.video_info_file)
        info = self._video_info(info_file) if info_file else {}
        videos: dict[str, _Video] = {}
        refs = []
        self._short: list[tuple[str, float]] = []  # segments under min_duration_s: named, never dropped silently
        for csv_file in files:
            subset = self.options.subset or csv_file.stem.removeprefix("EPIC_100_")  # EPIC_100_train.csv -> train
            for line, row in self._rows(csv_file):
                ref = self._row_ref(root, csv_file, subset, line, row, info, videos)
                if ref is not None:
                    refs.append(ref)
        self.note_too_short(root, self._short, self.options.min_duration_s, "min_duration_s")
        return sorted(refs, key=lambda r: r.sort_key)

    def _find(self, root: Location, name: str) -> Location | None:
        found = next((root / d / name for d in ANNOTATION_DIRS if (root / d / name).is_file()), None)
        return None if found is None else self.inside(root, found, field="annotations")

    def _rows(self, path: Location, required: tuple[str, ...] = REQUIRED) -> Iterator[tuple[int, dict[str, str]]]:
        try:
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                missing = [c for c in required if c not in (reader.fieldnames or [])]
                if missing:
                    raise self.error(f"header has no {', '.join(missing)} column", file=path, field=missing[0])
                for row in reader:
                    yield reader.line_num, row
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise self.error(f"unreadable CSV: {e}", file=path, field="annotations") from e

    def _video_info(self, path: Location) -> dict[str, dict[str, str]]:
        return {row["video_id"]: row for _, row in self._rows(path, ("video_id", "duration", "fps"))}

    def _row_ref(
        self,
        root: Location,
        csv_file: Location,
        subset: str,
        line: int,
        row: dict[str, str],
        info: dict[str, dict[str, str]],
        videos: dict[str, _Video],
    ) -> EpisodeRef | None:
        raw_id = (row.get("narration_id") or "").strip() or f"{csv_file.stem}/line{line:07d}"
        paths: tuple[str, ...] = (str(csv_file),)
        try:
            seg = self._segment(csv_file, line, raw_id, row)
            video = videos.get(seg["video_id"])
            if video is None:
                video = videos[seg["video_id"]] = self._video(root, seg["participant_id"], seg["video_id"], info)
            paths = (video.looked, str(csv_file))
            self._check_window(csv_file, line, raw_id, seg, video)
        except AdapterError as e:
            return self.new_ref(raw_id, paths, subset=subset, error=e)
        if seg["stop_s"] - seg["start_s"] < self.options.min_duration_s:
            self._short.append((raw_id, seg["stop_s"] - seg["start_s"]))
            return None
        locator = {
            **seg,
            "csv": str(csv_file),
            "line": line,
            "fps": video.fps,
            "video_duration_s": video.duration,
            "resolution": video.resolution,
        }
        return self.new_ref(raw_id, paths, subset=subset, locator=locator)

    def _segment(self, csv_file: Location, line: int, raw_id: str, row: dict[str, str]) -> dict[str, Any]:
        """The row's fields, parsed and checked; AdapterError names the CSV, its line, the segment and the field."""

        def bad(field: str, why: str) -> AdapterError:
            return self.error(f"line {line}: {field} {why}", file=csv_file, episode=raw_id, field=field)

        for key in REQUIRED:
            if not (row.get(key) or "").strip():
                raise bad(key, "is empty")
        seg: dict[str, Any] = {k: row[k].strip() for k in ("participant_id", "video_id", "narration")}
        for key in ("start_timestamp", "stop_timestamp"):
            try:
                seg[key[: key.index("_")] + "_s"] = parse_timestamp(row[key])
            except ValueError as e:
                raise bad(key, str(e)) from e
        if seg["stop_s"] <= seg["start_s"]:
            why = f"{row['stop_timestamp']} is not after start_timestamp {row['start_timestamp']}"
            raise bad("stop_timestamp", why)
        for key in ("start_frame", "stop_frame", "verb_class", "noun_class", "uid"):
            text = (row.get(key) or "").strip()
            if text:
                try:
                    seg[key] = int(text)
                except ValueError as e:
                    raise bad(key, f"{text!r} is not an integer") from e
        nouns = {}
        for key, kind in (("all_nouns", str), ("all_noun_classes", int)):
            text = (row.get(key) or "").strip()
            if text:
                try:
                    nouns[key] = parse_list_cell(text, kind)
                except (ValueError, SyntaxError) as e:
                    raise bad(key, f"is not a Python list literal of {kind.__name__}: {text!r}") from e
        if len(nouns) == 2 and len(nouns["all_nouns"]) != len(nouns["all_noun_classes"]):
            raise bad(
                "all_noun_classes", f"has {len(nouns['all_noun_classes'])} classes for {len(nouns['all_nouns'])} nouns"
            )
        seg["labels"] = {k: seg.pop(k) for k in ("verb_class", "noun_class") if k in seg}
        seg["labels"] |= {k: row[k].strip() for k in ("verb", "noun") if (row.get(k) or "").strip()} | nouns
        seg["narration_timestamp"] = (row.get("narration_timestamp") or "").strip() or None
        return seg

    def _video(self, root: Location, participant: str, video_id: str, info: dict[str, dict[str, str]]) -> _Video:
        """Where the video is (paths stat'ed, nothing opened unless video_info lacks it), its fps and duration."""
        row = info.get(video_id, {})
        fps, duration = _float(row.get("fps")), _float(row.get("duration"))
        first = None
        for layout in self.options.video_layouts:
            rel = layout.format(participant=participant, video_id=video_id)
            for ext in (".MP4", ".mp4"):
                hits = sorted(root.glob(rel + ext)) if "*" in rel else [root / (rel + ext)]
                first = first or str(hits[0] if hits else root / (rel + ext))
                path = next((p for p in hits if p.is_file()), None)
                if path is not None:
                    video = _Video(path, str(path), fps, duration, row.get("resolution"))
                    if fps is None or duration is None:  # not in video_info: the header says (no decoding)
                        try:
                            video.duration, video.fps = probe_video(path)
                        except (av.FFmpegError, OSError, IndexError, ValueError) as e:
                            video.error = f"unreadable video {video_id}: {e}"
                    return video
        return _Video(None, first or str(root / video_id), fps, duration, row.get("resolution"))

    def _check_window(self, csv_file: Location, line: int, raw_id: str, seg: dict[str, Any], video: _Video) -> None:
        if video.path is None:
            msg = f"segment of video {seg['video_id']}, which is not on disk (looked for {video.looked})"
            raise self.error(msg, file=video.looked, episode=raw_id, field="video")
        if video.error is not None:
            raise self.error(video.error, file=video.path, episode=raw_id, field="video")
        if video.duration is not None and seg["start_s"] >= video.duration:
            msg = (
                f"line {line}: start_timestamp {seg['start_s']:.2f} s is past the end of {seg['video_id']} "
                f"({video.duration:.2f} s)"
            )
            raise self.error(msg, file=csv_file, episode=raw_id, field="start_timestamp")
        if video.duration is not None:
            seg["stop_s"] = min(seg["stop_s"], video.duration)
        nominal = nominal_frame_rate(seg["video_id"])
        offsets = {}
        for key, t in (("start_frame", seg["start_s"]), ("stop_frame", seg["stop_s"])):
            if key not in seg:
                continue
            gaps = [abs(seg[key] / rate - t) for rate in (nominal, video.fps) if rate]
            offsets[key] = round(min(gaps), 4)
            if min(gaps) > self.options.frame_tolerance_s:
                msg = (
                    f"line {line}: {key} {seg[key]} is {min(gaps):.2f} s away from its timestamp {t:.2f} s "
                    f"(frames count at {nominal}/s for {seg['video_id']}; video fps {video.fps})"
                )
                raise self.error(msg, file=csv_file, episode=raw_id, field=key)
        seg["frame_offset_s"] = offsets

    def read(self, ref: EpisodeRef) -> RawEpisode:
        loc, ep = ref.locator, ref.raw_id
        path = self.file(ref.paths[0])
        if not path.is_file():
            raise self.error(f"video {loc['video_id']} is not on disk", file=path, episode=ep, field="video")
        start, stop = loc["start_s"], loc["stop_s"]
        try:
            camera = VideoClipCamera(path, CAMERA, Camera.head, start, stop)
        except (av.FFmpegError, OSError, IndexError) as e:
            raise self.error(f"unreadable video {loc['video_id']}: {e}", file=path, episode=ep, field="video") from e
        if not len(camera):
            raise self.error(f"no frame in [{start:.2f}, {stop:.2f}) s", file=path, episode=ep, field="video")
        return RawEpisode(
            ref=ref,
            robot_type=None,
            embodiment="human_video",
            tier=QualityTier.high,  # lowered by its verdict: the source has no action
            verdicts=self.no_action_verdicts(),
            native_fps=loc["fps"] or camera.average_rate,
            cameras={CAMERA: camera} if self.options.cameras is None or CAMERA in self.options.cameras else {},
            language=[Language(loc["narration"], kind="narration", start_s=0.0, end_s=stop - start)],
            hands=HandSignals(notes=["video without hand signals"]),
            metadata={
                "video_id": loc["video_id"],
                "participant_id": loc["participant_id"],
                "video_path": str(path),
                "window_sec": [start, stop],
                "narration_timestamp": loc["narration_timestamp"],
                "labels": loc["labels"],
                "frames": {k: loc[k] for k in ("start_frame", "stop_frame") if k in loc},
                "frame_offset_s": loc["frame_offset_s"],
                "nominal_frame_rate": nominal_frame_rate(loc["video_id"]),
                "video_fps": loc["fps"],
                "resolution": loc["resolution"],
                "csv": loc["csv"],
                "csv_line": loc["line"],
                **({"uid": loc["uid"]} if "uid" in loc else {}),
            },
        )


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value > 0 else None
