"""Which cameras of a LeRobot dataset are read, and the canonical camera each fills: the requested (or every declared)
visual feature minus ghosts, then the `camera_map` option over the `camera_rules` option and the shared camera
vocabulary (`adapters.camera_roles`)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from adapters.base import EpisodeRef
from adapters.camera_roles import Rule, camera_role
from adapters.lerobot_format.files import read_json
from adapters.lerobot_format.layout import LoadedDataset
from schemas.canonical import Camera
from schemas.lerobot import INFO_PATH, MODALITY_PATH
from schemas.lerobot_features import VISUAL_DTYPES
from schemas.quirks import quirk
from schemas.spelling import did_you_mean

FIXED = (Camera.head, Camera.third_person)  # views that do not move with a hand: one takes the other's free slot


def short_camera_name(key: str) -> str:
    for prefix in ("observation.images.", "observation.image.", "observation."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def canonical_camera(name: str, rules: Sequence[tuple[str, str]] = ()) -> Camera | None:
    """Canonical camera of a native camera name: the `camera_rules` option's (glob on the short name, slot) pairs,
    then the shared vocabulary (`adapters/camera_roles.yaml`)."""
    return camera_role(name, rules=tuple(Rule.model_validate({"role": s, "globs": (g,)}) for g, s in rules))


def relocate_video(root: Path, declared: str, key: str, index: list[str]) -> str | None:
    """Where an mp4 the template names is, when it is not there: the one file of `index` (every mp4 under the root,
    relative) with the declared file name and chunk folder, under a folder named after the camera (full or short
    key). Real case: info.json declares `videos/{video_key}/...`, the files are under `video/image/...`."""
    want = PurePosixPath(declared)
    chunk = [p for p in want.parts[:-1] if p.startswith("chunk-")]
    names = {key, short_camera_name(key)}
    hits = [
        rel
        for rel in index
        if (p := PurePosixPath(rel)).name == want.name
        and all(c in p.parts[:-1] for c in chunk)
        and names & set(p.parts[:-1])
        and rel != declared
    ]
    return hits[0] if len(hits) == 1 and (root / hits[0]).is_file() else None


def camera_aliases(visual: Sequence[str], modality: Mapping[str, Any] | None) -> dict[str, str]:
    """The names a spec's `cameras` may give a dataset's visual features by (`visual`: their keys): each key's short
    name (`observation.images.cam_high` -> `cam_high`) and the GR00T modality.json video aliases."""
    aliases = {short_camera_name(k): k for k in visual}
    for alias, spec in ((modality or {}).get("video") or {}).items():
        if isinstance(spec, dict) and spec.get("original_key") in visual:
            aliases[alias] = spec["original_key"]
    return aliases


def declared_cameras(root: Any) -> set[str]:
    """Every name the dataset at `root` (a Location) declares a camera by, from its meta files alone
    (`camera_aliases`); empty when info.json cannot be read (discovery names that)."""
    try:
        features = read_json(root / INFO_PATH).get("features") or {}
        modality = read_json(root / MODALITY_PATH) if (root / MODALITY_PATH).is_file() else None
    except (ValueError, OSError, AttributeError):
        return set()
    visual = [k for k, f in features.items() if isinstance(f, dict) and f.get("dtype") in VISUAL_DTYPES]
    return {*visual, *camera_aliases(visual, modality if isinstance(modality, dict) else None)}


def undeclared_cameras(requested: Sequence[str], roots: Sequence[Any]) -> list[str]:
    """Why each requested camera that no dataset at `roots` declares (`declared_cameras`) is a typo, with the closest
    declared name; none when no dataset's meta could be read (discovery says why)."""
    declared = set().union(*(declared_cameras(r) for r in roots))
    return [
        f"camera {name!r} is declared by no dataset under the root (meta/info.json); "
        + did_you_mean(name, sorted(declared), listing="its cameras")
        for name in requested
        if declared and name not in declared
    ]


