"""One dataset's entries of a split indexed, and the index assembled from them (`training.episodes.build_index`):
columns of typed arrays (`training.episode_table.Columns`), the values episodes share computed once (a dataset's
action per plan text, its text file per task, the anchors of each (frames, length, to_end)), and what is left out
counted per entry and named in the report in the entries' order, as the loop over entries did (issue 99).

Where a sample of an episode may anchor (its latent frames, `training.episodes`): the anchors and their future
latents by the chunk and the future offset (`anchors`), and whether that future must sit exactly at the chunk's end
(`exact_future`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from adapters.storage.corpus_files import CorpusFiles
from schemas.actions import ActionSpace, routed_tier
from schemas.canonical import Camera
from schemas.captions import TEXT_FORMAT, text_embedding_file
from schemas.corpus import EpisodeLineage
from schemas.image_latents import LATENTS_DIR
from schemas.json_document import parsed_json
from schemas.lerobot import EPISODES_PATH, INFO_PATH, TASKS_PATH, InfoJson
from schemas.manifest import Manifest
from schemas.tiers import QualityTier
from training.actions import EpisodeAction, episode_action
from training.config import DataConfig, ModelConfig
from training.entry_lines import EntryLines
from training.episode_latents import Listing, dataset_cameras, episode_latents, maybe_latents
from training.episode_table import TIER_CODES, Columns, EpisodeTable, layout
from training.errors import DataError
from training.index_report import IndexReport
from training.routing import anchors_to_end

log = logging.getLogger("training.episodes")  # the index's one logger, as before the split

NO_LATENTS = "no latents for cameras"  # an episode left out for it: `eidata latents` is the next command


def anchors(
    frames: np.ndarray, length: int, chunk: int, future_offset: int, *, to_end: bool = False, exact: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(anchor, future) latent indices. An anchor t = frames[anchor] with t + chunk <= length and a latent frame at
    t + future_offset (`exact`) or at or after it has that frame as its future; with `to_end` every t < length is also
    an anchor, with future -1 where it has none (it can only train tasks without the future latent)."""
    target = frames + future_offset
    fut = np.searchsorted(frames, target, side="left")
    found = fut < len(frames)
    if exact:
        found &= frames[np.minimum(fut, len(frames) - 1)] == target
    has_future = (frames + chunk <= length) & found
    idx = np.flatnonzero((frames < length) if to_end else has_future)
    return idx, np.where(has_future[idx], fut[idx], -1)


def exact_future(model: ModelConfig, data: DataConfig) -> bool:
    """Whether the future latent must sit exactly `future_offset` frames after the anchor: yes when it is the frame
    the action chunk ends on (future_offset == chunk, the default 16).

    Chunks end on latent frames (audit S13), as in LDA: its forward dynamics is p(o_{t+1:t+k} | o_t, a_{t+1:t+k})
    (seed 001, section 4: the future observation is where the given chunk ends), and its action head encodes the
    future image from frames the loader decodes at run time (`encode_future_img` in
    lda/model/modules/action_model/MMDiT_ActionHeader.py, read in the Coldilger/LDA-1B fork of jiangranlv/LDA-1B),
    picked by one run-wide integer `future_obs_index` (16 in the post-training scripts of the forks we read; its unit
    in LDA's loader is not verified here): one gap for every sample. Latents are stored at a lower rate; at 3 Hz (the
    nearest frames of the 10 Hz stream: strides 3, 4, 3), where "the first latent at or after t + 16" is 16 to 19
    frames on, a gap the model is not told and the chunk does not cover. So a future-latent sample anchors only where
    a latent frame sits exactly at t + 16: the gap is constant and needs no model input. The cost: at 3 Hz one anchor
    in three has such a frame (the default 2.5 Hz and 5 Hz, whose strides divide 16, keep them all); policy-only anchors
    are unaffected. Another offset (LAM pretraining pairs, `--lam-stride`, LARA's stride) keeps the first latent at or
    after it: a pair has no action chunk whose end it must match."""
    return data.future_offset == model.chunk


def read_text_width(path: Path | str, files: CorpusFiles) -> int:
    try:
        header = files.safetensors_meta(path, None)[0]
        meta, shape = header.get("__metadata__") or {}, tuple(header["hidden_states"]["shape"])
    except (OSError, KeyError, RuntimeError, ValueError) as e:
        raise DataError(f"{path}: unreadable text-embedding file ({e})") from e
    if meta.get("format") != TEXT_FORMAT:
        raise DataError(f"{path}: metadata format {meta.get('format')!r}, expected {TEXT_FORMAT!r}")
    if len(shape) != 2:
        raise DataError(f"{path}: hidden_states shape {shape}, expected [tokens, width]")
    return int(shape[1])


