"""Catalog rows of one dataset, from its meta (`episodes.jsonl` lineage, `info.json`, per-episode stats) and its files:
each episode's content hash streams the bytes of its data parquet and videos, with `FileDigests` reusing the sums of
files unchanged since the last rebuild."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adapters.lerobot_format.files import load_info, read_jsonl
from adapters.storage.digests import FileDigests
from schemas.actions import ActionKind
from schemas.canonical import (
    ACTION,
    ACTION_NATIVE,
    HAND_KEYPOINTS,
    IMAGE_PREFIX,
    KeypointKind,
    feature_intrinsics,
    keypoint_kind,
)
from schemas.catalog import CatalogRow
from schemas.corpus import (
    DATASETS_DIR,
    EXTERNAL_PIPELINE,
    LINEAGE_KEY,
    NO_LINEAGE,
    EpisodeLineage,
    episode_uid,
    relative_posix,
)
from schemas.episode_lines import shared_fields
from schemas.image_latents import FRAME_INDEX_KEY, LATENTS_KEY, cataloged, latent_frame_indices, latents_file
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH, InfoJson
from schemas.qa import CATALOG_PREFIX
from schemas.storage import CatalogError
from schemas.tiers import QualityTier, TierVerdict, grouped, notes_of, reasons_of, said_once, split_notes, tier_of
from schemas.verdicts import STEP

# an episode of another tool without an action trains visual forecasting only
NO_ACTION = TierVerdict(tier=QualityTier.actionless, reason="no action", code="no_action")


def episode_files(info: InfoJson, episode_index: int) -> list[str]:
    """The episode's data parquet and mp4s, relative to the dataset root, in a fixed order."""
    files = [info.data_file(episode_index)]
    if info.video_path is not None:
        files += [info.video_file(episode_index, key) for key in info.video_keys]
    return files


def episodes_files(info: InfoJson, episodes: Sequence[int]) -> list[str]:
    """`episode_files` of each of `episodes`, one after another (paths filled per template: `InfoJson.data_files`)."""
    files = [info.data_files(episodes)]
    if info.video_path is not None:
        files += [info.video_files(episodes, key) for key in info.video_keys]
    return [rel for per_episode in zip(*files, strict=True) for rel in per_episode]


def content_hash(dataset_root: Path, info: InfoJson, episode_index: int, digests: FileDigests | None = None) -> str:
    """sha256 over one line per episode file, `<path in dataset>\\0<size>\\0<sha256 of its bytes>\\n`, for the
    data parquet then each video in info.json's order. Files are streamed; `digests` reuses unchanged files' sums."""
    digests = digests if digests is not None else FileDigests()
    h = hashlib.sha256()
    for rel in episode_files(info, episode_index):
        size, digest = digests.digest(dataset_root, rel)
        h.update(f"{rel}\0{size}\0{digest}\n".encode())
    return h.hexdigest()


def _lens_model(lineage: EpisodeLineage, info: InfoJson, video_key: str) -> str:
    """A camera's lens model: the episode's lineage names a fisheye's (or a pinhole's); a 3x3 matrix in the
    feature's info alone is a pinhole; else none."""
    lens = (lineage.camera_models or {}).get(video_key)
    if isinstance(lens, dict) and isinstance(lens.get("model"), str):
        return lens["model"]
    ft = info.features.get(video_key)
    return "pinhole" if ft is not None and feature_intrinsics(ft.info) is not None else "none"


def _hand_keypoints(stats: dict[str, Any] | None, info: InfoJson) -> KeypointKind:
    """Whose keypoints the episode holds: the kind the dataset declares (`schemas.canonical.keypoint_kind`: human
    MANO-21 or a robot hand's FK links), or "none" when the episode's keypoints are all zero (an untracked hand is
    zeros + mask)."""
    ft = info.features.get(HAND_KEYPOINTS)
    if ft is None:
        return "none"
    kind = keypoint_kind(ft.info)
    kp = (stats or {}).get(HAND_KEYPOINTS)
    if kp is None:  # no per-episode stats: what the dataset declares
        return kind
    if not (np.any(np.asarray(kp["min"], dtype=float) != 0) or np.any(np.asarray(kp["max"], dtype=float) != 0)):
        return "none"  # all zero
    return "human" if kind == "none" else kind  # keypoints nobody declared: human, as the catalog always read them


def stats_moves(stats: dict[str, Any] | None) -> list[bool] | None:
    """Per dim of one column's stats (an `episodes_stats.jsonl` entry), whether its max is above its min (it takes
    more than one value over the episode); None without min and max."""
    if not stats or "min" not in stats or "max" not in stats:
        return None
    lo, hi = (np.asarray(stats[k], np.float64).reshape(-1) for k in ("min", "max"))
    return (hi > lo).tolist() if lo.shape == hi.shape else None


