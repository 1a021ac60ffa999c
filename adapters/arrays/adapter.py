"""Array recordings as the robot-learning codebases write them: Zarr replay buffers (Diffusion Policy, UMI; v2 or v3,
a directory or a `.zip`) and HDF5 files (robomimic, LIBERO, raw robosuite demos, ACT / ALOHA episodes), one adapter
whose layouts are data (`layouts.yaml`: where episodes, states, actions, images, rates and language live, and the
makers' code each convention rests on).

Discovery finds the stores under the root, opens each once, chooses its layout (the `layout` option, else detected,
the evidence kept) and yields one ref per episode: a replay buffer's rows cut at `meta/episode_ends`, one per
`data/demo_N` group, or the file itself. A store no layout fits, or one that cannot be opened, comes back as one
flagged ref naming what it lacks (quarantined with that reason): nothing is skipped silently.

| what | native key | rate |
| --- | --- | --- |
| per-row numeric arrays under the episode's base (`data/`, the demo group, the file) | state `<a.b>` | below |
| the layout's `actions` | action | |
| the layout's `signals` (robomimic `rewards`, `dones`) | outcome (`next.native`) | |
| the layout's `images` (T, H, W, 3), uint8 or float 0..`image_scale` | camera `<name>` (uint8 RGB) | |
| a replay buffer's `timestamp` (Diffusion Policy real-robot buffers) | the rows' times | from the file |

Rate (`layouts.rate_of`): the `fps` option, else the file's own (robosuite's `control_freq`, a buffer's `timestamp`),
else the layout's default from the maker's code only where the file names that maker (PushT 10 Hz, robosuite 20 Hz,
Isaac Lab's Franka stack 20 Hz, ALOHA 50 Hz for a file with ACT's `sim` attribute); elsewhere (UMI, another
simulator's file) the store is refused naming the `fps` option and the file; which one was used is in the lineage
(`source_annotation.rate_from`). Success: a demo group's `success` attribute (Isaac Lab). The action's delta columns,
accumulated at 10 Hz: robosuite's `control_delta`, Isaac Lab's `-IK-Rel`, or the option (`evidence.py`). The hands
are the layout's (`hands.py`): a recorded end-effector pose (robosuite's, LIBERO's, Isaac Lab's, UMI's grippers',
Diffusion Policy's real UR5) or a joint vector the embodiment's description turns into wrists (ALOHA); an episode
holding neither is natives only (`unknown` embodiment), said in its tier reasons.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from adapters.arrays import hands
from adapters.arrays.camera import ArrayImagesCamera, ImageRangeError, to_uint8
from adapters.arrays.evidence import demo_success, relative_action
from adapters.arrays.layouts import LAYOUTS, Layout, attr_value, choose, rate_of, unread_version
from adapters.arrays.stores import Store, any_of, container_of, episodes_of, join, open_store, rows_per_array
from adapters.base import AdapterOptions, EpisodeRef, Language, RawEpisode, Stream, natural_key, reraised
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from schemas.canonical import Camera
from schemas.corpus import SourceAnnotation
from schemas.settings import TooLarge, check, limit
from schemas.tiers import QualityTier, TierVerdict

ATTR_GROUPS = ("", "data")  # where the layouts keep their attributes


class ArraysOptions(AdapterOptions):
    source: str = Field("arrays", description="source name in episode uids and the catalog")
    layout: str | None = Field(None, description=f"one of {sorted(LAYOUTS)} (default: detected per file)")
    fps: float | None = Field(
        None,
        gt=0,
        description="the recording rate, over the file's and the layout's default; required where neither the file "
        "nor a maker it names states one (UMI, another simulator's robomimic-layout file)",
    )
    delta_actions: list[int] | None = Field(
        None,
        description="the action's columns that are deltas (accumulated over each 0.1 s, their sum kept), over the "
        "maker's setting in the file (robosuite's control_delta, Isaac Lab's -IK-Rel); [] for an absolute action",
    )
    tier: QualityTier = Field(QualityTier.high, description="default tier")
    max_depth: int = Field(3, ge=0, description="folders below the root searched for stores")

    @field_validator("layout")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        if v is not None and v not in LAYOUTS:
            raise ValueError(f"unknown layout {v!r}; known: {sorted(LAYOUTS)}")
        return v


class ArrayRecording(SourceAnnotation):
    """What the lineage keeps of how an array recording was read."""

    layout: str
    layout_from: str  # named or detected, with the evidence
    container: str
    rate_hz: float
    rate_from: str  # "option", "file: <attribute>", "file: timestamps" or "default: <the maker's code>"
    rows: tuple[int, int] | None = None  # a replay buffer's rows [start, stop)
    group: str | None = None


class ArraysAdapter(SourceAdapter[ArraysOptions]):
    name: ClassVar[str] = "arrays"
    containers: ClassVar[tuple[str, ...]] = ("zarr", "hdf5")
    expects: ClassVar[str] = (
        "Zarr replay buffers (*.zarr directories, *.zip) or HDF5 files (*.hdf5, *.h5) of a layout in "
        "adapters/arrays/layouts.yaml, at the root or up to max_depth folders below"
    )

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        for path, container in self._stores(root):
            yield from self._discover_store(root, path, container)

    def _stores(self, root: Location) -> list[tuple[Location, str]]:
        """(path, container) of every store at or under `root` (a store's own folders are not searched)."""
        found, todo, zip_folders = [], [(root, 0)], []
        while todo:
            path, depth = todo.pop()
            kind = container_of(path)
            if kind is not None:
                if kind in self.containers:
                    found.append((path, kind))
                continue
            if depth > self.options.max_depth or not path.is_dir():
                continue
            if path.name.lower().endswith(".zip"):  # an unzipped store kept its name, or a folder in a zip's place
                zip_folders.append(path)
            for e in path.listing():
                if not e.name.startswith("."):
                    todo.append((path / e.name, depth + 1))
        for folder in zip_folders:  # never dropped silently (issue 85)
            if not any(p == folder or folder in p.parents for p, _ in found):
                msg = f"{folder} is a folder named like a zipped store and holds no store: not read"
                self.note("not_a_store", msg, root=root, path=folder)
        return sorted(found, key=lambda pc: natural_key(str(pc[0])))

    def _discover_store(self, root: Location, path: Location, container: str) -> Iterator[EpisodeRef]:
        rel = str(path.relative_to(root)) if path != root else path.name
        base_id = rel.removesuffix(".zip")
        subset = self.options.subset
        try:
            with open_store(path, container) as store:
                attrs = store.all_attrs(ATTR_GROUPS)
                if (old := unread_version(store.keys, attrs)) is not None:  # named, not "no layout fits"
                    raise ValueError(old)
                name, layout, why = choose(container, store.keys, attrs, self.options.layout)
                episodes = list(episodes_of(store, layout))
                if not (layout.timestamps and join(layout.episodes.base, layout.timestamps) in store.arrays):
                    rate_of(layout, attrs, store.keys, self.options.fps, path)  # no rate known: refused, named
        except (OSError, ValueError, KeyError, TypeError) as e:
            message = f"not read as an array recording: {e}"
            self.note("unreadable_store", message, root=root, path=path, episodes=[base_id])
            yield self.new_ref(
                base_id,
                (str(path),),
                subset=subset or container,
                source=self.options.source,
                error=self.error(message, file=path, episode=base_id, field="layout"),
            )
            return
        for label, locator in episodes:
            locator.update(layout=name, layout_from=why, container=container)
            yield self.new_ref(
                f"{base_id}/{label}" if label else base_id,
                (str(path),),
                subset=subset or name,
                source=self.options.source,
                locator=locator,
            )

    def read(self, ref: EpisodeRef) -> RawEpisode:
        loc = ref.locator
        path = self.file(ref.paths[0])
        layout = LAYOUTS[loc["layout"]]

        def fail(message: str, field: str) -> Exception:
            return self.error(message, file=path, episode=ref.raw_id, field=field)

        try:
            with open_store(path, loc["container"]) as store:
                return self._read(ref, store, layout, path, fail)
        except (OSError, ValueError, KeyError) as e:  # an AdapterError (`fail`) passes through
            raise fail(f"unreadable store: {e}", "store") from e

    def _read(self, ref: EpisodeRef, store: Store, layout: Layout, path: Location, fail) -> RawEpisode:
        loc = ref.locator
        attrs = store.all_attrs(ATTR_GROUPS)
        base = loc.get("group") or layout.episodes.base
        start, stop = loc.get("rows") or (None, None)
        per_row = rows_per_array(store, base, start, stop, layout)
        if not per_row:
            raise fail(f"no per-row array under {base or 'the root'}", base or "/")
        n = max(per_row.values())
        try:  # checked before any array is read (a declared shape costs nothing until it is)
            check("rows", n, limit("ROWS"), "the ROWS limit")
        except TooLarge as e:
            raise fail(str(e), base or "/") from e
        times = None
        if layout.timestamps and layout.timestamps in per_row:
            t = store.read(join(base, layout.timestamps), start, stop).astype(np.float64).reshape(-1)
            if len(t) == n and np.all(np.diff(t) >= 0) and (n < 2 or t[-1] > t[0]):
                times = t - t[0]
        if times is None:
            fps, rate_from = rate_of(layout, attrs, store.keys, self.options.fps, path)
            times = np.arange(n) / fps
        else:
            fps, rate_from = (1.0 / float(np.median(np.diff(times))) if n > 1 else 1.0), "file: timestamps"
        states: dict[str, Stream] = {}
        actions: dict[str, Stream] = {}
        outcomes: dict[str, Stream] = {}  # the layout's `signals`: a reward, a done flag
        cameras: dict[str, ArrayImagesCamera] = {}
        short: dict[str, int] = {}
        images = [r for r, rows in sorted(per_row.items()) if rows == n and any_of(r, layout.images)]
        whole = {r for r, rows in per_row.items() if rows == n}
        way = hands.choose(layout, whole)
        roles = layout.camera_roles([r.rsplit("/", 1)[-1] for r in images if r != layout.timestamps], way)
        named = dict(way.names) if way is not None else {}
        for rel, rows in sorted(per_row.items()):
            key = join(base, rel)
            if rows != n:
                short[rel] = rows
                continue
            if rel == layout.timestamps:
                continue
            if any_of(rel, layout.images):
                name = rel.rsplit("/", 1)[-1]
                cameras[name] = self._camera(store, path, loc, key, start, times, layout, roles[name], fail)
                continue
            values = store.read(key, start, stop)
            if values.dtype.kind not in "biuf":
                continue
            values = values.reshape(n, -1).astype(np.float64)
            names = named.get(rel) or NAMES.get((loc["layout"], rel, values.shape[1]))
            names = names if names is not None and len(names) == values.shape[1] else None
            stream = Stream(times, values, names, "native")
            out = actions if any_of(rel, layout.actions) else outcomes if any_of(rel, layout.signals) else states
            out[rel.replace("/", ".")] = stream
        if not states and not actions:
            raise fail("no numeric per-row array to keep as a state or an action", base or "/")
        try:
            declared = hands.declare(loc["layout"], layout, states, whole, actions, attrs)
        except ValueError as e:  # a pose array of a shape its layout does not read (`hands.pose_parts`)
            raise fail(str(e), "hands") from e
        notes = self._kinds(actions, loc["layout"], attrs, fail)
        group = loc.get("group")
        success = demo_success(store.attrs(group)) if group and group in store.groups else None
        robot = attr_value(layout.robot_type, attrs) if layout.robot_type else None
        robot_type = _text(robot[0]) if robot else None
        annotation = ArrayRecording(
            kind="arrays",
            layout=loc["layout"],
            layout_from=loc["layout_from"],
            container=loc["container"],
            rate_hz=fps,
            rate_from=rate_from,
            rows=tuple(loc["rows"]) if loc.get("rows") else None,
            group=loc.get("group"),
        )
        return RawEpisode(
            ref=ref,
            robot_type=robot_type,
            embodiment=declared.embodiment,
            tier=self.options.tier,
            native_fps=fps,
            success=success,
            states=states,
            actions=actions,
            cameras=cameras,
            outcomes=outcomes,
            language=_language(layout, attrs, path),
            verdicts=(
                *(TierVerdict.note(r, declared.cause.value) for r in declared.reasons),
                *(TierVerdict.note(r, "source_action_setting") for r in notes),
            ),
            metadata={
                "rows": n,
                "short_arrays": short,
                "robot_type_from": robot[1] if robot else None,
                "hands_from": declared.hands_from,
            },
            hands=declared.signals,
            annotation=annotation,
        )

    def _kinds(self, actions: dict[str, Stream], layout: str, attrs: dict[str, dict[str, Any]], fail) -> list[str]:
        """Marks the action's delta columns in place (`evidence.relative_action`); notes of a setting not applied."""
        if len(actions) != 1:
            return []
        key, stream = next(iter(actions.items()))
        with reraised(ValueError, lambda e: fail(str(e), "delta_actions")):
            rel, note = relative_action(layout, attrs, stream.values.shape[1], self.options.delta_actions)
        actions[key] = replace(stream, relative=rel)
        return [note] if note else []

    def _camera(
        self,
        store: Store,
        path: Location,
        loc: dict,
        key: str,
        start: int | None,
        times,
        layout: Layout,
        canonical: Camera | None,
        fail,
    ) -> ArrayImagesCamera:
        info = store.arrays[key]
        if len(info.shape) != 4 or info.shape[-1] != 3:
            raise fail(f"an image array is (T, H, W, 3); this one is {info.shape}", key)
        first = store.read(key, start or 0, (start or 0) + 1)
        with reraised(ImageRangeError, lambda e: fail(f"frame 0: {e}", key)):
            to_uint8(first, layout.image_scale)
        return ArrayImagesCamera(
            path,
            loc["container"],
            key,
            start or 0,
            times,
            info.shape[1],
            info.shape[2],
            layout.image_scale,
            canonical=canonical,
        )


class ZarrAdapter(ArraysAdapter):
    """The same layouts, Zarr stores only (`adapter: zarr`): an HDF5 file under the root is not read."""

    name: ClassVar[str] = "zarr"
    containers: ClassVar[tuple[str, ...]] = ("zarr",)
    expects: ClassVar[str] = "Zarr replay buffers (*.zarr folders or *.zip) of a layout in adapters/arrays/layouts.yaml"


NAMES = {  # column names the makers' code gives (layouts.yaml's header cites it)
    ("diffusion_policy", "state", 5): ("agent_x", "agent_y", "block_x", "block_y", "block_angle"),
    ("diffusion_policy", "action", 2): ("target_x", "target_y"),
    # a real UR5 buffer's TCP poses: x, y, z (m), then RTDE's rotation vector (rad)
    ("diffusion_policy", "action", 6): ("target_x", "target_y", "target_z", "target_rx", "target_ry", "target_rz"),
    ("diffusion_policy", "robot_eef_pose", 6): ("x", "y", "z", "rx", "ry", "rz"),
}


def _language(layout: Layout, attrs: dict[str, dict[str, Any]], path: Location) -> list[Language]:
    if layout.language is None:
        return []
    found = attr_value(layout.language, attrs)
    if found is not None and _text(found[0]):
        return [Language(_text(found[0]), "instruction")]
    suffix = layout.language.file_suffix
    stem = path.name.rsplit(".", 1)[0]
    if suffix and stem.endswith(suffix):  # LIBERO's `<SCENE>_<task words>_demo.hdf5`
        words = re.sub(r"^([A-Z0-9]+_)*SCENE\d+_", "", stem.removesuffix(suffix)).replace("_", " ").strip()
        return [Language(words, "instruction")] if words else []
    return []


def _text(v: Any) -> str:
    return " ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v).strip()
