"""A tolerant reader of a LeRobot dataset's meta on disk (v2.0, v2.1), reporting deviations from v2.1 as quirks
(`schemas.quirks`, which says what each severity means for lerobot 0.3.3). Only an unreadable `info.json`, a missing
one, or invalid JSON in a meta file raises (`ValueError` naming the file).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.lerobot_format.files import read_json, read_jsonl
from adapters.lerobot_format.rows import check_parquet_data, float64_quirk
from adapters.storage.location import Location
from adapters.storage.root import Root
from schemas.lerobot import (
    EPISODES_PATH,
    EPISODES_STATS_PATH,
    INFO_PATH,
    LEGACY_STATS_PATH,
    MODALITY_PATH,
    TASKS_PATH,
    EpisodeEntry,
    EpisodeStatsEntry,
    InfoJson,
    TaskEntry,
)
from schemas.lerobot_features import IMAGE_NAMES, FeatureSpec
from schemas.quirks import Quirk, Severity, listing, quirk


def _read_entries(root: Path, rel: str, model: type[Any], quirks: list[Quirk]) -> list[Any] | None:
    """Entries of a jsonl meta file, or None when absent. Lines that fail validation become `invalid_entry` quirks."""
    path = root / rel
    if not path.is_file():
        return None
    out = []
    for lineno, obj in read_jsonl(path):  # invalid JSON raises ValueError naming path:line
        try:
            out.append(model.model_validate(obj))
        except ValidationError as e:
            err = e.errors()[0]
            msg = f"{rel}:{lineno}: entry skipped, {'.'.join(map(str, err['loc'])) or 'entry'}: {err['msg']}"
            quirks.append(quirk("invalid_entry", "error", msg, rel))
    return out


def check_version(version: str) -> list[Quirk]:
    if version == "v2.1":
        return []
    if version == "v2.0":
        msg = "codebase_version v2.0: lerobot 0.3.3 loads it with a warning and uses global stats for every episode"
        return [quirk("legacy_version", "warning", msg, INFO_PATH)]
    msg = f"codebase_version {version!r} is neither v2.0 nor v2.1; lerobot 0.3.3 cannot load it"
    return [quirk("unknown_version", "error", msg, INFO_PATH)]


def _per_axis_names(f: FeatureSpec) -> bool:
    """An N-D feature named by one label list per axis (e.g. hand x keypoint x xyz): the natural form, not a variant."""
    names = f.names
    return (
        isinstance(names, list)
        and len(f.shape) > 1
        and len(names) == len(f.shape)
        and all(isinstance(n, list) and len(n) == d for n, d in zip(names, f.shape, strict=True))
    )


def check_info(raw: dict[str, Any], info: InfoJson) -> list[Quirk]:
    """Deviations visible in info.json alone (raw dict for what the models normalise away)."""
    q: list[Quirk] = []
    fps = raw.get("fps")
    if info.fps <= 0:
        q.append(quirk("fps_invalid", "error", f"info.json fps is {fps!r}", INFO_PATH))
    elif not isinstance(fps, int) or isinstance(fps, bool):
        sev: Severity = "info" if float(info.fps).is_integer() else "warning"
        q.append(quirk("fps_not_integer", sev, f"info.json fps is {fps!r}; v2.1 writes an int", INFO_PATH))
    raw_feats = raw.get("features", {})
    legacy = [k for k, f in raw_feats.items() if isinstance(f, dict) and "video_info" in f]
    if legacy:
        msg = f"video features {listing(legacy)} use the v2.0 key 'video_info' instead of 'info'"
        q.append(quirk("legacy_video_info_key", "warning", msg, INFO_PATH))
    no_info = [k for k in info.video_keys if not info.features[k].info]
    if no_info:
        msg = f"video features {listing(no_info)} have no probed video info block"
        q.append(quirk("video_info_missing", "info", msg, INFO_PATH))
    variants = []
    for k, f in info.features.items():
        if f.is_visual and f.names != IMAGE_NAMES:
            variants.append(f"{k} {f.names}")
        elif (
            not f.is_visual
            and not _per_axis_names(f)
            and (isinstance(f.names, dict) or any(isinstance(n, list) for n in f.names or []))
        ):
            variants.append(f"{k} ({'dict' if isinstance(f.names, dict) else 'nested list'})")
    if variants:
        msg = f"'names' differ from v2.1's flat list / {IMAGE_NAMES}: {listing(variants)}"
        q.append(quirk("names_variant", "info", msg, INFO_PATH))
    return q


def check_totals(
    info: InfoJson,
    episodes: list[EpisodeEntry],
    tasks: list[TaskEntry],
    stats: list[EpisodeStatsEntry] | None,
    legacy: dict | None,
    version: str,
) -> list[Quirk]:
    """The meta files against each other: info.json's totals and splits, episode indices, tasks, and which stats cover
    the episodes (`stats`: episodes_stats.jsonl's entries, `legacy`: v2.0's global stats.json; the values are
    `adapters.lerobot_format.checks.check_stats`'s)."""
    q: list[Quirk] = []
    n = len(episodes)
    indices = sorted(e.episode_index for e in episodes)
    counts = Counter(indices)
    repeated = sorted(i for i, k in counts.items() if k > 1)
    if repeated:
        msg = (
            f"episodes.jsonl lists episode(s) {listing([f'{i} ({counts[i]} times)' for i in repeated])}: each is "
            "read once, from its last entry"
        )
        q.append(quirk("duplicate_episode_index", "error", msg, EPISODES_PATH))
    if indices != list(range(n)):
        msg = f"episode indices are not 0..{n - 1} (got {listing(indices)}); lerobot indexes episodes by position"
        q.append(quirk("episode_index_gap", "error", msg, EPISODES_PATH))
    chunks = len({info.episode_chunk(i) for i in indices})
    checks = [
        ("total_episodes", info.total_episodes, n, "episodes in episodes.jsonl"),
        ("total_frames", info.total_frames, sum(e.length for e in episodes), "frames summed over episodes.jsonl"),
        ("total_tasks", info.total_tasks, len(tasks), "entries in tasks.jsonl"),
        ("total_chunks", info.total_chunks, chunks, f"chunk(s) used by {n} episodes"),
    ]
    for key, declared, actual, what in checks:
        if declared != actual:
            msg = f"info.json {key}={declared} but there are {actual} {what}"
            q.append(quirk(f"{key}_mismatch", "warning", msg, INFO_PATH))
    if info.splits != {"train": f"0:{n}"}:
        msg = f"info.json splits={info.splits} but v2.1 writes {{'train': '0:{n}'}} for {n} episodes"
        q.append(quirk("splits_mismatch", "warning", msg, INFO_PATH))
    known = {t.task for t in tasks}
    missing = sorted({(e.episode_index, t) for e in episodes for t in e.tasks if t not in known})
    if missing:
        msg = f"tasks absent from tasks.jsonl: {listing([f'episode {i}: {t!r}' for i, t in missing])}"
        q.append(quirk("task_not_in_tasks_jsonl", "warning", msg, EPISODES_PATH))
    if stats is None and legacy is not None:
        # v2.0 falls back to the global stats; a v2.1 loader insists on episodes_stats.jsonl.
        sev: Severity = "warning" if version == "v2.0" else "error"
        msg = f"no {EPISODES_STATS_PATH}, only global {LEGACY_STATS_PATH} (v2.0); per-episode stats must be computed"
        q.append(quirk("global_stats_only", sev, msg, LEGACY_STATS_PATH))
    elif stats is None:
        msg = f"neither {EPISODES_STATS_PATH} nor {LEGACY_STATS_PATH} exists"
        q.append(quirk("missing_episodes_stats", "error", msg, EPISODES_STATS_PATH))
    elif absent := sorted(set(indices) - {s.episode_index for s in stats}):
        msg = f"{EPISODES_STATS_PATH} has no entry for episodes {listing(absent)}"
        q.append(quirk("missing_episodes_stats", "warning", msg, EPISODES_STATS_PATH))
    return q


def check_file_presence(root: Path, info: InfoJson, episodes: list[EpisodeEntry]) -> list[Quirk]:
    q: list[Quirk] = []
    absent = [e.episode_index for e in episodes if not (root / info.data_file(e.episode_index)).is_file()]
    if absent:
        msg = f"no parquet file for episodes {listing(absent)} (e.g. {info.data_file(absent[0])})"
        q.append(quirk("missing_data_files", "error", msg, info.data_file(absent[0])))
    found = 0
    for key in info.video_keys if info.video_path else []:
        lost = [e.episode_index for e in episodes if not (root / info.video_file(e.episode_index, key)).is_file()]
        found += len(episodes) - len(lost)
        if lost:
            msg = f"video feature {key!r} is declared but has no mp4 for {len(lost)}/{len(episodes)} episodes"
            q.append(quirk("missing_video_files", "error", f"{msg} ({listing(lost)})", info.video_file(lost[0], key)))
    if info.total_videos != found:
        msg = f"info.json total_videos={info.total_videos} but {found} mp4 files exist for the declared video features"
        q.append(quirk("total_videos_mismatch", "warning", msg, INFO_PATH))
    return q


class DatasetMeta(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    root: Location  # a local folder, or one in an object store
    info: InfoJson
    episodes: list[EpisodeEntry]
    tasks: list[TaskEntry]
    episodes_stats: list[EpisodeStatsEntry] | None = None
    legacy_stats: dict | None = None
    modality: dict | None = None
    quirks: list[Quirk]

    @classmethod
    def load(cls, root: Path | Location, *, check_files: bool = True, check_data: bool = True) -> DatasetMeta:
        """The meta of the dataset at `root` (a path or a `Location`: its files are opened beneath it)."""
        root = Root(root).location()
        info_path = root / INFO_PATH
        if not info_path.is_file():  # a FIFO or a socket by that name is there, not missing
            what = "not a regular file" if info_path.exists() else "missing"
            raise ValueError(f"{info_path}: {what}; not a LeRobot dataset root")
        raw = read_json(info_path)
        try:
            info = InfoJson.model_validate(raw)
        except ValidationError as e:
            raise ValueError(f"{info_path}: not a LeRobot info.json ({e.error_count()} errors: {e.errors()[0]})") from e
        version = str(raw.get("codebase_version"))
        modality_path = root / MODALITY_PATH
        modality = read_json(modality_path) if modality_path.is_file() else None
        legacy_path = root / LEGACY_STATS_PATH
        legacy = read_json(legacy_path) if legacy_path.is_file() else None
        common: dict[str, Any] = {"root": root, "info": info, "legacy_stats": legacy, "modality": modality}
        if version.startswith("v3") or (root / "meta/tasks.parquet").exists() or (root / "meta/episodes").is_dir():
            msg = (
                f"v3.0 layout (codebase_version {version!r}, meta/tasks.parquet or meta/episodes/): "
                "many episodes per file, meta as parquet; a v2.1 reader cannot load it, convert it to v2.1 first"
            )
            return cls(**common, episodes=[], tasks=[], quirks=[quirk("v3_layout", "error", msg, INFO_PATH)])

        quirks = check_version(version) + check_info(raw, info)
        episodes = _read_entries(root, EPISODES_PATH, EpisodeEntry, quirks)
        tasks = _read_entries(root, TASKS_PATH, TaskEntry, quirks)
        stats = _read_entries(root, EPISODES_STATS_PATH, EpisodeStatsEntry, quirks)
        for rel, entries in ((EPISODES_PATH, episodes), (TASKS_PATH, tasks)):
            if entries is None:
                quirks.append(quirk("missing_meta_file", "error", f"{rel} is missing", rel))
        episodes, tasks = episodes or [], tasks or []
        try:
            info.data_file(0)
            for key in info.video_keys if info.video_path else []:
                info.video_file(0, key)
        except (KeyError, IndexError, ValueError) as err:
            msg = f"info.json data_path / video_path cannot be formatted ({err!r}); file and data checks skipped"
            quirks.append(quirk("bad_path_template", "error", msg, INFO_PATH))
            check_files = check_data = False
        quirks += check_totals(info, episodes, tasks, stats, legacy, version)
        if check_files:
            quirks += check_file_presence(root, info, episodes)
        if check_data:
            quirks += check_parquet_data(root, info, episodes, tasks)
        else:
            quirks += float64_quirk({k for k, f in info.features.items() if f.dtype == "float64"})
        return cls(**common, episodes=episodes, tasks=tasks, episodes_stats=stats, quirks=quirks)

    def codes(self, severity: Severity | None = None) -> set[str]:
        return {q.code for q in self.quirks if severity is None or q.severity == severity}