def select_cameras(
    ds: LoadedDataset,
    requested: list[str] | None,
    camera_map: dict[str, Camera | None],
    rules: Sequence[tuple[str, str]] = (),
) -> None:
    """Cameras to read: asked for (or all), mp4s found where they are when the template misses them, minus ghosts;
    episodes lacking a camera's file get a problem (naming the path expected)."""
    visual = [k for k, f in ds.info.features.items() if f.is_visual]
    aliases = camera_aliases(visual, ds.modality)
    chosen: list[str] = []
    for name in requested if requested is not None else visual:
        key = name if name in visual else aliases.get(name)
        if key is None:
            for ep in ds.episodes:
                hint = did_you_mean(name, sorted({*visual, *aliases}), listing="its cameras")
                ds.problems.setdefault(ep, (f"camera {name!r} is not declared in info.json; {hint}", None, name))
        elif key not in chosen:
            chosen.append(key)
    kept: list[str] = []
    for key in chosen:
        if ds.info.features[key].dtype == "image":
            kept.append(key)  # bytes in the parquet rows
            continue
        files = {loc.videos[key].file for loc in ds.episodes.values() if key in loc.videos}
        present = {f for f in files if (ds.root / f).is_file()}
        if files - present:
            present |= relocate_camera(ds, key, files - present)
        if not present and ds.episodes:
            where = f" (expected e.g. {min(files)}, nor found under a folder named after it)" if files else ""
            msg = f"video feature {key!r} is declared but no episode has an mp4 for it{where}: skipped"
            ds.quirks.append(quirk("ghost_camera", "warning", msg, INFO_PATH))
            ds.camera_notes[key] = "ghost camera: declared, no files"
            if requested is not None:
                for ep in ds.episodes:
                    ds.problems.setdefault(ep, (f"requested camera {key!r} has no video files", None, key))
            continue
        kept.append(key)
        for ep, loc in ds.episodes.items():
            clip = loc.videos.get(key)
            if clip is None or clip.file not in present:
                # what the user can do, named (issue 79): the file is absent where declared and where relocated
                expected = (
                    f" (expected at {clip.file}, nor found under a folder named after the camera): the dataset "
                    f"lacks this file (a partial download?); fetch it, or leave the camera out with the source's "
                    f"`cameras` option"
                    if clip
                    else " (no video entry in the episode meta)"
                )
                ds.problems.setdefault(
                    ep, (f"no mp4 for camera {key!r}{expected}", str(ds.root / clip.file) if clip else None, key)
                )
    ds.cameras = canonical_map(kept, ds, camera_map, rules)
    if any(q.code == "video_path_relocated" for q in ds.quirks):
        _recount_videos(ds)
    unplaced = [k for k, c in ds.cameras.items() if c is None]
    if unplaced:
        msg = f"cameras with no canonical slot, kept under their own keys (camera_map places them): {unplaced}"
        ds.quirks.append(quirk("camera_without_slot", "info", msg, INFO_PATH))


def _recount_videos(ds: LoadedDataset) -> None:
    """DatasetMeta's v2.x `total_videos_mismatch` counted where the template points: recounted on the files read."""
    found = sum(
        (ds.root / loc.videos[k].file).is_file()
        for loc in ds.episodes.values()
        for k in ds.info.video_keys
        if k in loc.videos
    )
    ds.quirks[:] = [q for q in ds.quirks if q.code != "total_videos_mismatch"]
    if not ds.is_v3 and ds.info.total_videos != found:
        msg = f"info.json total_videos={ds.info.total_videos} but {found} mp4 files exist (relocated ones counted)"
        ds.quirks.append(quirk("total_videos_mismatch", "warning", msg, INFO_PATH))


def relocate_camera(ds: LoadedDataset, key: str, missing: set[str]) -> set[str]:
    """Each missing mp4 of `key` found elsewhere (`relocate_video`) replaces the declared path in the episodes'
    clips; one warning names both paths. Returns the files now present."""
    if ds.mp4_index is None:
        ds.mp4_index = sorted(p.relative_to(ds.root).as_posix() for p in ds.root.rglob("*.mp4"))
    moved = {f: new for f in sorted(missing) if (new := relocate_video(ds.root, f, key, ds.mp4_index))}
    if not moved:
        return set()
    for loc in ds.episodes.values():
        clip = loc.videos.get(key)
        if clip is not None and clip.file in moved:
            loc.videos[key] = dataclasses.replace(clip, file=moved[clip.file])
    first = next(iter(moved))
    msg = (
        f"{key}: the declared video_path names {first}, which does not exist; the mp4 is at {moved[first]} "
        f"({len(moved)} of {len(missing)} missing files found elsewhere, read from there)"
    )
    ds.quirks.append(quirk("video_path_relocated", "warning", msg, first))
    if len(moved) == len(missing):  # DatasetMeta (v2.x) looked only where the template points
        ds.quirks[:] = [q for q in ds.quirks if not (q.code == "missing_video_files" and f"{key!r}" in q.message)]
    return set(moved.values())


