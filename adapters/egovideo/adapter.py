"""Egocentric video without actions (Egocentric-10K, Something-Something v2, RH20T-human, Taste-Rob, ...): a folder of
videos or WebDataset `.tar` shards of them, each clip an actionless episode (or several, cut into windows).

| native | canonical | unit | rate |
| --- | --- | --- | --- |
| `<key>.mp4` (a file, or a shard member read in place) | camera `video` -> `Camera.head`, lazy | RGB | pts |
| captions table row (`captions_file`: csv / parquet / json list) | `Language(kind="description")` | | episode |
| `<key>.txt` sidecar | the caption when no table row names the key | | |
| `<key>.json` sidecar `caption`/`text`/`label`/... | the caption when neither of the above has one | | |
| `<key>.json` `start_sec`/`end_sec` (or `start`/`end`) | the clip's window in the video | s | |
| `<key>.json` `duration_sec` (or `duration`) | windows and the minimum length without opening the video | s | |
| the whole sidecar | `metadata["sidecar"]` | | |

Layouts: `layout: webdataset` reads every `*.tar` / `*.tar.gz` under the root (Egocentric-10K ships
`factory_XXX/workers/worker_YYY/factoryXXX_workerYYY_partNN.tar`, each sample an H.265 mp4 and a json, per its dataset
card); members are grouped into samples as webdataset does (`adapters/egovideo/shards.py`). `layout: folder` reads
every video file under the root with sidecars beside it (`<key>.json`, `<key>.txt`). `auto` picks webdataset when the
root holds a shard. raw_id: `<key>` (folder) or `<shard path without suffix>/<key>`, plus `/clipNNNN` when cut.

Windows: a sidecar's own window wins; else `clip_s` cuts the video into consecutive windows (stride `clip_stride_s`);
else the whole video. Discovery reads tar headers, sidecars (within SIDECAR_BYTES) and, for a video whose sidecar
gives no duration it can hold (`_duration`), its container header: it never decodes a frame.

Still assumptions: adapters/README.md `ego_video`.
"""

from __future__ import annotations

import json
import math
import tarfile
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, ClassVar, Literal

import av
import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, HandSignals, Language, RawEpisode, reraised
from adapters.cameras import VideoClipCamera, probe_video
from adapters.egovideo.intrinsics import (
    INTRINSICS_FILE,
    NO_LENS,
    BadIntrinsics,
    lens_for,
    no_lens_finding,
    no_lens_message,
    parse_intrinsics,
)
from adapters.egovideo.shards import SHARD_SUFFIXES, index_shard, is_shard, open_member, read_member
from adapters.hostile import bounds
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from schemas.camera_model import PinholeCamera
from schemas.canonical import Camera
from schemas.settings import TooLarge, check, limit
from schemas.tiers import QualityTier

CAMERA = "video"
WINDOW_FIELDS = (("start_sec", "end_sec"), ("start", "end"))
DURATION_FIELDS = ("duration_sec", "duration")
# the fewest bytes a second of video takes: a sidecar duration the file cannot hold at this rate is checked against the
# container header. Real clips take 10^4 to 10^6 bytes a second; an H.264 P-frame that repeats its reference is ~10
# bytes, so even a 1 fps still scene is above it.
MIN_BYTES_PER_S = 1.0


