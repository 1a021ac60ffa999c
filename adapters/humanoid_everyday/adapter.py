"""Humanoid Everyday (USC GVL): Unitree G1 and H1 teleoperated through an Apple Vision Pro, 260 tasks at 30 Hz.

Layout (ausbxuse/Humanoid-Everyday@80e302b: README.md:253-270, humanoid_everyday/core.py:54-92): per task a zip, or
the folder it extracts to, of episode folders, each with a `data.json` (a list of steps) and per-step files in
`color/`, `depth/`, `lidar/`. The root may be one task zip, one task or episode folder, or a folder holding zips or
task folders at any depth up to `max_depth` (the maker's conversion reads `<dataset>/<category>/<task>/episode_N/`,
scripts/he2lerobot.py:51-56). Zips are read in place (`task.py`). Subset = the task; raw id = the task's path under
the root (a zip without `.zip`) / the episode folder inside it.

| source | native key | canonical |
| --- | --- | --- |
| `data.json` steps | states, actions, signals (`steps.py`: fields, units, sources) | both robots' wrists by FK |
| step `time` | timestamps; `native_fps` = 1 / the median step | 10 Hz grid |
| step `image` | camera `egocentric`, lazy (`StepImagesCamera`), the README's D435 intrinsics | head |
| task folder / zip name, or `task_description_dict.json` | `Language` instruction | |
| `depth`, `lidar`, `hand_pressure_state` | not read (named in `metadata["not_read"]`) | |

G1 (`unitree_g1_dex3`): both wrists and the Dex3-1 fingertips by FK of `states.arm_state` / `states.hand_state`
through the shipped `g1_arms` and `dex3_hand_*` descriptions. H1_2 (`unitree_h1_2`): both wrists by FK of
`states.arm_state` through `h1_2_arms`, the recorder's own IK model, and the Inspire fingertips by FK of
`states.hand_state` (Inspire 0..1, the right hand first: `steps.py`) through `inspire_hand_*` on its mounts.
The action is the recorded command (`steps.py`); the teleoperator's head and wrist poses stay natives.

The egocentric camera of a Humanoid Everyday episode: one encoded image per step (the path in the step's `image`),
read from the task zip or the episode folder while iterated and decoded in memory, never extracted.

The maker's loader opens each image with PIL and converts it to RGB (ausbxuse/Humanoid-Everyday@80e302b:
humanoid_everyday/core.py:121-125); the README gives PNG, 480x640x3 (README.md:28, 245), its recorder wrote the
same `color/frame_%06d` files as JPEG in an earlier version (Ausbxuse/avp_teleop@94cd19e:teleop/worker.py:160,194).
Either decodes here (`adapters.cameras.decode_image`, OpenCV, to RGB). The container is opened once per `frames()`
pass.
"""

from __future__ import annotations

import json
import posixpath
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from adapters.base import AdapterOptions, CameraSource, EpisodeRef, Language, RawEpisode, natural_key, reraised
from adapters.cameras import decode_image, fit_rgb
from adapters.hostile import bounds
from adapters.humanoid_everyday.steps import ROBOTS, Steps, parse_steps
from adapters.humanoid_everyday.task import DATA_JSON, SKIPPED, Episode, MemberError, opened_zip, zip_episodes
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from schemas.canonical import Camera
from schemas.image_size import FrameFit
from schemas.robots.joint_space import JointSpaceOptions
from schemas.settings import limit
from schemas.tiers import QualityTier, TierVerdict


class FrameError(ValueError):
    """One step's image is absent, outside its episode, or not a decodable image of the first frame's size."""


class StepImagesCamera(CameraSource):
    """Frames `images[i]` (paths relative to the episode folder) at `timestamps[i]`, decoded lazily."""

    def __init__(
        self,
        episode: Episode,
        images: list[str],
        name: str,
        canonical: Camera | None,
        timestamps: np.ndarray,
        first: np.ndarray,
        *,
        intrinsics: np.ndarray | None = None,
    ) -> None:
        self.episode, self.images = episode, list(images)
        super().__init__(name, canonical, timestamps, first.shape[0], first.shape[1], intrinsics)

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        with self.episode.files() as files:
            for i in range(len(self.images)) if indices is None else indices:
                rgb = read_frame(files, self.images[i], i)
                if rgb.shape[:2] != (self.height, self.width):
                    raise FrameError(
                        f"{self.episode.where}: step {i} image {self.images[i]!r} is {rgb.shape[1]}x{rgb.shape[0]}, "
                        f"frame 0 {self.width}x{self.height}"
                    )
                yield i, fit_rgb(rgb, fit)


def read_frame(files, rel: str, i: int) -> np.ndarray:
    """Step `i`'s image `rel` as HxWx3 uint8 RGB; FrameError naming the episode, step and path."""
    try:
        return decode_image(files.read(rel, None, f"step {i} image"))
    except (MemberError, ValueError) as e:
        raise FrameError(f"{files.episode.where}: step {i} image {rel!r}: {e}") from None