NOT_RGB_TOKENS = frozenset({"depth", "seg", "segmentation", "mask"})  # BEHAVIOR-1K: depth.head, seg_instance_id.head


def not_rgb(key: str, ds: LoadedDataset) -> bool:
    """A camera feature that holds no colour view: declared a depth map (`video.is_depth_map`) or named as depth or
    segmentation (BEHAVIOR-1K's `observation.images.seg_instance_id.<camera>` declares neither)."""
    info = ds.info.features[key].video_info
    tokens = set(re.split(r"[._]", short_camera_name(key).lower()))
    return bool(info is not None and info.is_depth_map) or bool(tokens & NOT_RGB_TOKENS)


def canonical_map(
    keys: list[str], ds: LoadedDataset, explicit: dict[str, Camera | None], rules: Sequence[tuple[str, str]] = ()
) -> dict[str, Camera | None]:
    """Canonical slot of each kept camera: `explicit` (the `camera_map` option) first, then the rules (`rules`
    before the shared vocabulary, on the key or its GR00T modality alias). A fixed view whose slot is taken takes
    the other fixed slot when free; a lone unmatched camera is the head. Every camera left without a slot is kept
    under its own key (canonicalization writes it as `observation.images.<short name>`), with a note saying why."""
    videos = ((ds.modality or {}).get("video") or {}).items()
    aliases = {s.get("original_key"): a for a, s in videos if isinstance(s, dict)}
    out: dict[str, Camera | None] = {}
    for key in keys:  # explicit entries first: they take their slot whatever the order
        short = short_camera_name(key)
        if key in explicit or short in explicit:
            out[key] = explicit[key] if key in explicit else explicit[short]
            if out[key] is None:
                ds.camera_notes[key] = "camera_map: no canonical slot; kept under its own key"
    taken = {c for c in out.values() if c is not None}
    for key in keys:
        if key in out:
            continue
        short = short_camera_name(key)
        cam = canonical_camera(short, rules) or (canonical_camera(aliases[key], rules) if key in aliases else None)
        if not_rgb(key, ds):
            ds.camera_notes[key] = "a depth or segmentation video, not a view: kept under its own key"
            cam = None
        elif cam is not None and cam in taken:
            other = next((f for f in FIXED if cam in FIXED and f not in taken), None)
            then = f"the free fixed slot {other.value}" if other is not None else "kept under its own key"
            ds.camera_notes[key] = f"{cam.value} already taken by another camera: {then}"
            cam = other
        out[key] = cam
        taken |= {cam} if cam else set()
    unmatched = [k for k, c in out.items() if c is None and k not in ds.camera_notes]
    if Camera.head not in taken and len(unmatched) == 1:
        out[unmatched[0]] = Camera.head
        ds.camera_notes[unmatched[0]] = "the only unmatched camera: taken as the head (main) camera"
    for key in unmatched:
        if out[key] is None:
            ds.camera_notes[key] = "no camera rule matches its name: kept under its own key (camera_map places it)"
    return {k: out[k] for k in keys}  # info.json order


def reads_all(ds: LoadedDataset, ref: EpisodeRef) -> bool:
    """Whether `ds` reads every file `ref` was discovered with: its data file and each kept camera's mp4 (the paths
    discovery gives); not when its meta was loaded while a camera's files were missing (a ghost then: review 7 f6)."""
    loc = ds.episodes.get(int(ref.locator.get("episode_index", -1)))
    if loc is None:
        return True  # the read names it
    reads = {str(ds.root / loc.data_file)} | {str(ds.root / loc.videos[k].file) for k in ds.cameras if k in loc.videos}
    return set(ref.paths) <= reads
