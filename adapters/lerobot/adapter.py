"""Existing LeRobot datasets (v2.0, v2.1, v3.0) as a source, GR00T `meta/modality.json` understood when present.

`discover(root)` takes a dataset root (`meta/info.json`) or a folder with datasets one or two levels down (one subset
per dataset folder, named after it; the `subset` option renames a single dataset or picks one in a folder). Layouts:
`layout`; the episode read: `episode`; cameras: `cameras`; embodiment (never a guess from the state layout, recorded
in `metadata["embodiment_from"]`) and joint conventions: `embodiment`; recorded end-effector poses as the hands:
`poses`. The dataset's validation report is `adapters.lerobot_format.meta.DatasetMeta`'s quirks plus this adapter's
(`report(root)`, and `metadata["quirks"]` of every episode); per-episode findings are in `metadata["episode_quirks"]`.

| native (column / file)              | canonical                                   | units, frame, rate               |
| ----------------------------------- | ------------------------------------------- | -------------------------------- |
| `observation.state`                 | `states["observation.state"]`; with         | native (LeRobot has no units),   |
|                                     | modality.json `states["state.<key>"]`       | names from `features.*.names`    |
| `action`                            | `actions["action"]`; with modality.json     | as stored (float64 stays         |
|                                     | `actions["action.<key>"]`                   | float64)                         |
| other `observation.*`, `state*`     | `states[<column>]`                          | native                           |
| other `action*`, `actions*`         | `actions[<column>]` (openpi's `actions`)    | native                           |
| `next.reward`, `next.done`, ...     | `outcomes[<column>]` (`next.native`)        | native dtype                     |
| `annotation.*`, any other numeric   | `signals[<column>]`: a state native         | native dtype                     |
| `timestamp` (else frame_index/fps)  | every stream's timestamps, float64 s        | minus the `timestamp_offset`     |
| mp4 per video key                   | `cameras[<video key>]` (lazy PyAV)          | PTS s; v3: PTS - from_timestamp  |
| `dtype: image` parquet column       | `cameras[<column>]` (lazy decode)           | parquet timestamps               |
| `task_index` -> tasks               | `language`, kind `instruction`, per run     | [first, last] s of the run; None |
|                                     |                                             | when it covers the episode       |
| `annotation.<src>.<type>` -> tasks  | `language` (`instruction` when the name     | label types (validity, quality,  |
|                                     | says task/instruction/prompt/action, else   | success, reward) go to           |
|                                     | `description`)                              | `metadata["annotations"]`        |
| `next.success`, `success`,          | `success` (true on any frame); else an      | `next.done` is never read as     |
| `is_success`, `episode_success`     | episode meta `success` bool; else None      | success (it ends every episode)  |
| episodes.jsonl `action_config`      | `action_config`                             | frames                           |
| info `annotation_path` file         | `language` `subtask` / `primitive` segments | frames -> row times              |
| (BEHAVIOR-1K)                       | (`behavior_annotations`), file to lineage   |                                  |
| RoboCOIN `annotations/*.jsonl`      | `language` (subtask, scene), `action_config`| `adapters.lerobot.annotations`   |
| RoboCOIN `eef_sim_pose_state`       | `hands` (wrists; `gripper_open_scale_state`)| `poses.yaml` `robocoin_unified`  |
| `robot_type`, `fps`                 | `robot_type`, `native_fps`, `embodiment`    | fps as declared (may be float)   |
| modality.json                       | `metadata["modality"]` (rotation_type,      | slices in                        |
|                                     | absolute, ...) as given                     | `metadata["stream_layout"]`      |

Path templates are filled in any of lerobot's spellings (`schemas.lerobot.fill_path_template`); an mp4 missing where
the template points is looked for under a folder named after its camera (quirk `video_path_relocated`). Default
tier: `high`. Sources and assumptions: adapters/README.md `lerobot`.

Quirks handled. Per dataset (one quirk in the report, reading goes on):
- ghost camera: a video feature with no mp4 for any episode (GR00T's `observation.images.egoview`) is skipped,
  quirk `ghost_camera` naming the path expected (a camera asked for by the `cameras` option and absent fails every
  episode instead); `video_path_relocated` (warning); `camera_without_slot` (info): cameras kept under their own keys;
- everything `DatasetMeta` reports; for v3.0 `check_info`, totals, and `[dataset_from_index, dataset_to_index)` vs
  `length`;
- an unreadable `info.json` / episodes meta fails the dataset: discovery yields one ref `meta` with `error` set and
  goes on with the other datasets of the folder; an unreadable v3 `meta/tasks.parquet` is a quirk (no language).
Per episode, `AdapterError` (discovery yields the episode with `error` set; the others go on):
- data parquet missing or unreadable (footer at discovery, rows at read; a shared v3 file fails each of its
  episodes), field `data_path`: a hard link, a symlink out of the root, a FIFO or folder in its place, a cut file,
  whatever one data file is costs its own episodes only, never the dataset (`footer_problem`, issue 85); a vector
  column ragged or null, field = the column; a parquet or mp4 that is a Git LFS pointer (a clone without `git lfs`)
  says so and names `git lfs pull`;
- a camera with mp4s for other episodes, not this one (field: the video key, with the path); an mp4 PyAV can't open.
Per episode, quirk in `metadata["episode_quirks"]` (the episode is read):
- `episode_length_mismatch`: episodes.jsonl / v3 `length` differs from the parquet rows (the rows are read);
- `timestamp_offset_corrected`: with `timestamp_offset="auto"` the offset parquet - video PTS over the aligned
  frames, when constant within half a frame, is subtracted so the first timestamp is the first PTS (GR00T: 0.05 s,
  one frame late); without video the first row moves to 0 s. Not constant: `timestamp_video_drift`, the parquet
  timestamps unchanged (`EpisodeReader.retime`);
- `no_frame_index` (GR00T: row order is frame order), `no_timestamp`, `video_frame_count_mismatch`,
  `index_range_mismatch` (v3), `modality_invalid` (slices that do not fit: the vector is kept whole).
v3.0 rows are selected from the shared data file by `episode_index` and frames from the shared mp4 by
`[from_timestamp, to_timestamp)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field, field_validator

from adapters.base import AdapterOptions, EpisodeRef, RawEpisode
from adapters.camera_roles import Role
from adapters.lerobot.annotations import DatasetAnnotations, annotate, read_annotations
from adapters.lerobot.behavior_annotations import unmatched_files, with_annotation
from adapters.lerobot.cameras import reads_all, select_cameras, undeclared_cameras
from adapters.lerobot.embodiment import joint_options, resolve_embodiment
from adapters.lerobot.episode import EpisodeReader, ReadSettings
from adapters.lerobot.poses import LAYOUTS as POSE_LAYOUTS
from adapters.lerobot.poses import PoseLayout, with_poses
from adapters.lerobot_format.files import read_json
from adapters.lerobot_format.layout import (
    LoadedDataset,
    footer_problem,
    read_v3_locations,
    read_v3_tasks,
    recorded_frames,
    v2_locations,
)
from adapters.lerobot_format.meta import DatasetMeta, check_info
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from adapters.storage.root import Root
from schemas.canonical import Camera
from schemas.findings import SourceFinding
from schemas.lerobot import INFO_PATH, MetaFileError
from schemas.quirks import quirk
from schemas.robots.joint_space import JointSpaceOptions
from schemas.robots.registry import default_registry
from schemas.storage import SourceVanishedError, StorageOptions
from schemas.tiers import QualityTier


class LeRobotOptions(AdapterOptions):
    """Options of the LeRobot source. The base option `cameras` selects video keys (full key, short name like
    `ego_view`, or a GR00T modality alias); default: every declared camera that has files."""

    camera_map: dict[str, Camera | None] = Field(
        default_factory=dict,
        description="video key (full or short) -> canonical camera (null: none); overrides the name heuristics",
    )
    camera_rules: list[tuple[str, Role]] = Field(
        default_factory=list,
        description="(glob on the short camera name, slot) rules tried before the shared vocabulary "
        "(`adapters/camera_roles.yaml`); 'wrist' takes the side from the name, 'none' keeps the camera under its "
        "own key",
    )
    robot_type: str | None = Field(None, description="robot_type to report instead of info.json's")
    embodiment: str | None = Field(None, description="embodiment registry name; default: from robot_type")
    tier: QualityTier = Field(QualityTier.high, description="default tier of the subset (teleoperated demos: high)")
    timestamp_offset: Literal["auto", "none"] | float = Field(
        "auto",
        description="'auto': detect a constant parquet-vs-video offset and subtract it; a number: subtract it; "
        "'none': keep the parquet timestamps",
    )
    split_modality: bool = Field(True, description="split state/action by meta/modality.json slices when present")
    joint_space: JointSpaceOptions | None = Field(
        None,
        description="joint units, a lerobot calibration or a native -> joint map for forward kinematics. Unset: the "
        "units are read from the values against the robot's joint limits (the episode's tier_reasons say the reading "
        "and whether the evidence decided it); set it where that reading is undecided or wrong, for a calibrated "
        "lerobot arm (range_m100_100 needs its calibration), or where native names do not match the robot's joints",
    )
    validate_data: bool = Field(
        True, description="report pass over every v2.x parquet (timestamps, columns); turn off for huge datasets"
    )
    poses: str | PoseLayout | None = Field(
        None,
        description="recorded end-effector poses as the hands: a layout of adapters/lerobot/poses.yaml by name, or "
        "a declaration (point, per side position / rotation / rotation_unit / gripper columns; fields of "
        "adapters.lerobot.poses.PoseLayout). Unset: the first known layout the features hold",
    )

    @field_validator("poses")
    @classmethod
    def _known_poses(cls, v: str | PoseLayout | None) -> str | PoseLayout | None:
        if isinstance(v, str) and v not in POSE_LAYOUTS:
            raise ValueError(f"unknown pose layout {v!r}; known: {sorted(POSE_LAYOUTS)}")
        return v

    @field_validator("embodiment")
    @classmethod
    def _known_embodiment(cls, v: str | None) -> str | None:
        if v is not None and v not in default_registry():
            raise ValueError(f"unknown embodiment {v!r}; known: {default_registry().names()}")
        return v


def meta_error(err: BaseException) -> str:
    """An unreadable dataset meta's cause in words (a bare KeyError prints only the key: `'chunk_index'`)."""
    if isinstance(err, KeyError):
        return f"missing key {err.args[0]!r} ({type(err).__name__} while reading meta/info.json or the episodes meta)"
    return str(err)