CAMERA = "egocentric"  # the maker's own name for it (he2lerobot.py:400 `observation.images.egocentric`)
DESCRIPTIONS = "task_description_dict.json"  # leaf task name -> sentence (scripts/task_description_dict.json)
# D435 pinhole intrinsics per robot, 640x480 (README.md:111-125)
INTRINSICS = {"h1": (392.03189, 392.03189, 320.19580, 235.58174), "g1": (389.07278, 389.07278, 321.61887, 238.43630)}
NOT_READ = ("depth", "lidar", "states.hand_pressure_state")


class HumanoidEverydayOptions(AdapterOptions):
    source: str = Field("humanoid_everyday", description="source name in episode uids and the catalog")
    max_depth: int = Field(4, ge=0, description="folder levels below the root searched for task zips and episodes")
    tier: QualityTier = Field(QualityTier.high, description="default tier: teleoperated demonstrations")
    descriptions: Path | None = Field(
        None, description=f"the task -> description JSON (default: {DESCRIPTIONS} in the root folder)"
    )


class HumanoidEverydayAdapter(SourceAdapter[HumanoidEverydayOptions]):
    name: ClassVar[str] = "humanoid_everyday"
    expects: ClassVar[str] = "<task>.zip files or <task>/episode_<n>/data.json folders"

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        """Task zips (their central directories only) and episode folders under the root, in natural order."""
        descriptions = self._descriptions(root)
        for kind, path in _found(root, self.options.max_depth):
            if kind == "zip":
                yield from self._zip_refs(root, path, descriptions)
            else:
                yield self._folder_ref(root, path, descriptions)

    def _zip_refs(self, root: Location, path: Location, descriptions: dict[str, str]) -> Iterator[EpisodeRef]:
        task = path.name[: -len(".zip")]
        under = _relative(root, path.parent)
        try:
            with opened_zip(path) as z:
                folders = zip_episodes(z.namelist())
        except (OSError, ValueError, zipfile.BadZipFile) as e:  # LfsPointer is a ValueError
            raw_id = "/".join([*under, task])
            err = self.error(f"not a readable zip: {e}", file=path, episode=raw_id, field="zip")
            yield self.new_ref(raw_id, (str(path),), subset=task, source=self.options.source, error=err)
            return
        if not folders:
            self.note("no_episodes", f"no {DATA_JSON} in the zip", root=root, subset=task, path=path)
        for folder in sorted(folders, key=natural_key):
            inside = "" if folder == task else folder.removeprefix(f"{task}/")
            raw_id = "/".join([*under, task, *([inside] if inside else [])])
            err = None
            if folder and (posixpath.normpath(folder) != folder or folder.startswith(("/", "../")) or folder == ".."):
                why = f"member folder {folder!r} is not a plain path inside the zip"
                err = self.error(why, file=path, episode=raw_id, field="zip")
            locator = {"zip": True, "folder": folder, "task": task, "description": descriptions.get(task)}
            yield self.new_ref(
                raw_id, (str(path),), subset=task, source=self.options.source, locator=locator, error=err
            )

    def _folder_ref(self, root: Location, folder: Location, descriptions: dict[str, str]) -> EpisodeRef:
        rel = _relative(root, folder)
        task = folder.parent.name  # the episode folder sits in its task's folder (README.md:258-266)
        raw_id = "/".join(rel) or f"{folder.parent.name}/{folder.name}"
        locator = {"zip": False, "folder": str(folder), "task": task, "description": descriptions.get(task)}
        return self.new_ref(raw_id, (str(folder),), subset=task, source=self.options.source, locator=locator)

    def _descriptions(self, root: Location) -> dict[str, str]:
        """The maker's task -> description table: the option's file, else one in the root folder (held inside it)."""
        path = self.options.descriptions
        if path is None:
            if root.name.lower().endswith(".zip") or not (root / DESCRIPTIONS).is_file():
                return {}
            path = self.inside(root, root / DESCRIPTIONS, field="descriptions")
        try:
            table = bounds.load_json(path, DESCRIPTIONS)
        except (OSError, ValueError) as e:
            raise self.error(f"unreadable task descriptions: {e}", file=path, field="descriptions") from e
        if not isinstance(table, dict):
            raise self.error("not a task -> description object", file=path, field="descriptions")
        return {str(k): str(v) for k, v in table.items() if isinstance(v, str) and v.strip()}

    def read(self, ref: EpisodeRef) -> RawEpisode:
        loc = ref.locator
        zipped = bool(loc["zip"])
        episode = Episode(
            zip_path=self.file(ref.paths[0]) if zipped else None,
            folder=loc["folder"] if zipped else self.file(loc["folder"]),
        )

        data_json = f"{episode.zip_path}!{episode.file_name(DATA_JSON)}" if zipped else episode.file_name(DATA_JSON)
        fail = self.failing(data_json, ref.raw_id)
        try:
            with episode.files() as files:
                try:
                    doc = json.loads(files.read(DATA_JSON, limit("JSON_BYTES"), DATA_JSON))
                except (MemberError, json.JSONDecodeError, UnicodeDecodeError) as e:
                    raise fail(f"not a readable JSON file: {e}", "data.json") from e
                steps = parse_steps(doc, fail)
                missing = [i for i, rel in enumerate(steps.images) if not _has(files, rel)]
                if missing:
                    i = missing[0]
                    raise fail(
                        f"{len(missing)} of {len(steps.images)} steps name an image not in the episode, the first "
                        f"{steps.images[i]!r}",
                        f"[{i + steps.skipped}].image",
                    )
                with reraised(FrameError, lambda e: fail(str(e), f"[{steps.skipped}].image")):
                    first = read_frame(files, steps.images[0], steps.skipped)
        except (OSError, ValueError, zipfile.BadZipFile) as e:  # the zip or folder itself; TooLarge; LfsPointer
            raise fail(f"unreadable: {e}", "data.json") from e
        return self._episode(ref, episode, steps, first)

    def _episode(self, ref: EpisodeRef, episode: Episode, steps: Steps, first: np.ndarray) -> RawEpisode:
        if len(steps.t) < 2:
            raise self.error("one step: no rate to take from its time", file=episode.where, episode=ref.raw_id)
        dt = float(np.median(np.diff(steps.t)))
        fps = 1.0 / dt
        fx, fy, cx, cy = INTRINSICS[steps.robot]
        k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]) if first.shape[:2] == (480, 640) else None
        camera = StepImagesCamera(episode, steps.images, CAMERA, Camera.head, steps.t, first, intrinsics=k)
        hand_width = steps.states["states.hand_state"].values.shape[1]
        reasons: list[TierVerdict] = []
        if steps.robot == "g1":
            embodiment = "unitree_g1_dex3" if hand_width == 14 else "unitree_g1"
        else:
            embodiment = "unitree_h1_2"  # arms and Inspire fingertips by FK
        meta: dict[str, Any] = {
            "task": ref.locator["task"],
            "robot": steps.robot,
            "episode": episode.where,
            "start_unix_s": steps.start_unix,
            "native_fps": fps,
            "rate_from": f"time stamps: median step {dt * 1000:.2f} ms over {len(steps.t) - 1} steps",
            "steps_without_actions_dropped": steps.skipped,
            "not_read": list(NOT_READ),
            "absent": steps.absent,  # optional fields some step lacks (H1_2's null odometry): not read
            "dataset": f"{self.options.source}/{steps.robot}",
        }
        if not steps.actions:
            reasons.append(
                TierVerdict.note("no step of data.json holds actions: no command recorded", "source_no_action")
            )
        return RawEpisode(
            ref=ref,
            robot_type=ROBOTS[steps.robot],
            embodiment=embodiment,
            tier=self.options.tier,
            native_fps=fps,
            states=steps.states,
            actions=steps.actions,
            cameras={CAMERA: camera},
            signals=steps.signals,
            language=[_language(ref.locator)],
            verdicts=tuple(reasons),
            metadata=meta,
            joint_space=JointSpaceOptions(recorder_units="rad"),
        )