class EgoVideoOptions(AdapterOptions):
    layout: Literal["auto", "folder", "webdataset"] = Field("auto", description="folder of videos or tar shards")
    video_extensions: list[str] = Field(["mp4", "webm", "mkv", "mov", "avi"], min_length=1)
    captions_file: str | None = Field(None, description="key -> caption table (csv, parquet, json list) in the root")
    captions_key_column: str = Field("key", description="the table's key column (SSV2 labels: id)")
    captions_text_column: str = Field("caption", description="the table's caption column (SSV2 labels: label)")
    caption_fields: list[str] = Field(["caption", "text", "description", "narration", "label", "instruction"])
    clip_s: float | None = Field(None, gt=0, description="cut each video into windows of this length")
    clip_stride_s: float | None = Field(None, gt=0, description="start-to-start step of the windows (default clip_s)")
    min_duration_s: float = Field(1.0, ge=0, description="windows shorter than this are skipped")
    max_duration_s: float = Field(
        86400.0, gt=0, description="longest video accepted, in s: a longer one (sidecar or header) fails its episodes"
    )
    embodiment: str = Field("human_video", description="the embodiment the episodes declare")
    intrinsics_file: str | None = Field(
        INTRINSICS_FILE,
        description="webdataset: the per-folder lens file beside the shards (Egocentric-10K/100K's per-worker "
        "intrinsics.json); a shard without one is noted as a finding; null: read none",
    )

    @model_validator(mode="after")
    def _stride(self) -> EgoVideoOptions:
        if self.clip_stride_s is not None and self.clip_s is None:
            raise ValueError("clip_stride_s needs clip_s")
        return self