def meta_file(err: BaseException, root: Location) -> str:
    """The meta file an unreadable dataset's error is about: the one it names (`MetaFileError`), else info.json."""
    return err.path if isinstance(err, MetaFileError) else str(root / INFO_PATH)


class LeRobotSource(SourceAdapter[LeRobotOptions]):
    name: ClassVar[str] = "lerobot"
    refs_seen: ClassVar[bool] = True  # a ref names only files discovery found: one missing flags it there
    expects: ClassVar[str] = f"a LeRobot dataset: {INFO_PATH} here or one or two levels below"

    def __init__(
        self, options: AdapterOptions | dict[str, Any] | None = None, storage: StorageOptions | None = None
    ) -> None:
        super().__init__(options, storage)
        self._cache: dict[Location, LoadedDataset] = {}
        self._notes: dict[Location, DatasetAnnotations] = {}  # RoboCOIN's annotations/*.jsonl, per dataset root

    @classmethod
    def root_problem(cls, root: Location) -> str | None:
        """No `meta/info.json` at the root or one or two levels below (what `dataset_roots` looks for)."""
        if (root / INFO_PATH).exists() or any(next(root.glob(p), None) for p in ("*/" + INFO_PATH, "*/*/" + INFO_PATH)):
            return None
        return f"not a LeRobot root: expected {cls.expects}"

    def spec_problems(self, root: Location) -> list[tuple[tuple[str, ...], str]]:
        """A requested camera that no dataset under the root declares in its meta files (a typo: `cam_hihg`)."""
        try:
            roots = [r for _, r in self.dataset_roots(root)] if self.options.cameras else []
        except ValueError:  # no dataset: root_problem and discovery say so
            roots = []
        return [(("options", "cameras"), msg) for msg in undeclared_cameras(self.options.cameras or [], roots)]

    def dataset_roots(self, root: Location) -> list[tuple[str, Location]]:
        """(subset, dataset root) pairs under the discovered `root`, sorted by subset."""
        if (root / INFO_PATH).exists():  # not a regular file: its load says so (`DatasetMeta.load`)
            return [(self.options.subset or root.name, root)]
        infos = [*root.glob("*/" + INFO_PATH), *root.glob("*/*/" + INFO_PATH)]
        # each dataset named from the root down (its path under `root`), never by climbing from its info.json
        found = {root / p.relative_to(root).as_posix().removesuffix("/" + INFO_PATH) for p in infos}
        pairs = sorted((p.name, p) for p in found)
        if self.options.subset:
            pairs = [(s, p) for s, p in pairs if s == self.options.subset]
        if not pairs:
            raise ValueError(f"{root}: no LeRobot dataset (no meta/info.json here or one or two levels below)")
        return pairs

    def discover(self, root: Location) -> Iterator[EpisodeRef]:
        count = 0
        for subset, ds_root in self.dataset_roots(root):
            try:
                ds = self._dataset(ds_root, subset)
            except (ValueError, OSError, KeyError, pa.ArrowException) as err:
                yield self._ref(
                    subset,
                    "meta",
                    (meta_file(err, ds_root),),
                    {"root": str(ds_root)},
                    f"dataset meta unreadable: {meta_error(err)}",
                )
                continue
            for ep, loc in sorted(ds.episodes.items()):
                if self.options.max_episodes is not None and count >= self.options.max_episodes:
                    return
                count += 1
                paths = [str(ds_root / loc.data_file)]
                paths += [str(ds_root / loc.videos[k].file) for k in ds.cameras if k in loc.videos]
                locator: dict[str, Any] = {"root": str(ds_root), "episode_index": ep}
                problem = ds.problems.get(ep)
                if problem:
                    locator |= {"error_file": problem[1], "error_field": problem[2]}
                yield self._ref(subset, f"episode_{ep:06d}", tuple(paths), locator, problem[0] if problem else None)

    def _ref(self, subset: str, raw_id: str, paths: tuple[str, ...], locator: dict, error: str | None) -> EpisodeRef:
        return EpisodeRef(
            adapter=self.name, source=self.name, subset=subset, raw_id=raw_id, paths=paths, locator=locator, error=error
        )

    def findings(self) -> list[SourceFinding]:
        """Every dataset discovery loaded, its quirks as source findings (declared episodes or cameras without
        files, files found outside the path template, ...), then what was noted besides."""
        out = [f for _, ds in sorted(self._cache.items(), key=lambda kv: str(kv[0])) for f in self.dataset_findings(ds)]
        return out + super().findings()

    def dataset_findings(self, ds: LoadedDataset) -> list[SourceFinding]:
        """One loaded dataset's quirks as source findings: the one place the adapter's dataset report becomes
        them (discovery writes them to the catalog, `read` hands an episode those of its dataset). A quirk's
        `episodes` are episode indices for validate's listing, not raw ids: the finding concerns the whole dataset."""
        return [
            SourceFinding(
                source=self.name,
                adapter=self.name,
                root=str(ds.root),
                subset=ds.subset,
                **q.model_dump(exclude={"episodes"}),
            )
            for q in ds.quirks
        ]

    def dataset(self, root: Location) -> LoadedDataset:
        """One dataset root as this adapter loads it (quirks, episode locations, cameras read, per-episode problems);
        cached per instance (a path or URL: the source's root). Raises ValueError / OSError when its meta cannot be
        read."""
        root = self.source_root(root)
        return self._dataset(root, self.options.subset or root.name)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        root, ep = self.file(ref.locator["root"]), ref.locator.get("episode_index")
        if ref.error:
            file = ref.locator.get("error_file") or (ref.paths[0] if ref.paths else None)
            raise self.error(ref.error, file=file, episode=ref.raw_id, field=ref.locator.get("error_field"))
        why = Root(root, self.storage).vanished(ref.paths, all_seen=True)
        if why is not None:  # never read without a part
            raise SourceVanishedError(why)
        try:
            if not reads_all(ds := self._dataset(root, ref.subset), ref):  # loaded while a part was missing: again
                self._cache.pop(root, None)
                ds = self._dataset(root, ref.subset)
        except (ValueError, OSError, KeyError, pa.ArrowException) as err:
            msg = f"dataset meta unreadable: {meta_error(err)}"
            raise self.error(msg, file=meta_file(err, root), episode=ref.raw_id) from err
        loc = ds.episodes.get(int(ep))
        if loc is None:
            raise self.error("episode not listed in the dataset meta", file=root, episode=ref.raw_id)
        if not reads_all(ds, ref):
            raise SourceVanishedError(f"{root}: a camera discovery read is not in the dataset now: {ref.paths[1:]}")
        if int(ep) in ds.problems:
            msg, file, fld = ds.problems[int(ep)]
            raise self.error(msg, file=file, episode=ref.raw_id, field=fld)
        robot_type = self.options.robot_type or ds.info.robot_type
        embodiment, embodiment_from = resolve_embodiment(robot_type, ds, self.options.embodiment)
        settings = ReadSettings(
            timestamp_offset=self.options.timestamp_offset,
            split_modality=self.options.split_modality,
            robot_type=robot_type,
            embodiment=embodiment,
            embodiment_from=embodiment_from,
            tier=self.options.tier,
        )
        raw = annotate(EpisodeReader(ds, loc, ref, settings, self.error).read(), self._notes.get(root))
        try:
            raw = with_poses(raw, ds.info, self.options.poses, self.options.embodiment)
        except ValueError as err:
            raise self.error(str(err), file=root / INFO_PATH, episode=ref.raw_id, field="poses") from err
        raw = with_annotation(raw, ds.root, ds.info, loc.episode_index)  # BEHAVIOR-1K's per-episode files
        findings = [f for f in self.dataset_findings(ds) if f.severity != "info"]
        return replace(raw, findings=findings, joint_space=joint_options(robot_type, self.options.joint_space, ds))

    # -- a dataset's meta, once per instance ----------------------------------------------------------------------
    def _dataset(self, root: Location, subset: str) -> LoadedDataset:
        root = self.file(root)
        if root not in self._cache:
            self._cache[root] = self._load(root, subset)
        return self._cache[root]

    def _load(self, root: Location, subset: str) -> LoadedDataset:
        # ValueError: bad info
        meta = DatasetMeta.load(root, check_files=True, check_data=self.options.validate_data)
        info, raw = meta.info, read_json(root / INFO_PATH)
        version = str(raw.get("codebase_version"))
        if "v3_layout" in meta.codes():
            quirks = [
                quirk("v3_layout", "info", f"codebase_version {version!r}: v3.0 layout, read natively", INFO_PATH)
            ]
            quirks += check_info(raw, info)
            try:
                tasks = read_v3_tasks(root)
            except (OSError, ValueError, pa.ArrowException) as err:
                tasks = {}
                quirks.append(quirk("unreadable_tasks", "error", f"meta/tasks.parquet: {err}", "meta/tasks.parquet"))
            locations = read_v3_locations(root, info)
            if info.total_episodes != len(locations):
                missing = info.total_episodes - len(locations)
                msg = f"info.json total_episodes={info.total_episodes} but meta/episodes lists {len(locations)}" + (
                    f": {missing} declared episodes are not in this copy" if missing > 0 else ""
                )
                quirks.append(quirk("total_episodes_mismatch", "warning", msg, INFO_PATH))
        else:
            quirks = list(meta.quirks)
            tasks = {t.task_index: t.task for t in meta.tasks}
            locations = v2_locations(info, meta.episodes)
        episodes = {e.episode_index: e for e in locations}
        quirks += unmatched_files(root, info, set(episodes))
        is_v3 = "v3_layout" in meta.codes()
        self._notes[root] = notes = read_annotations(root, set(info.features), set(episodes))
        ds = LoadedDataset(root, subset, version, is_v3, info, meta.modality, tasks, episodes, quirks + notes.quirks)
        self._check_data_files(ds)
        select_cameras(ds, self.options.cameras, self.options.camera_map, self.options.camera_rules)
        return ds

    def _check_data_files(self, ds: LoadedDataset) -> None:
        """Per episode: the data parquet exists and its footer reads (once per file: v3 files are shared)."""
        footers: dict[str, str | None] = {}
        frames = recorded_frames(ds.root)
        unsaved = sorted(set(frames) - set(ds.episodes))
        if unsaved:
            total = sum(sum(frames[e].values()) for e in unsaved)
            msg = (
                f"images/ holds {total} frames of episodes {unsaved[:5]} that the meta does not list: an aborted "
                "lerobot record (frames never encoded nor written to a parquet); not read"
            )
            ds.quirks.append(quirk("unsaved_image_frames", "warning", msg, "images"))
        for ep, loc in ds.episodes.items():
            path = ds.root / loc.data_file
            if loc.data_file not in footers:
                footers[loc.data_file] = footer_problem(ds.root, path, frames.get(ep, {}))
            if footers[loc.data_file]:
                ds.problems[ep] = (footers[loc.data_file], str(path), "data_path")  # type: ignore[assignment]
        if not ds.is_v3:
            return  # DatasetMeta reported these for v2.x
        for what, code in (
            ("data parquet file is missing", "missing_data_files"),
            ("unreadable", "unreadable_parquet"),
        ):
            eps = sorted(e for e, p in ds.problems.items() if p[0].startswith(what))
            if eps:
                ds.quirks.append(quirk(code, "error", f"{what}: episodes {eps[:5]}", ds.episodes[eps[0]].data_file))
        short = [e for e, loc in ds.episodes.items() if loc.rows and loc.rows[1] - loc.rows[0] != loc.length]
        if short:
            msg = f"dataset_to_index - dataset_from_index != length for episodes {sorted(short)[:5]}"
            ds.quirks.append(quirk("episode_length_mismatch", "warning", msg, "meta/episodes"))