def text_task_index(line: dict[str, Any], tasks: dict[str, int]) -> int | None:
    """The caption's task if a caption job added one, else the episode's first task (common brief's contract)."""
    caption = EpisodeLineage.of(line).caption
    if isinstance(caption, dict) and caption.get("task_index") is not None:
        return int(caption["task_index"])
    first = (line.get("tasks") or [None])[0]
    return tasks.get(first) if first is not None else None


class DatasetMeta:
    """What the index needs from the dataset `rel`'s meta, read once (from a bucket: the meta files, one listing):
    its info and tasks, and its latents folders' listing (`training.episode_latents`: a file the catalog knows is
    looked up there, where it is not changed since the catalog was written, `written_ns`)."""

    def __init__(self, rel: str, files: CorpusFiles, cameras: list[Camera], written_ns: int) -> None:
        self.rel, self.root, self.files = rel, files.join(rel), files
        files.list_dataset(self.root)
        info = files.join(rel, INFO_PATH)
        try:
            body = files.read_bytes(info)
        except FileNotFoundError:
            raise DataError(f"{self.root}: no {INFO_PATH}; the manifest names a dataset that is not there") from None
        self.info = InfoJson.model_validate(parsed_json(body, str(info)))
        self.cameras = dataset_cameras(cameras, self.info)  # the configured cameras it has, in their order
        self.keys = dict(self.cameras)  # camera -> its video key
        self._tasks: dict[str, int] | None = None
        self.listing = Listing(written_ns)
        self.checked: set[tuple[int, str, int, float, float]] = set()  # catalog files checked (`episode_latents`)
        self.actions: dict[int, EpisodeAction | DataError] = {}  # plan code -> the action of its episodes
        self.text_paths: dict[int, Path | str | None] = {}  # plan code -> its episodes' text-embedding file

    @property
    def tasks(self) -> dict[str, int]:
        """task -> task_index of its tasks.jsonl, read when an episode first needs it (its text embedding's task):
        a dataset none of whose episodes is indexed reads none."""
        if self._tasks is None:
            self._tasks = {}
            if self.files.is_file(path := self.files.join(self.rel, TASKS_PATH)):
                self._tasks = {obj["task"]: int(obj["task_index"]) for _, obj in self.files.jsonl(path)}
        return self._tasks