def _qa_columns(lineage: EpisodeLineage) -> dict[str, Any]:
    """The lineage's geometry and behaviour QA as `qa_*` catalog columns (none for episodes ingested without)."""
    values = {**(lineage.qa.model_dump(exclude_none=True) if lineage.qa is not None else {})}
    values.update(lineage.behaviour.model_dump(exclude_none=True) if lineage.behaviour is not None else {})
    copy = next((v for v in lineage.verdicts.found if v.code == "qa_duplicate"), None) if lineage.verdicts else None
    if copy is not None:
        values.update(duplicate_of=copy.compared_with, duplicate_residual=copy.value)
    return {CATALOG_PREFIX + k: v for k, v in values.items()}


def folder_names(rel: str | Path) -> tuple[str, str]:
    """(source, subset) of the dataset at `rel` below the corpus, `datasets/<source>/<subset...>`: what an episode
    without lineage is cataloged (and exported) under."""
    rel = Path(rel)
    parts = rel.parts[1:] if rel.parts and rel.parts[0] == DATASETS_DIR else rel.parts
    return parts[0] if parts else rel.name, "/".join(parts[1:]) if len(parts) > 1 else rel.name


def dataset_name(corpus_root: Path, dataset_root: Path) -> str:
    """The dataset's path in the corpus, as its rows' `dataset` column names it."""
    try:
        return Path(dataset_root).resolve().relative_to(Path(corpus_root).resolve()).as_posix()
    except ValueError:
        raise CatalogError(f"{dataset_root} is not inside the corpus {corpus_root}") from None


def dataset_names(corpus_root: Path, datasets: list[Path]) -> list[str]:
    """`dataset_name` of each of `datasets`, each folder that is no link resolved as its resolved parent folder's
    entry: one stat a dataset, where resolving each whole path stat'ed every part of it (1.9 s of 30k datasets)."""
    corpus, parents, out = Path(corpus_root).resolve(), {}, []
    for ds in datasets:
        parent, name = os.path.split(os.fspath(ds if isinstance(ds, Path) else Path(ds)))  # strings: 2 CPU-s at 1M
        if name in ("", ".", "..") or os.path.islink(ds):
            out.append(dataset_name(corpus_root, ds))
            continue
        if parent not in parents:
            parents[parent] = Path(parent).resolve()
        try:
            out.append(relative_posix(f"{parents[parent]}/{name}", corpus))
        except ValueError:
            raise CatalogError(f"{ds} is not inside the corpus {corpus_root}") from None
    return out


