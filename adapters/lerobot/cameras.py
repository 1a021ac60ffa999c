"""Which cameras of a LeRobot dataset are read, and the canonical camera each fills: the requested (or every declared)
visual feature minus ghosts, then the `camera_map` option over name heuristics (wrist / head / third-person globs)."""

from __future__ import annotations

import fnmatch

from adapters.lerobot.episode import LoadedDataset, quirk
from schemas.canonical import Camera
from schemas.lerobot import INFO_PATH

_WRIST = ("*wrist*", "*eye_in_hand*", "*hand*", "*gripper*")
_HEAD = ("*ego*", "*head*", "*high*", "*top*", "*front*")
_THIRD = ("*third*", "*side*", "*low*", "*exterior*", "*external*", "*agentview*", "*scene*", "*static*")


def short_camera_name(key: str) -> str:
    for prefix in ("observation.images.", "observation.image.", "observation."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def canonical_camera(name: str) -> Camera | None:
    """Canonical camera of a native camera name by case-insensitive glob patterns (wrist, then head, then third)."""
    n = name.lower()
    if any(fnmatch.fnmatch(n, p) for p in _WRIST):
        return Camera.wrist_left if "left" in n and "right" not in n else Camera.wrist_right
    if any(fnmatch.fnmatch(n, p) for p in _HEAD):
        return Camera.head
    if any(fnmatch.fnmatch(n, p) for p in _THIRD):
        return Camera.third_person
    return None


def select_cameras(ds: LoadedDataset, requested: list[str] | None, camera_map: dict[str, Camera | None]) -> None:
    """Cameras to read: asked for (or all), minus ghosts; episodes lacking a camera's file get a problem."""
    visual = [k for k, f in ds.info.features.items() if f.is_visual]
    aliases = {short_camera_name(k): k for k in visual}
    for alias, spec in ((ds.modality or {}).get("video") or {}).items():
        if isinstance(spec, dict) and spec.get("original_key") in visual:
            aliases[alias] = spec["original_key"]
    chosen: list[str] = []
    for name in requested if requested is not None else visual:
        key = name if name in visual else aliases.get(name)
        if key is None:
            for ep in ds.episodes:
                ds.problems.setdefault(ep, (f"camera {name!r} is not declared in info.json", None, name))
        elif key not in chosen:
            chosen.append(key)
    kept: list[str] = []
    for key in chosen:
        if ds.info.features[key].dtype == "image":
            kept.append(key)  # bytes in the parquet rows
            continue
        files = {loc.videos[key].file for loc in ds.episodes.values() if key in loc.videos}
        present = {f for f in files if (ds.root / f).is_file()}
        if not present and ds.episodes:
            msg = f"video feature {key!r} is declared but no episode has an mp4 for it: skipped"
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
                ds.problems.setdefault(
                    ep, (f"no mp4 for camera {key!r}", str(ds.root / clip.file) if clip else None, key)
                )
    ds.cameras = canonical_map(kept, ds, camera_map)


def canonical_map(keys: list[str], ds: LoadedDataset, explicit: dict[str, Camera | None]) -> dict[str, Camera | None]:
    """Canonical slot of each kept camera: `explicit` (the `camera_map` option) first, then the name heuristics
    (`canonical_camera`, on the key or its GR00T modality alias); a lone unmatched camera is the head."""
    videos = ((ds.modality or {}).get("video") or {}).items()
    aliases = {s.get("original_key"): a for a, s in videos if isinstance(s, dict)}
    out: dict[str, Camera | None] = {}
    for key in keys:  # explicit entries first: they take their slot whatever the order
        short = short_camera_name(key)
        if key in explicit or short in explicit:
            out[key] = explicit[key] if key in explicit else explicit[short]
    taken = {c for c in out.values() if c is not None}
    for key in keys:
        if key in out:
            continue
        short = short_camera_name(key)
        cam = canonical_camera(short) or (canonical_camera(aliases[key]) if key in aliases else None)
        if cam is not None and cam in taken:
            ds.camera_notes[key] = f"{cam.value} already taken by another camera: left unmapped"
            cam = None
        out[key] = cam
        taken |= {cam} if cam else set()
    unmatched = [k for k, c in out.items() if c is None and k not in ds.camera_notes]
    explicit_none = [k for k in unmatched if k in explicit or short_camera_name(k) in explicit]
    if Camera.head not in taken and len(unmatched) == 1 and not explicit_none:
        out[unmatched[0]] = Camera.head
        ds.camera_notes[unmatched[0]] = "the only unmatched camera: taken as the head (main) camera"
    return {k: out[k] for k in keys}  # info.json order
