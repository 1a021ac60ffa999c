"""Which latents file an episode trains from and the frames it holds (DESIGN.md section 5), for train's index
(`training.episodes`): from the catalog's `latents_keys` and `latents_files` where it knows the episode's files
(issue 99: no file looked for, no header read; the rows of `frame_index` are those `eidata latents` writes,
`latent_frame_indices` of the length, fps and rate, which the catalog's rebuild checked against each file), else from
each configured camera's file looked for and its header read, as before. Either way the file's metadata and shape are
checked against the latents contract and the model."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from adapters.storage.corpus_files import CorpusFiles
from schemas.canonical import Camera, image_key
from schemas.image_latents import LATENTS_FORMAT, from_catalog, latent_frame_indices, latents_file
from schemas.lerobot import InfoJson
from training.config import ModelConfig
from training.errors import DataError


class Listing:
    """A dataset's local folders, each listed once with its files' times: a plan takes the catalog's word for a
    latents file only where the file is there and unchanged since the catalog was written (`since_ns`, its parts'
    time: the rebuild read every file older), so that a file removed or written again since (by hand, by a run
    stopped before its catalog refresh) is not planned as the catalog says; one listing a folder and a stat a file
    where each was looked for and opened (`training.episode_latents`, `jobs.stages.latents_plan`)."""

    ABSENT, CATALOGED, CHANGED = "absent", "cataloged", "changed"  # a file's state by `state`

    def __init__(self, since_ns: int) -> None:
        self.since_ns = since_ns
        self._times: dict[str, dict[str, int]] = {}  # folder -> its files' modification times

    def state(self, path: Path | str) -> str:
        """ABSENT, CATALOGED (there, older than the catalog) or CHANGED (written since)."""
        folder, _, name = str(path).rpartition("/")
        if (mtime := self.times(folder).get(name)) is None:
            return self.ABSENT
        return self.CATALOGED if mtime < self.since_ns else self.CHANGED

    def times(self, folder: str) -> dict[str, int]:
        """The files of a local folder (none where it is not there) and their modification times, listed once."""
        times = self._times.get(folder)
        if times is None:
            times = self._times[folder] = {}
            try:
                with os.scandir(folder) as found:
                    for entry in found:
                        try:
                            times[entry.name] = entry.stat().st_mtime_ns
                        except FileNotFoundError:
                            continue
            except (FileNotFoundError, NotADirectoryError):
                pass
        return times


def episode_latents(
    files: CorpusFiles,
    rel: str,
    info: InfoJson,
    known: Mapping[str, Mapping[str, Any]] | None,
    listing: Listing,
    index: int,
    length: int,
    keys: list[tuple[str, str]],
    model: ModelConfig,
    checked: set[tuple[int, str, int, float, float]] | None = None,
) -> tuple[str, Path | str, np.ndarray] | None:
    """(camera, latents file, its frame indices) of the first of `keys` ((camera, its video key) of the configured
    cameras the dataset has: `dataset_cameras`) whose latents file episode `index` of the dataset `rel` (its `info`;
    `length` frames) has, checked against the model; None when none has one. `known`: the
    catalog's files of the episode (video key -> `schemas.image_latents.cataloged`'s text, parsed), None where the
    catalog does not know them: each file is then looked for and its header read. Where it knows them, a file is
    looked up in `listing` (one listing a folder): one absent is not there, one written since the catalog or that
    the catalog does not name has its header read. `checked`: the (catalog text, key, length, fps, rate) whose
    derived frames and shape were checked already (one check for the episodes that share them)."""
    for camera, key in keys:
        path = files.join(rel, latents_file(info, index, key))
        if known is None:  # the catalog does not know the episode's files
            if files.is_file(path):
                return camera, path, read_latents_header(path, model, files)
            continue
        if (state := listing.state(path)) == Listing.ABSENT:
            continue
        if state == Listing.CHANGED or (text := known.get(key)) is None:  # not as the catalog read it: its header read
            return camera, path, read_latents_header(path, model, files)
        meta, rest = from_catalog(text, key, index)
        frames = derived_frames(length, fps := float(info.fps), rate := float(meta["rate_hz"]))
        if checked is None or (done := (id(text), key, length, fps, rate)) not in checked:
            checked_latents(path, meta, (len(frames), *rest), frames, model)
            if checked is not None:
                checked.add(done)
        return camera, path, frames
    return None


def maybe_latents(
    files: CorpusFiles, rel: str, info: InfoJson, listing: Listing, keys: list[tuple[str, str]], indices: np.ndarray
) -> np.ndarray:
    """Per episode of `indices` (of the dataset `rel`), whether it may have a latents file of one of `keys`: the
    folder of its chunk of one of them holds a file. Of a local corpus one listing a folder, so that the episodes of
    a dataset with no latents are skipped without a path made for each (issue 99); of a bucket every episode."""
    if not files.storage.local:
        return np.ones(len(indices), bool)
    out = np.zeros(len(indices), bool)
    chunks = indices // info.chunks_size
    for chunk in np.unique(chunks):
        first = int(indices[np.argmax(chunks == chunk)])
        folders = [str(files.join(rel, latents_file(info, first, key))).rpartition("/")[0] for _, key in keys]
        if any(listing.times(folder) for folder in folders):
            out[chunks == chunk] = True
    return out


def dataset_cameras(cameras: list[Camera], info: InfoJson) -> list[tuple[str, str]]:
    """(camera, video key) of each of `cameras` the dataset of `info` has a video of, in the order of `cameras`."""
    video_keys = set(info.video_keys)
    return [(cam.value, key) for cam in cameras if (key := image_key(cam)) in video_keys]


def read_latents_header(path: Path | str, model: ModelConfig, files: CorpusFiles) -> np.ndarray:
    """The stored frame indices, after checking the file against the latents contract and the model's shapes; read
    from its header and `frame_index` alone (a bucket's by ranged reads)."""
    try:
        header, values = files.safetensors_meta(path, "frame_index")
        meta, shape = header.get("__metadata__") or {}, tuple(header["latents"]["shape"])
        frames = values.astype(np.int64).reshape(-1)
    except (OSError, KeyError, RuntimeError, ValueError) as e:
        raise DataError(f"{path}: unreadable latents file ({e})") from e
    return checked_latents(path, meta, shape, frames, model)


def checked_latents(
    path: Path | str, meta: Mapping[str, str], shape: tuple[int, ...], frames: np.ndarray, model: ModelConfig
) -> np.ndarray:
    """`frames`, the frame indices of the latents file at `path` (its metadata `meta`, its latents' `shape`), once
    the file is checked against the latents contract and the model's shapes."""
    if meta.get("format") != LATENTS_FORMAT:
        raise DataError(f"{path}: metadata format {meta.get('format')!r}, expected {LATENTS_FORMAT!r}")
    want = (len(frames), model.latent_grid**2, model.latent_dim)
    if shape != want:
        raise DataError(f"{path}: latents shape {shape}, expected {want} (frame_index has {len(frames)} rows)")
    if len(frames) and np.any(np.diff(frames) <= 0):
        raise DataError(f"{path}: frame_index is not strictly increasing")
    return frames


@lru_cache(maxsize=1 << 16)
def derived_frames(length: int, fps: float, rate_hz: float) -> np.ndarray:
    """The frame indices `eidata latents` stores for an episode of `length` frames at `fps` and `rate_hz`
    (`latent_frame_indices`), one read-only array for every episode that has them."""
    frames = latent_frame_indices(length, fps, rate_hz)
    frames.flags.writeable = False
    return frames