class IndexBuild:
    """The index being built over the split's `entries` (`training.episodes._Entries`) and their `lines`: `dataset`
    indexes one run of one dataset's entries; `table`, `samples` and `report` are the index once every run is."""

    def __init__(
        self,
        files: CorpusFiles,
        manifest: Manifest,
        model: ModelConfig,
        data: DataConfig,
        entries: Any,
        lines: EntryLines,
    ) -> None:
        self.files, self.manifest, self.model, self.data, self.entries, self.lines = (
            files,
            manifest,
            model,
            data,
            entries,
            lines,
        )
        self.cameras = [Camera(c) for c in data.cameras]
        self.exact = exact_future(model, data)
        self.cols = Columns()
        self.report = IndexReport()
        self.datasets: dict[str, int] = {}  # dataset -> its dataset_id, in the order its first episode is indexed
        self.layouts: list[InfoJson] = []
        self.actions: dict[tuple[Any, ...], int] = {}  # one EpisodeAction per distinct action: shared by episodes
        self.action_list: list[EpisodeAction] = []
        self.camera_ids: dict[tuple[str, str], int] = {}
        self.frame_ids: dict[bytes, int] = {}
        self.frames: list[np.ndarray] = []
        self.text_ids: dict[Path | str, int] = {}
        self.text_widths: dict[Path | str, int] = {}
        self.has_text: dict[Path | str, bool] = {}
        self.ends: dict[QualityTier, bool] = {}  # tier -> whether its episodes anchor to their end (`anchors_to_end`)
        self.routed: dict[tuple[int, int], int] = {}  # (tier code, action id) -> routed tier code
        # (frames id, length, to_end) -> code of (anchor, future, anchors without their exact future): episodes of
        # one length at one rate share them (the catalog's frames are one array per length, fps and rate)
        self.shapes: dict[tuple[int, int, bool], int] = {}
        self.made: list[tuple[np.ndarray, np.ndarray, int]] = []
        self.reasons: dict[str, int] = {f"{NO_LATENTS} {[c.value for c in self.cameras]}": 0}  # why left out
        self.reason = np.full(len(entries.index), -1, np.int32)  # per entry, the code of why it is left out

    def dataset(self, a: int, b: int) -> int:
        """Entries a..b (one dataset's) indexed; the frames of those with latents."""
        e, lines, files = self.entries, self.lines, self.files
        d = int(e.dataset[a])
        rel = e.names[d]
        if lines.cataloged[d] and files.storage.local and not os.path.isdir(files.join(rel, LATENTS_DIR)):
            return self._without_latents(rel, a, b)
        meta = DatasetMeta(rel, files, self.cameras, lines.written_ns)
        if not lines.cataloged[d]:
            lines.read_meta(files, rel, np.arange(a, b), e.index[a:b])
        self._lines_found(rel, a, b)
        maybe = maybe_latents(files, rel, meta.info, meta.listing, meta.cameras, e.index[a:b])
        self.reason[a:b][~maybe] = 0
        frames = 0
        for row in (a + np.flatnonzero(maybe)).tolist():
            index, length = int(e.index[row]), int(lines.length[row])
            known = lines.known(int(lines.files[row]))
            found = episode_latents(
                files, rel, meta.info, known, meta.listing, index, length, meta.cameras, self.model, meta.checked
            )
            if found is None:
                self.reason[row] = 0
                continue
            frames += length
            self._episode(meta, row, index, length, found)
        return frames

    def _without_latents(self, rel: str, a: int, b: int) -> int:
        """Entries a..b of a local dataset the catalog describes that has no latents folder: each left out for it,
        its info.json not parsed (at 1M, 3 of 4 datasets: issue 99); 0 frames."""
        if not self.files.is_file(self.files.join(rel, INFO_PATH)):
            raise DataError(f"{self.files.join(rel)}: no {INFO_PATH}; the manifest names a dataset that is not there")
        self._lines_found(rel, a, b)
        self.reason[a:b] = 0
        return 0

    def _lines_found(self, rel: str, a: int, b: int) -> None:
        """Every entry a..b has its line, else a DataError naming the first without."""
        if len(missing := np.flatnonzero(self.lines.plan[a:b] < 0)):
            row, e = a + int(missing[0]), self.entries
            raise DataError(
                f"{self.files.join(rel, EPISODES_PATH)}: no episode {e.index[row]} "
                f"(manifest entry {e.uid[row].as_py()})"
            )

    def _episode(
        self, meta: DatasetMeta, row: int, index: int, length: int, found: tuple[str, Any, np.ndarray]
    ) -> None:
        """Entry `row` (episode `index` of `meta`'s dataset, `length` frames, its latents `found`) indexed, or why
        not counted."""
        e, code = self.entries, int(self.lines.plan[row])
        if (action_id := meta.actions.get(code)) is None:
            action_id = meta.actions[code] = self._action(meta, code, index, length, row)
        if isinstance(action_id, DataError):  # left out, named: the run goes on with the episodes that say their action
            uid = e.uid[row].as_py()
            log.warning("%s: episode %s (%s): %s", self.files.join(meta.rel, EPISODES_PATH), index, uid, action_id)
            self.reason[row] = self.reasons.setdefault(str(action_id), len(self.reasons))
            return
        action = self.action_list[action_id]
        tier = int(e.tier_code[row])
        if (routed := self.routed.get((tier, action_id))) is None:
            routed = self.routed[tier, action_id] = TIER_CODES.index(routed_tier(TIER_CODES[tier], action.kind))
        if (to_end := self.ends.get(TIER_CODES[routed])) is None:
            to_end = self.ends[TIER_CODES[routed]] = anchors_to_end(self.manifest.routing, TIER_CODES[routed])
        camera, _, frames = found
        if (frames_id := self.frame_ids.get(key := frames.tobytes())) is None:
            frames_id = self.frame_ids[key] = len(self.frames)
            self.frames.append(frames)
        if (shape := self.shapes.get((frames_id, length, to_end))) is None:
            shape = self.shapes[frames_id, length, to_end] = len(self.made)
            self.made.append(self._anchors(frames, length, to_end))
        anchor, _, inexact = self.made[shape]
        self.report.inexact_future += inexact
        if not len(anchor):
            need = f"a {self.model.chunk}-step chunk and a latent frame at exactly +{self.data.future_offset}"
            why = "no latent frame inside the episode" if to_end else f"too short for {need}"
            self.reason[row] = self.reasons.setdefault(why, len(self.reasons))
            return
        if code not in meta.text_paths:
            meta.text_paths[code] = self._text(meta, code, index, length, row)
        text = meta.text_paths[code]
        if text is None:
            self.report.without_text += 1
        report = self.report
        report.kinds[action.kind.value] += 1
        report.demoted += int(TIER_CODES[routed] is not TIER_CODES[tier])
        if action.space is ActionSpace.native:
            report.native_widths[action.native_width] += 1
        report.cameras[camera] += 1
        cols = self.cols
        cols.entry.append(row)
        # a dataset counts once one of its episodes is in (its statistics index by it)
        if (dataset_id := self.datasets.get(meta.rel)) is None:
            dataset_id = self.datasets[meta.rel] = len(self.layouts)
            self.layouts.append(layout(meta.info))
        cols.dataset_id.append(dataset_id)
        cols.action_id.append(action_id)
        cols.routed.append(routed)
        cols.camera_id.append(self.camera_ids.setdefault((camera, meta.keys[camera]), len(self.camera_ids)))
        cols.frames_id.append(frames_id)
        cols.text_id.append(-1 if text is None else self.text_ids.setdefault(text, len(self.text_ids)))
        cols.shape.append(shape)

    def _action(self, meta: DatasetMeta, code: int, index: int, length: int, row: int) -> int | DataError:
        """The action id of the episodes of plan `code` (one action per distinct action), or why it has none."""
        line = self.lines.line(code, index, length, self.entries.uid[row].as_py())
        try:
            action = episode_action(line, meta.info, self.model.native_dim)
        except DataError as err:
            return err
        key = (action.kind, action.space, action.canonical.tobytes(), action.native_width, action.state_width)
        if (found := self.actions.get(key)) is None:
            found = self.actions[key] = len(self.action_list)
            self.action_list.append(action)
        return found

    def _anchors(self, frames: np.ndarray, length: int, to_end: bool) -> tuple[np.ndarray, np.ndarray, int]:
        """(anchor, future, anchors without their exact future) of an episode of `frames`, `length`."""
        model, data = self.model, self.data
        anchor, future = anchors(frames, length, model.chunk, data.future_offset, to_end=to_end, exact=self.exact)
        inexact = 0
        if self.exact:
            loose = anchors(frames, length, model.chunk, data.future_offset, to_end=to_end)[1]
            inexact = int((loose >= 0).sum() - (future >= 0).sum())
        return anchor, future, inexact

    def _text(self, meta: DatasetMeta, code: int, index: int, length: int, row: int) -> Path | str | None:
        """The text-embedding file of the episodes of plan `code` (its task's), None where there is none."""
        line = self.lines.line(code, index, length, self.entries.uid[row].as_py())
        task_index = text_task_index(line, meta.tasks)
        if task_index is None:
            return None
        tpath = self.files.join(meta.rel, text_embedding_file(task_index))
        if tpath not in self.has_text:  # a dataset's task's file, looked for once
            self.has_text[tpath] = self.files.is_file(tpath)
        if not self.has_text[tpath]:
            return None
        if tpath not in self.text_widths:
            self.text_widths[tpath] = read_text_width(tpath, self.files)
        return tpath

    def table(self) -> EpisodeTable:
        cols, e = self.cols, self.entries
        entry = cols.array("entry")
        return EpisodeTable(
            files=self.files,
            datasets=list(self.datasets),
            layouts=self.layouts,
            uid=e.uid.take(pa.array(entry)),
            dataset_id=cols.array("dataset_id"),
            episode_index=e.index[entry],
            tier=e.tier_code[entry],
            routed=cols.array("routed"),
            weight=e.weight[entry],
            length=self.lines.length[entry],
            action_id=cols.array("action_id"),
            actions=self.action_list,
            camera_id=cols.array("camera_id"),
            cameras=list(self.camera_ids),
            frames_id=cols.array("frames_id"),
            frames=self.frames,
            text_id=cols.array("text_id"),
            texts=list(self.text_ids),
        )

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sample_episode, sample_anchor, sample_future): each episode's anchors in order, episode after episode."""
        shape = self.cols.array("shape")
        sizes = np.array([len(a) for a, _, _ in self.made], np.int64)
        counts = sizes[shape]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        flat = [np.concatenate([m[k] for m in self.made]).astype(np.int64) for k in (0, 1)]
        before = np.cumsum(counts) - counts  # the episode's first sample
        rows = np.repeat(starts[shape] - before, counts) + np.arange(int(counts.sum()), dtype=np.int64)
        return np.repeat(np.arange(len(shape), dtype=np.int64), counts), flat[0][rows], flat[1][rows]

    def left_out(self) -> None:
        """The report's left-out episodes by reason, in the order each reason first occurs among the entries, with
        its first three (as the loop over entries counted them)."""
        reasons = list(self.reasons)
        rows = np.flatnonzero(self.reason >= 0)
        codes, first, counts = np.unique(self.reason[rows], return_index=True, return_counts=True)
        for j in np.argsort(first, kind="stable").tolist():
            reason = reasons[int(codes[j])]
            self.report.skipped[reason] = int(counts[j])
            examples = rows[self.reason[rows] == codes[j]][:3]
            self.report.skipped_examples[reason] = [self.entries.uid[int(r)].as_py() for r in examples]