class EgoVideoAdapter(SourceAdapter[EgoVideoOptions]):
    name: ClassVar[str] = "ego_video"
    camera_names: ClassVar[tuple[str, ...] | None] = (CAMERA,)
    expects: ClassVar[str] = "video files (the video_extensions option) at any depth, or WebDataset .tar shards of them"
    no_actions: ClassVar[str] = "plain videos: no action or state stream"

    def refs(self, root: Location) -> list[EpisodeRef]:
        captions = self._captions(root) if self.options.captions_file else {}
        shards = sorted(p for p in root.rglob("*") if is_shard(p))
        layout = self.options.layout
        if layout == "auto":
            layout = "webdataset" if shards else "folder"
        self._short: list[tuple[str, float]] = []  # windows under min_duration_s: named, never dropped silently
        refs = self._shard_refs(root, shards, captions) if layout == "webdataset" else self._folder_refs(root, captions)
        out = sorted(refs, key=lambda r: r.sort_key)
        self.note_too_short(root, self._short, self.options.min_duration_s, "min_duration_s")
        return out

    def _captions(self, root: Location) -> dict[str, str]:
        path = self.inside(root, root / str(self.options.captions_file), field="captions_file")
        key_col, text_col = self.options.captions_key_column, self.options.captions_text_column
        try:
            if path.suffix.lower() == ".json":
                rows = bounds.load_json(path, path.name)
                if not isinstance(rows, list):
                    raise ValueError("expected a JSON list of objects")
                return {str(r[key_col]): str(r[text_col]) for r in rows if isinstance(r, dict) and key_col in r}
            with path.readable() as src:
                table = pq.read_table(src) if path.suffix.lower() == ".parquet" else pacsv.read_csv(src)
        except (OSError, ValueError, KeyError) as e:
            raise self.error(f"unreadable captions table: {e}", file=path, field="captions_file") from e
        missing = [c for c in (key_col, text_col) if c not in table.column_names]
        if missing:
            raise self.error(f"no column {missing[0]!r} (has {table.column_names})", file=path, field=missing[0])
        keys, texts = table.column(key_col).to_pylist(), table.column(text_col).to_pylist()
        return {str(k): str(t) for k, t in zip(keys, texts, strict=True) if k is not None and t is not None}

    def _folder_refs(self, root: Location, captions: dict[str, str]) -> Iterator[EpisodeRef]:
        exts = {"." + e.lower() for e in self.options.video_extensions}
        for video in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts):
            key = video.relative_to(root).with_suffix("").as_posix()
            side = {}
            try:
                self.inside(root, video, field="video", episode=key)  # probed below when no sidecar says its length
                for ext in ("json", "txt"):
                    sidecar = video.with_suffix("." + ext)
                    if sidecar.is_file():
                        self.inside(root, sidecar, field=ext, episode=key)
                        side[ext] = self._sidecar(partial(_read_file, sidecar), ext, sidecar, key)
                size = video.size()
                duration = self._duration(side.get("json"), partial(probe_video, video), size, video, key)
            except AdapterError as e:
                yield self.new_ref(key, (str(video),), error=e)
                continue
            loc = {"kind": "folder", "key": key}
            yield from self._window_refs(key, (str(video),), loc, side, duration, captions, video)

    def _shard_refs(self, root: Location, shards: list[Location], captions: dict[str, str]) -> Iterator[EpisodeRef]:
        lenses: dict[str, tuple[dict | None, AdapterError | None]] = {}
        for shard in shards:
            lens, lens_error = self._lens(root, shard, lenses)
            raw_ids: list[str] = []
            stem = _strip_suffix(shard.relative_to(root).as_posix())
            try:
                self.inside(root, shard, field="shard", episode=stem)
            except AdapterError as e:
                yield self.new_ref(stem, (str(shard),), error=e)
                continue
            try:
                samples = index_shard(shard)
            except (tarfile.TarError, OSError, EOFError) as e:
                err = self.error(f"unreadable shard: {e}", file=shard, episode=stem, field="shard")
                yield self.new_ref(stem, (str(shard),), error=err)
                continue
            for sample in samples:
                raw_id = f"{stem}/{sample.key}"
                try:
                    if lens_error is not None:
                        raise lens_error
                    if sample.error:
                        raise self.error(sample.error, file=shard, episode=raw_id, field="members")
                    ext = next((e for e in self.options.video_extensions if e.lower() in sample.members), None)
                    if ext is None:
                        msg = f"sample {sample.key!r} has no video member (has {', '.join(sorted(sample.members))})"
                        raise self.error(msg, file=shard, episode=raw_id, field="video")
                    side = {
                        e: self._sidecar(partial(_read_sidecar_member, shard, *sample.members[e]), e, shard, raw_id)
                        for e in ("json", "txt")
                        if e in sample.members
                    }
                    offset, size = sample.members[ext.lower()]
                    probe = partial(_probe_member, shard, offset)
                    duration = self._duration(side.get("json"), probe, size, shard, raw_id)
                except AdapterError as e:
                    yield self.new_ref(raw_id, (str(shard),), error=e)
                    continue
                loc = {"kind": "shard", "key": sample.key, "offset": offset, "member": f"{sample.key}.{ext}"}
                loc |= {
                    "lens": lens,
                    "lens_missing": str(root) if lens is None and self.options.intrinsics_file else None,
                }
                for ref in self._window_refs(raw_id, (str(shard),), loc, side, duration, captions, shard, sample.key):
                    raw_ids.append(ref.raw_id)
                    yield ref
            if raw_ids and lens is None and self.options.intrinsics_file:
                msg = no_lens_message(self.options.intrinsics_file)
                self.note(NO_LENS, msg, root=root, path=shard, episodes=raw_ids)

    def _lens(self, root: Location, shard: Location, seen: dict) -> tuple[dict | None, AdapterError | None]:
        """The lens model (dumped) of the `intrinsics_file` beside `shard`, read once per folder, or the error that
        names its file and field; (None, None) without one."""
        if not self.options.intrinsics_file:
            return None, None
        path = shard.parent / self.options.intrinsics_file
        if str(path) not in seen:
            lens, error = None, None
            if path.is_file():
                try:
                    self.inside(root, path, field="intrinsics_file")
                    lens = parse_intrinsics(bounds.load_json(path, path.name)).model_dump()
                except BadIntrinsics as e:
                    error = self.error(f"malformed intrinsics: {e}", file=path, field=e.field)
                except (OSError, ValueError) as e:  # unparseable JSON, too large
                    error = self.error(f"unreadable intrinsics: {e}", file=path, field="intrinsics_file")
                except AdapterError as e:
                    error = e
            seen[str(path)] = (lens, error)
        return seen[str(path)]

    def _sidecar(self, read: Callable[[], bytes], ext: str, file: Location, episode: str) -> Any:
        """A sidecar's content; `read` gives its bytes once its size is within the SIDECAR_BYTES limit."""
        try:
            text = read().decode("utf-8")
            return json.loads(text) if ext == "json" else text.strip()
        except (UnicodeDecodeError, ValueError) as e:  # TooLarge is a ValueError
            raise self.error(f"unreadable {ext} sidecar: {e}", file=file, episode=episode, field=ext) from e

    def _duration(self, meta: Any, probe: Any, size: int, file: Location, episode: str) -> float:
        """The video's duration: the sidecar's when it gives one the file can hold, else (and to check a sidecar's
        that the file's bytes cannot hold) its container header; nothing decoded. A sidecar's duration past
        `max_duration_s` or past MIN_BYTES_PER_S times the video's bytes is checked against the header: a 62-byte
        sidecar claiming 1e9 s for a 9 KB video made discovery cut 1e8 windows (7.3 GB before it was killed)."""
        declared = None
        for key in DURATION_FIELDS:
            value = meta.get(key) if isinstance(meta, dict) else None
            if isinstance(value, int | float) and math.isfinite(value) and value > 0:
                declared = (key, float(value))
                break
        plausible = min(self.options.max_duration_s, size / MIN_BYTES_PER_S)
        if declared is not None and declared[1] <= plausible:
            return declared[1]
        try:
            duration = float(probe()[0])
        except (av.FFmpegError, OSError, IndexError, ValueError, tarfile.TarError) as e:
            raise self.error(f"unreadable video: {e}", file=file, episode=episode, field="video") from e
        if declared is not None and abs(declared[1] - duration) > max(1.0, 0.01 * duration):
            msg = f"the sidecar's {declared[1]:.6g} s is not the video's {duration:.6g} s (its header; {size:,} bytes)"
            raise self.error(msg, file=file, episode=episode, field=f"json.{declared[0]}")
        with reraised(TooLarge, lambda e: self.error(str(e), file=file, episode=episode, field="video")):
            check("video duration in s", duration, self.options.max_duration_s, "max_duration_s")
        return duration

    def _window_refs(
        self,
        raw_id: str,
        paths: tuple[str, ...],
        loc: dict,
        side: dict,
        duration: float,
        captions: dict[str, str],
        file: Location,
        caption_key: str | None = None,
    ) -> Iterator[EpisodeRef]:
        caption, source = self._caption(side, captions, caption_key or loc["key"])
        meta = side.get("json") if isinstance(side.get("json"), dict) else {}
        try:
            windows = self._windows(meta, duration, file, raw_id)
        except AdapterError as e:
            yield self.new_ref(raw_id, paths, error=e)
            return
        for k, (start, end) in enumerate(windows):
            rid = f"{raw_id}/clip{k:04d}" if self.options.clip_s and len(windows) > 1 else raw_id
            if end - start < self.options.min_duration_s:
                self._short.append((rid, end - start))
                continue
            locator = {
                **loc,
                "window_sec": [start, end],
                "duration_sec": duration,
                "caption": caption,
                "caption_source": source,
                "sidecar": meta or side.get("json"),
            }
            yield self.new_ref(rid, paths, locator=locator)

    def _caption(self, side: dict, captions: dict[str, str], key: str) -> tuple[str | None, str | None]:
        for k in (key, key.rsplit("/", 1)[-1]):  # the key, or its basename (SSV2's labels name videos by id)
            if captions.get(k, "").strip():
                return captions[k].strip(), "captions_file"
        if isinstance(side.get("txt"), str) and side["txt"]:
            return side["txt"], "txt"
        meta = side.get("json")
        for name in self.options.caption_fields if isinstance(meta, dict) else ():
            if isinstance(meta.get(name), str) and meta[name].strip():
                return meta[name].strip(), f"json.{name}"
        return None, None

    def _windows(self, meta: dict, duration: float, file: Location, episode: str) -> list[tuple[float, float]]:
        for lo, hi in WINDOW_FIELDS:
            if lo in meta or hi in meta:
                start, end = meta.get(lo, 0.0), meta.get(hi, duration)
                ok = all(isinstance(v, int | float) and math.isfinite(v) for v in (start, end))
                if not ok or not 0 <= start < end <= duration + 1e-3:
                    msg = f"window [{start}, {end}] is not inside the video (0 to {duration:.3f} s)"
                    raise self.error(msg, file=file, episode=episode, field=f"json.{lo}")
                return [(float(start), float(min(end, duration)))]
        if self.options.clip_s is None:
            return [(0.0, duration)]
        step = self.options.clip_stride_s or self.options.clip_s
        starts = np.arange(0.0, duration, step)
        return [(float(s), float(min(s + self.options.clip_s, duration))) for s in starts]

    def read(self, ref: EpisodeRef) -> RawEpisode:
        loc, ep = ref.locator, ref.raw_id
        path = self.file(ref.paths[0])
        start, end = loc["window_sec"]
        try:
            # a shard member is demuxed in place on the tar file, never extracted
            video = partial(open_member, path, loc["offset"]) if loc["kind"] == "shard" else path
            camera = VideoClipCamera(video, CAMERA, Camera.head, start, end)
        except (av.FFmpegError, OSError, IndexError, tarfile.TarError) as e:
            raise self.error(f"unreadable video: {e}", file=path, episode=ep, field="video") from e
        if not len(camera):
            raise self.error(f"no frame in [{start:.3f}, {end:.3f}) s", file=path, episode=ep, field="video")
        try:
            lens = lens_for(loc.get("lens"), (camera.height, camera.width))
        except ValueError as e:  # a lens for another picture: the user may read the video without (intrinsics_file)
            file = path.parent / str(self.options.intrinsics_file)
            raise self.error(
                f"{e}; intrinsics_file: null reads the video without it", file=file, episode=ep, field="image_width"
            ) from e
        if lens is not None:  # a fisheye keeps its model and no 3x3 matrix: nothing projects it as a pinhole
            camera.camera_model = lens
            camera.intrinsics = lens.K() if isinstance(lens, PinholeCamera) else None
        missing, name = loc.get("lens_missing"), self.options.intrinsics_file
        findings = [no_lens_finding(self.name, missing, path, ep, name)] if missing and name else []
        wanted = self.options.cameras is None or CAMERA in self.options.cameras
        text = loc["caption"]
        return RawEpisode(
            ref=ref,
            robot_type=None,
            embodiment=self.options.embodiment,
            tier=QualityTier.high,  # lowered by its verdict: the source has no action
            verdicts=self.no_action_verdicts(),
            native_fps=camera.average_rate,
            cameras={CAMERA: camera} if wanted else {},
            language=[Language(text, kind="description", start_s=0.0, end_s=end - start)] if text else [],
            hands=HandSignals(notes=["video without hand signals"]),
            findings=findings,
            metadata={
                "key": loc["key"],
                "layout": loc["kind"],
                "member": loc.get("member"),
                "file": str(path),
                "window_sec": [start, end],
                "duration_sec": loc["duration_sec"],
                "caption_source": loc["caption_source"],
                "sidecar": loc["sidecar"],
                "camera_model": None if lens is None else lens.model_dump(),
            },
        )


def _probe_member(shard: Location, offset: int) -> tuple[float, float | None]:
    """(duration s, fps) of a shard member's video from its container header; nothing is decoded."""
    with open_member(shard, offset) as f:
        return probe_video(f)


def _strip_suffix(name: str) -> str:
    lower = name.lower()
    return next((name[: -len(s)] for s in SHARD_SUFFIXES if lower.endswith(s)), name)


def _read_file(path: Location) -> bytes:
    return bounds.read_bounded(path, limit("SIDECAR_BYTES"), f"{path.name}")


def _read_sidecar_member(shard: Location, offset: int, size: int) -> bytes:
    """A sidecar member's bytes, its size (from the tar header) checked before any is read."""
    check("sidecar member size in bytes", size, limit("SIDECAR_BYTES"), "the limit")
    return read_member(shard, offset)
