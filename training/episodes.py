"""The sample index of a manifest split: which episodes train, from which files, and every (episode, t) sample.

A sample is anchored at a frame t that has image latents (stored at a lower rate than the 10 Hz stream, DESIGN.md
section 5). A task that uses the future latent needs the chunk t .. t+K-1 inside the episode and a latent frame
exactly at its end, t + future_offset (`exact_future`, audit S13). When the episode's routing row gives mass to a task
without the future latent (policy, `training.routing.NO_FUTURE`), every latent frame up to the episode's last is an
anchor (as GR00T's loader, which pads past-the-end action indices, LDA audit S7), with `sample_future = -1` where it
has no future (its chunk's steps past the end are masked in the loss, `training.dataset`). Episodes that cannot give a
sample (no latents for any configured camera, too short, no action mask, a native command wider than the model's
native block: `training.actions`) are skipped, counted by reason in the `IndexReport` and logged; the build fails only
when nothing is left, naming the next command. `datasets` lists those with an episode in the index (they need
statistics). No text-embedding file: the null text token. Dataset paths are relative to the corpus root
(`<corpus>/manifests/<name>/`), maybe a bucket (reads meta, listings, latent headers)."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from adapters.storage.corpus import Corpus
from adapters.storage.corpus_files import CorpusFiles
from ingest.progress import Progress
from schemas.actions import ActionSpace, routed_tier
from schemas.canonical import Camera
from schemas.captions import TEXT_FORMAT, text_embedding_file
from schemas.corpus import LINEAGE_KEY, EpisodeLineage
from schemas.episode_lines import PlanLines, plan_fields
from schemas.json_document import parsed_json
from schemas.lerobot import EPISODES_PATH, INFO_PATH, TASKS_PATH, InfoJson
from schemas.manifest import MANIFEST_JSON, Manifest, Split, check_entries
from schemas.storage import StorageOptions
from schemas.tiers import QualityTier
from training.actions import EpisodeAction, episode_action
from training.config import DataConfig, ModelConfig
from training.episode_latents import Listing, dataset_cameras, episode_latents
from training.errors import DataError
from training.index_report import IndexReport
from training.routing import anchors_to_end

log = logging.getLogger(__name__)

TIERS: list[QualityTier] = [QualityTier.high, QualityTier.low, QualityTier.actionless]
NO_LATENTS = "no latents for cameras"  # an episode left out for it: `eidata latents` is the next command


@dataclass(frozen=True, slots=True)
class EpisodeRecord:
    uid: str
    dataset_id: int
    episode_index: int
    tier: QualityTier  # the manifest's
    routed: QualityTier  # the tier whose routing row it draws from (`schemas.actions.routed_tier` of its kind)
    weight: float
    length: int
    action: EpisodeAction  # its kind, the space it trains in, its canonical mask and native widths
    data_path: Path | str  # a local path, or an object's URL (read through `SampleIndex.files`)
    latents_path: Path | str
    camera: str
    latent_frames: np.ndarray  # [N] int64 frame index of each stored latent
    text_path: Path | str | None


@dataclass
class SampleIndex:
    files: CorpusFiles  # how the corpus's files are read (in place, or a bucket's through the local cache)
    manifest: Manifest
    split: Split
    datasets: list[str]  # relative to the corpus root; dataset_id indexes this list
    episodes: list[EpisodeRecord]
    sample_episode: np.ndarray  # [N] int64
    sample_anchor: np.ndarray  # [N] int64 index into the episode's latent_frames (frame t)
    sample_future: np.ndarray  # [N] int64 index of the future latent, -1 where none (policy-only anchor)
    text_dim: int | None
    report: IndexReport

    def __len__(self) -> int:
        return len(self.sample_episode)

    def sample_weights(self) -> np.ndarray:
        """Sampling mass per sample, by the manifest's `weight_unit` (schemas.manifest.WeightUnit).

        frame: each balance group keeps the total of its episodes' weights (the share curate reports) and spreads it
        over its samples in proportion to their episode's weight, so with equal weights every anchor of a group is
        equally likely whatever its episode's length. episode: an episode's weight is its total mass, shared by its
        samples (short episodes' anchors drawn length-ratio times as often)."""
        counts = np.bincount(self.sample_episode, minlength=len(self.episodes))
        w = np.array([e.weight for e in self.episodes])
        if self.manifest.weight_unit == "episode":
            return w[self.sample_episode] / counts[self.sample_episode]
        groups = np.unique([balance_group(e.uid, self.manifest.balance) for e in self.episodes], return_inverse=True)[1]
        group_weight = np.bincount(groups, weights=w)  # the group's mass
        group_density = np.bincount(groups, weights=w * counts)  # sum of per-sample densities in the group
        return (w * group_weight[groups] / group_density[groups])[self.sample_episode]

    def source_shares(self) -> dict[str, tuple[float, float]]:
        """source -> (share of the sampling mass, share of the episode frames): what a run trains on vs the hours."""
        mass = np.bincount(self.sample_episode, weights=self.sample_weights(), minlength=len(self.episodes))
        sources = [e.uid.split("/", 1)[0] for e in self.episodes]
        frames = np.array([e.length for e in self.episodes], dtype=np.float64)
        return {
            s: (float(mass[m].sum() / mass.sum()), float(frames[m].sum() / frames.sum()))
            for s in sorted(set(sources))
            for m in [np.array([x == s for x in sources])]
        }


def balance_group(uid: str, balance: str) -> str:
    """The group an episode's weight was balanced in by curate: its source, its source/subset, or the whole manifest
    (uid = source/subset/raw id, schemas.corpus.episode_uid)."""
    if balance == "none":
        return ""
    parts = uid.split("/", 2)
    return parts[0] if balance == "source" else "/".join(parts[:2])


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


def _text_task_index(line: dict[str, Any], tasks: dict[str, int]) -> int | None:
    """The caption's task if a caption job added one, else the episode's first task (common brief's contract)."""
    caption = EpisodeLineage.of(line).caption
    if isinstance(caption, dict) and caption.get("task_index") is not None:
        return int(caption["task_index"])
    first = (line.get("tasks") or [None])[0]
    return tasks.get(first) if first is not None else None


class _DatasetMeta:
    """What the index needs from the dataset `rel`'s meta, read once (from a bucket: the meta files, one listing):
    its info and tasks, and the lines of `episodes` (their length, tasks, and of their lineage the action mask, kind
    and caption: `training.actions.episode_action`, `_text_task_index`) as the catalog holds them (`planned`,
    `adapters.storage.plan_lines`), else from its `episodes.jsonl`, the other lines unparsed
    (`schemas.episode_lines`), each cut to the plan's fields; and the catalog's latents files of those lines
    (`PlanLines.latents`: `training.episode_latents` looks for no file of an episode they know)."""

    def __init__(
        self, rel: str, files: CorpusFiles, episodes: set[int], planned: Mapping[int, Any] | None, cameras: list[Camera]
    ) -> None:
        self.rel, self.root, self.files = rel, files.join(rel), files
        files.list_dataset(self.root)
        info = files.join(rel, INFO_PATH)
        try:
            body = files.read_bytes(info)
        except FileNotFoundError:
            raise DataError(f"{self.root}: no {INFO_PATH}; the manifest names a dataset that is not there") from None
        self.info = InfoJson.model_validate(parsed_json(body, str(info)))
        self.cameras = dataset_cameras(cameras, self.info)  # the configured cameras it has, in their order
        if planned is None:
            read = files.jsonl(files.join(rel, EPISODES_PATH), episodes)
            planned = {int(obj["episode_index"]): plan_fields(obj, LINEAGE_KEY) for _, obj in read}
        self.lines: Mapping[int, Any] = planned
        self._tasks: dict[str, int] | None = None
        # of each planned episode, its latents files as the catalog holds them (None: not known, read the files)
        self.cataloged = planned.latents if isinstance(planned, PlanLines) else {}
        # the dataset's latents folders, listed where the catalog knows their files
        self.listing = Listing(planned.written_ns if isinstance(planned, PlanLines) else 0)

    @property
    def tasks(self) -> dict[str, int]:
        """task -> task_index of its tasks.jsonl, read when an episode first needs it (its text embedding's task):
        a dataset none of whose episodes is indexed reads none."""
        if self._tasks is None:
            self._tasks = {}
            if self.files.is_file(path := self.files.join(self.rel, TASKS_PATH)):
                self._tasks = {obj["task"]: int(obj["task_index"]) for _, obj in self.files.jsonl(path)}
        return self._tasks

    def latents(
        self, files: CorpusFiles, index: int, length: int, model: ModelConfig
    ) -> tuple[str, Path | str, np.ndarray] | None:
        """(camera, latents file, its frame indices) of the first of the cameras whose file episode `index` has, or
        None (`training.episode_latents`: from the catalog where it knows the episode's files)."""
        known = self.cataloged.get(index)
        return episode_latents(files, self.rel, self.info, known, self.listing, index, length, self.cameras, model)


def build_index(
    manifest_dir: Path | str,
    split: Split,
    model: ModelConfig,
    data: DataConfig,
    *,
    storage: StorageOptions | None = None,
    files: CorpusFiles | None = None,
) -> SampleIndex:
    """The index of a manifest folder or bucket URL (`storage`: its credentials when not the AWS environment's), read
    through `files` (`CorpusFiles.of_manifest(manifest_dir)`: the manifest as it names it, when given)."""
    if files is None:
        files, manifest_dir = CorpusFiles.of_manifest(
            manifest_dir, storage, cache_dir=data.cache_dir, cache_bytes=data.cache_bytes
        )
    path = f"{manifest_dir}/{MANIFEST_JSON}"
    manifest = Manifest.model_validate(parsed_json(files.read_bytes(path), path))
    # the json's own; ParquetFile, as jobs.catalog.source_findings says why (read_table's dataset path aborts at exit)
    table = pq.ParquetFile(io.BytesIO(files.read_bytes(f"{manifest_dir}/{manifest.entries}"))).read()
    cameras = [Camera(c) for c in data.cameras]
    entries = [e for e in check_entries(table, manifest_dir).to_pylist() if e["split"] == split]
    if not entries:
        raise DataError(f"{manifest_dir}: no entries in split {split!r}")
    named: dict[str, set[int]] = {}  # dataset -> the split's episodes of it: only their lines are read
    for e in entries:
        named.setdefault(e["dataset"], set()).add(int(e["episode_index"]))
    # the lines from the catalog's columns where it has them (a corpus folder): no dataset's episodes.jsonl read
    planned = Corpus(Path(files.root)).plan_lines(named) if files.storage.local else {}
    meta: _DatasetMeta | None = None  # one dataset's meta alive at a time (a manifest is sorted by dataset)
    datasets: dict[str, int] = {}  # dataset -> its dataset_id, in the order its first episode is indexed
    actions: dict[tuple[Any, ...], EpisodeAction] = {}  # one EpisodeAction per distinct action: shared by episodes
    episodes: list[EpisodeRecord] = []
    per_episode: list[tuple[np.ndarray, np.ndarray]] = []
    text_widths: dict[Path | str, int] = {}
    has_text: dict[Path | str, bool] = {}
    text_paths: dict[tuple[str, int], Path | str] = {}  # (dataset, task) -> its text-embedding file
    report = IndexReport()
    exact = exact_future(model, data)
    ends: dict[QualityTier, bool] = {}  # tier -> whether its episodes anchor to their end (`anchors_to_end`)
    # (frames, length, to_end) -> (anchor, future, anchors without their exact future): episodes of one length at one
    # rate share them (the catalog's frames are one array per length, fps and rate)
    made: dict[tuple[bytes, int, bool], tuple[np.ndarray, np.ndarray, int]] = {}
    no_latents = f"{NO_LATENTS} {[c.value for c in cameras]}"
    bar = Progress(len(entries), f"index {manifest.name}/{split}", unit="episodes")
    for e in entries:
        bar.update(1)
        uid, rel = e["episode_uid"], e["dataset"]
        if meta is None or meta.rel != rel:
            meta = _DatasetMeta(rel, files, named[rel], planned.get(rel), cameras)
        line = meta.lines.get(int(e["episode_index"]))
        if line is None:
            raise DataError(f"{files.join(rel, EPISODES_PATH)}: no episode {e['episode_index']} (manifest entry {uid})")
        length = int(line["length"])
        found = meta.latents(files, int(e["episode_index"]), length, model)
        if found is None:
            report.skip(no_latents, uid)
            continue
        camera, lat_path, frames = found
        bar.update(0, frames=length)
        try:
            action = episode_action(line, meta.info, model.native_dim)
        except DataError as err:  # left out, named: the run goes on with the episodes that say their action
            log.warning("%s: episode %s (%s): %s", files.join(rel, EPISODES_PATH), e["episode_index"], uid, err)
            report.skip(str(err), uid)
            continue
        key = (action.kind, action.space, action.canonical.tobytes(), action.native_width, action.state_width)
        action = actions.setdefault(key, action)
        tier = routed_tier(e["tier"], action.kind)
        if (to_end := ends.get(tier)) is None:
            to_end = ends[tier] = anchors_to_end(manifest.routing, tier)
        if (done := made.get(shape := (frames.tobytes(), length, to_end))) is None:
            anchor, future = anchors(frames, length, model.chunk, data.future_offset, to_end=to_end, exact=exact)
            inexact = 0
            if exact:
                loose = anchors(frames, length, model.chunk, data.future_offset, to_end=to_end)[1]
                inexact = int((loose >= 0).sum() - (future >= 0).sum())
            done = made[shape] = (anchor, future, inexact)
        anchor, future, inexact = done
        report.inexact_future += inexact
        if not len(anchor):
            need = f"a {model.chunk}-step chunk and a latent frame at exactly +{data.future_offset}"
            report.skip("no latent frame inside the episode" if to_end else f"too short for {need}", uid)
            continue
        task_index = _text_task_index(line, meta.tasks)
        tpath = None
        if task_index is not None and (tpath := text_paths.get((rel, task_index))) is None:
            tpath = text_paths[rel, task_index] = files.join(rel, text_embedding_file(task_index))
        if tpath is not None and tpath not in has_text:  # a dataset's task's file, looked for once
            has_text[tpath] = files.is_file(tpath)
        if tpath is not None and not has_text[tpath]:
            tpath = None
        if tpath is None:
            report.without_text += 1
        elif tpath not in text_widths:
            text_widths[tpath] = read_text_width(tpath, files)
        report.kinds[action.kind.value] += 1
        report.demoted += int(tier is not QualityTier(e["tier"]))
        if action.space is ActionSpace.native:
            report.native_widths[action.native_width] += 1
        report.cameras[camera] += 1
        # a dataset counts once one of its episodes is in (its statistics index by it)
        dataset_id = datasets.setdefault(rel, len(datasets))
        episodes.append(
            EpisodeRecord(
                uid=uid,
                dataset_id=dataset_id,
                episode_index=int(e["episode_index"]),
                tier=QualityTier(e["tier"]),
                routed=tier,
                weight=float(e["weight"]),
                length=length,
                action=action,
                data_path=files.join(rel, meta.info.data_file(int(e["episode_index"]))),
                latents_path=lat_path,
                camera=camera,
                latent_frames=frames,
                text_path=tpath,
            )
        )
        per_episode.append((anchor, future))
    bar.close()
    widths = set(text_widths.values())
    if len(widths) > 1:
        raise DataError(f"text embeddings of different widths {sorted(widths)} in one manifest: {manifest_dir}")
    report.episodes = len(episodes)
    if not episodes:
        root = str(manifest_dir).rstrip("/").rsplit("/", 2)[0]  # a manifest is ROOT/manifests/NAME
        fix = f"; run `eidata latents {root} --model DIR` first" if NO_LATENTS in " ".join(report.skipped) else ""
        raise DataError(f"{manifest_dir}/{split}: no episode can give a sample ({report.summary()}){fix}")
    sample_episode = np.concatenate([np.full(len(a), i, dtype=np.int64) for i, (a, _) in enumerate(per_episode)])
    index = SampleIndex(
        files=files,
        manifest=manifest,
        split=split,
        datasets=list(datasets),
        episodes=episodes,
        sample_episode=sample_episode,
        sample_anchor=np.concatenate([a for a, _ in per_episode]).astype(np.int64),
        sample_future=np.concatenate([f for _, f in per_episode]).astype(np.int64),
        text_dim=widths.pop() if widths else None,
        report=report,
    )
    report.samples = len(index)
    shares = ", ".join(f"{s} {m:.1%} of samples / {f:.1%} of frames" for s, (m, f) in index.source_shares().items())
    log.info("index %s/%s: %s weights; %s", manifest.name, split, manifest.weight_unit, shares)
    (log.warning if report.skipped else log.info)("index %s/%s: %s", manifest.name, split, report.summary())
    with_future = int((index.sample_future >= 0).sum())
    if report.inexact_future > with_future:
        log.warning(
            "index %s/%s: %d anchors have a latent frame exactly +%d frames on and %d do not: latents stored at a "
            "rate whose frame stride divides %d (5 or 2.5 Hz of 10 Hz) would give every anchor its future",
            manifest.name,
            split,
            with_future,
            data.future_offset,
            report.inexact_future,
            data.future_offset,
        )
    return index