def dataset_rows(
    corpus_root: Path, dataset_root: Path, *, digests: FileDigests | None = None
) -> tuple[list[CatalogRow], list[EpisodeLineage]]:
    """Rows of one dataset from its meta: `episodes.jsonl` lines (length, tasks, the "eidata" lineage), `info.json`
    (fps, cameras, features), per-episode stats (hands) and the episode files (content hash, ingest time, latents).

    Episodes without lineage (datasets written by other tools) get what can be known: source/subset from the folder
    names, tier "high" with the reason "no eidata lineage" ("actionless" when the dataset has no action).
    `digests` lets a rebuild skip rehashing files unchanged since the last one (default: hash every byte). Each meta
    file is parsed once; the lineages come back with the rows, in the order of `episodes.jsonl`."""
    corpus_root, dataset_root = Path(corpus_root), Path(dataset_root)
    info_path, episodes_path = dataset_root / INFO_PATH, dataset_root / EPISODES_PATH
    if not info_path.exists():
        raise CatalogError(f"{dataset_root}: no {INFO_PATH}; not a dataset")
    if not episodes_path.exists():
        if load_info(info_path).total_episodes == 0:
            return [], []
        raise CatalogError(f"{dataset_root}: no {EPISODES_PATH} (only LeRobot v2.x datasets are cataloged)")
    info = load_info(info_path)
    digests = digests if digests is not None else FileDigests()
    fps = float(info.fps)
    rel = dataset_name(corpus_root, dataset_root)
    folder_source, folder_subset = folder_names(rel)
    cameras = [k.removeprefix(IMAGE_PREFIX) for k in info.video_keys]
    action_ft = info.features.get(ACTION)
    dataset_embodiment = (action_ft.info or {}).get("embodiment") if action_ft is not None else None

    stats: dict[int, dict[str, Any]] = {}
    # without a keypoints feature or a command no stats are read (`_hand_keypoints` answers "none" before it looks
    # at them; `native_moves` is null without a command)
    read = [k for k in (HAND_KEYPOINTS, ACTION_NATIVE) if k in info.features]
    if read and (dataset_root / EPISODES_STATS_PATH).exists():
        # only their min/max is needed; keep those, not every feature's stats
        for _, obj in read_jsonl(dataset_root / EPISODES_STATS_PATH):
            found = obj.get("stats", {})
            stats[int(obj["episode_index"])] = {k: found[k] for k in read if found.get(k) is not None}

    rows, lineages = [], []
    for lineno, line in read_jsonl(episodes_path):
        try:
            index, length, tasks = int(line["episode_index"]), int(line["length"]), list(line.get("tasks") or [])
        except (KeyError, TypeError, ValueError) as e:
            raise CatalogError(f"{episodes_path}:{lineno}: not an episode entry ({e})") from e
        lineage = EpisodeLineage.of(line)
        lineages.append(lineage)
        action_kind = lineage.action_kind_in(info)
        has_action = action_kind is not ActionKind.none
        kind = _hand_keypoints(stats.get(index), info)
        if lineage.tier is not None:  # a foreign dataset's lineage may hold only a caption
            default, kept = lineage.kept_verdicts()
            kept = said_once(kept)  # a lineage of before: the reason that set the tier first, each sentence once
        else:  # another tool's episode: high by default, actionless without an action
            default, kept = QualityTier.high, [TierVerdict.note(NO_LINEAGE)] + ([] if has_action else [NO_ACTION])
        tier, details = tier_of(default, kept), reasons_of(kept)
        if lineage.tier is not None and tier is not lineage.tier:
            raise CatalogError(
                f"{episodes_path}:{lineno}: episode {lineage.episode_uid} stores tier {lineage.tier.value} but its "
                f"verdicts give {tier.value} (a lineage edited by hand?)"
            )
        reasons, notes = split_notes(details, notes_of(kept))
        source = lineage.source or folder_source
        subset = lineage.subset or folder_subset
        caption = lineage.caption_text()
        raw_fps = lineage.raw_fps if "raw_fps" in lineage.model_fields_set else fps
        # the cameras with an image latents file (written atomically: present means whole)
        held = [k for k in info.video_keys if digests.exists(dataset_root, latents_file(info, index, k))]
        rows.append(
            CatalogRow(
                episode_uid=lineage.episode_uid or episode_uid(source, subset, f"episode_{index:06d}"),
                source=source,
                subset=subset,
                dataset=rel,
                episode_index=index,
                embodiment=lineage.embodiment or dataset_embodiment or info.robot_type or "unknown",
                tier=tier,
                tier_reasons=reasons,
                tier_notes=notes,
                tier_details=details,
                tier_codes=[v.code or grouped(v.reason) for v in kept],
                tier_levels=[v.tier for v in kept],
                default_tier=default,
                ingest_tier=tier_of(default, [v for v in kept if v.step != STEP]),
                task="; ".join(tasks) if tasks else None,
                caption=caption,
                num_frames=length,
                duration_s=length / fps,
                has_action=has_action,
                action_kind=action_kind,
                has_hands=kind == "human",  # as before robot keypoints: `WHERE has_hands` means human hands
                hand_keypoints=kind,
                cameras=cameras,
                camera_models=[_lens_model(lineage, info, k) for k in info.video_keys],
                success=lineage.success,
                raw_path=lineage.raw_path or rel,
                raw_fps=None if raw_fps is None else float(raw_fps),
                pipeline_version=lineage.pipeline_version or EXTERNAL_PIPELINE,
                reading=lineage.reading,
                caption_ready=caption is not None,
                content_hash=content_hash(dataset_root, info, index, digests),
                latents_ready=bool(held),
                **_latents_columns(dataset_root, info, index, length, held, digests),
                ingested_at=digests.modified(dataset_root, info.data_file(index)),
                plan_line=json.dumps(shared_fields(line, LINEAGE_KEY)),
                native_moves=stats_moves(stats.get(index, {}).get(ACTION_NATIVE)),
                **_qa_columns(lineage),
            )
        )
    if len(rows) != info.total_episodes:
        raise CatalogError(f"{dataset_root}: {EPISODES_PATH} has {len(rows)} episodes, info.json {info.total_episodes}")
    return rows, lineages


def _latents_columns(
    dataset_root: Path, info: InfoJson, index: int, length: int, held: list[str], digests: FileDigests
) -> dict[str, list[str] | None]:
    """`latents_keys` and `latents_files` of episode `index`, whose latents files are those of the video keys `held`:
    each file's header and `frame_index` read once here (`FileDigests.header`), so that train's index and the
    `latents` plan read none. Both null, so that they read the files, when one cannot be read here (a bucket's) or
    its `frame_index` is not what `eidata latents` writes for the episode's length, the dataset's fps and its rate
    (`latent_frame_indices`): the rows a plan derives are the file's, or the plan reads the file."""
    texts = []
    for key in held:
        rel = latents_file(info, index, key)
        found = digests.header(dataset_root, rel, FRAME_INDEX_KEY)
        if found is None:
            return {"latents_keys": None, "latents_files": None}
        header, frames = found
        meta = header.get("__metadata__") or {}
        try:
            shape = [int(n) for n in header[LATENTS_KEY]["shape"]]
            derived = latent_frame_indices(length, float(info.fps), float(meta["rate_hz"]))
        except (KeyError, TypeError, ValueError):
            return {"latents_keys": None, "latents_files": None}
        if not (shape and shape[0] == len(derived) and np.array_equal(frames.reshape(-1), derived)):
            return {"latents_keys": None, "latents_files": None}
        texts.append(cataloged(meta, shape, key, index))
    return {"latents_keys": held, "latents_files": texts}