def _language(loc: dict[str, Any]) -> Language:
    """The maker's task description when the table has one, else its task name (`push_a_button` -> words)."""
    if loc.get("description"):
        return Language(str(loc["description"]).strip(), "instruction")
    return Language(re.sub(r"[_\s]+", " ", str(loc["task"])).strip(), "instruction")


def _has(files, rel: str) -> bool:
    try:
        return files.has(rel)
    except MemberError:
        return False


def _found(root: Location, depth: int) -> Iterator[tuple[str, Location]]:
    """("zip", task zip) and ("folder", episode folder) under `root`, natural order; a folder holding `data.json` is
    an episode and is not searched further."""
    if root.name.lower().endswith(".zip") and root.is_file():
        yield "zip", root
        return
    entries = root.listing()
    if any(e.name == DATA_JSON and not e.is_dir for e in entries):
        yield "folder", root
        return
    for e in sorted(entries, key=lambda e: natural_key(e.name)):
        if e.name.startswith(".") or e.name == SKIPPED:
            continue
        if e.is_dir and depth > 0:
            yield from _found(root / e.name, depth - 1)
        elif not e.is_dir and e.name.lower().endswith(".zip"):
            yield "zip", root / e.name


def _relative(root: Location, path: Location) -> list[str]:
    """`path`'s parts below `root` ([] for the root itself)."""
    a, b = str(root).rstrip("/"), str(path).rstrip("/")
    return [p for p in b[len(a) :].split("/") if p] if b.startswith(a) else [path.name]
