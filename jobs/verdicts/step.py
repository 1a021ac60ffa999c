"""`eidata verdicts ROOT`: judge what needs the whole corpus and record it where every reader looks.

1. Every dataset's lineage is read: fingerprint, motionless dims, embodiment, tier.
2. `ingest.qa.corpus` finds copies (fingerprint candidates verified on the episodes' signals, read from their parquet
   files) and dims dead against their dataset.
3. Each dataset whose verdicts changed gets one journaled meta update through its writer (`_edited`): the step's
   verdicts beside ingest's, which a rerun replaces, so an episode no longer judged gets its ingest tier back;
   unchanged lines keep their bytes: a rerun with the same thresholds writes nothing.
4. The catalog is rebuilt (same tiers as the lineage; view `verdicts` lists every finding).
The thresholds come from the command line (defaults: `BehaviourConfig`'s), never a spec file, and are stored with each
verdict. `plan` judges (the copy checks as Ray tasks, a block of candidate pairs each: `_on_ray`), `finish` writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from pydantic import Field

from adapters.lerobot_format.files import load_info, read_jsonl
from adapters.storage.corpus import Corpus
from ingest.canonical.limits import canonical_limits
from ingest.lerobot.errors import DatasetError, WriterLockedError
from ingest.lerobot.settled import settled_datasets
from ingest.lerobot.writer import LeRobotWriter, MetaUpdate
from ingest.qa.copies import scale_with_floor
from ingest.qa.corpus import (
    SIGNALS_HELD,
    Block,
    CopyPair,
    Judged,
    Signals,
    copies,
    copy_verdicts,
    dead_verdicts,
    unjudged_verdict,
    verify,
)
from jobs.runtime.options import Opt, job_values, opts
from jobs.runtime.ray_map import windowed
from jobs.runtime.ray_pool import ray_session
from jobs.runtime.stage import CorpusRoot, CorpusStage, RayJob, StageReport
from schemas.behaviour import BehaviourConfig
from schemas.canonical import STATE, STATE_NATIVE
from schemas.corpus import LINEAGE_KEY, EpisodeLineage, tier_fields
from schemas.frozen import Frozen
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH, InfoJson
from schemas.qa import Finding
from schemas.quirks import listing
from schemas.storage import StorageOptions
from schemas.verdicts import STEP, CorpusVerdicts

log = logging.getLogger(__name__)

STEP_THRESHOLDS = (  # the BehaviourConfig fields the step judges with, recorded with each verdict
    "duplicate_candidate_similarity",
    "fingerprint_bands",
    "fingerprint_band_pairings",
    "copy_tolerance",
    "copy_quantile",
    "copy_min_overlap",
    "dead_dims_share",
)


class VerdictsJob(Frozen):
    """`eidata verdicts`: the corpus and the thresholds to judge it with."""

    root: CorpusRoot
    duplicate_candidate_similarity: float = BehaviourConfig.model_fields["duplicate_candidate_similarity"]
    copy_tolerance: float = BehaviourConfig.model_fields["copy_tolerance"]
    copy_quantile: float = BehaviourConfig.model_fields["copy_quantile"]
    copy_min_overlap: float = BehaviourConfig.model_fields["copy_min_overlap"]
    dead_dims_share: float = BehaviourConfig.model_fields["dead_dims_share"]
    dry_run: bool = Field(False, description="judge and print, write nothing")

    def config(self) -> BehaviourConfig:
        return BehaviourConfig(**{k: getattr(self, k) for k in STEP_THRESHOLDS if k in type(self).model_fields})


OPTIONS = (
    Opt(VerdictsJob, "root", ("root",)),
    *opts(VerdictsJob, "duplicate_candidate_similarity", "copy_tolerance", "copy_quantile", "copy_min_overlap"),
    *opts(VerdictsJob, "dead_dims_share", "dry_run"),
)


@dataclass
class Episode:
    dataset_root: Path
    index: int
    length: int
    lineage: EpisodeLineage


@dataclass
class VerdictsSummary(StageReport):
    dry_run: bool = False
    episodes: int = 0
    judged: dict[str, int] = field(default_factory=dict)  # code -> episodes
    changed: int = 0  # episode lines rewritten
    candidates: int = 0
    unjudged_pairs: int = 0  # candidate pairs the fingerprint search left uncompared (identical fingerprints)
    copies: int = 0
    lines: list[str] = field(default_factory=list)  # one per verdict, for the printout

    def summary(self) -> str:
        counts = ", ".join(f"{k} {n}" for k, n in sorted(self.judged.items())) or "none"
        verb = "would rewrite" if self.dry_run else "rewrote"
        return (
            f"verdicts: {self.episodes} episodes; {self.candidates} duplicate candidates by fingerprint"
            f" ({self.unjudged_pairs} pairs left unjudged), {self.copies} verified copies; findings: {counts}; {verb}"
            f" {self.changed} episode lineages"
        )


def _corpus_episodes(corpus: Path) -> list[Episode]:
    out = []
    for ds in settled_datasets(corpus):
        if not (ds / EPISODES_PATH).exists():
            continue
        for _, line in read_jsonl(ds / EPISODES_PATH):
            lin = EpisodeLineage.of(line)
            if lin.episode_uid is not None and lin.tier is not None:  # ours: a foreign dataset has no record to judge
                out.append(Episode(ds, int(line["episode_index"]), int(line.get("length") or 0), lin))
    return out


def _native_names(dataset: Path) -> tuple[str, ...]:
    """The dataset's native state column names (info.json), so a finding names the columns it means."""
    feature = load_info(dataset / INFO_PATH).features.get(STATE_NATIVE)
    return tuple((feature.flat_names() or []) if feature is not None else [])


def _judged(corpus: Path, e: Episode, names: Callable[[Path], tuple[str, ...]] = _native_names) -> Judged:
    b = e.lineage.behaviour
    return Judged(
        episode_uid=e.lineage.episode_uid or "",
        dataset=e.dataset_root.relative_to(corpus).as_posix(),
        embodiment=e.lineage.embodiment or "unknown",
        fingerprint=b.fingerprint if b is not None else None,
        dead_dims=b.dead_dims if b is not None else None,
        native_dead_dims=b.native_dead_dims if b is not None else None,
        frames=e.length,
        raw_fps=None if e.lineage.raw_fps is None else float(e.lineage.raw_fps),
        native_names=names(e.dataset_root) if b is not None and b.native_dead_dims else (),
    )


class _Loader:
    """episode_uid -> `Signals`: the parquet of that episode (read where the corpus keeps it), each column's scale its
    range in the dataset (from the per-episode stats, read once per dataset) raised to its unit's floor
    (`ingest.qa.copies.scale_with_floor`)."""

    def __init__(self, corpus: Corpus, episodes: list[Episode]) -> None:
        self.corpus = corpus
        self.by_uid = {e.lineage.episode_uid: e for e in episodes}
        self.infos: dict[Path, InfoJson] = {}
        self.ranges: dict[Path, dict[str, np.ndarray]] = {}

    def only(self, block: Block) -> _Loader:
        """A loader of the block's episodes alone: what a Ray task is sent (not the whole corpus's lineage)."""
        return _Loader(self.corpus, [self.by_uid[u] for u in dict.fromkeys(u for a, b, _ in block for u in (a, b))])

    def info(self, ds: Path) -> InfoJson:
        if ds not in self.infos:
            self.infos[ds] = load_info(ds / INFO_PATH)
        return self.infos[ds]

    def _range(self, ds: Path, key: str) -> np.ndarray | None:
        if ds not in self.ranges:
            lo: dict[str, np.ndarray] = {}
            hi: dict[str, np.ndarray] = {}
            if (ds / EPISODES_STATS_PATH).exists():
                for _, obj in read_jsonl(ds / EPISODES_STATS_PATH):
                    for k in (STATE, STATE_NATIVE):
                        st = (obj.get("stats") or {}).get(k)
                        if st is None:
                            continue
                        a, b = np.asarray(st["min"], float).ravel(), np.asarray(st["max"], float).ravel()
                        lo[k] = np.minimum(lo[k], a) if k in lo else a
                        hi[k] = np.maximum(hi[k], b) if k in hi else b
            self.ranges[ds] = {k: hi[k] - lo[k] for k in lo}
        return self.ranges[ds].get(key)

    def __call__(self, uid: str) -> Signals:
        e = self.by_uid[uid]
        ds, info = e.dataset_root, self.info(e.dataset_root)
        cols = [k for k in (STATE, STATE_NATIVE) if k in info.features]
        with self.corpus.open_file(ds / info.data_file(e.index)) as f:
            table = pq.read_table(f, columns=cols)
        names: list[str] = []
        values: list[np.ndarray] = []
        scales: list[np.ndarray] = []
        for k in cols:
            v = np.stack(table[k].to_numpy(zero_copy_only=False)).astype(np.float64)
            rng = self._range(ds, k)
            rng = np.ptp(v, axis=0) if rng is None or len(rng) != v.shape[1] else rng
            if k == STATE:
                mask = np.asarray(e.lineage.mask or [0] * v.shape[1], bool)
                used = np.flatnonzero(mask)
                units = canonical_limits(mask).units
                names += [f"canonical.{d}" for d in used]
                values.append(v[:, used])
                scales.append(scale_with_floor(rng[used], tuple(units[d] for d in used)))
            else:
                native = info.features[k].flat_names() or [str(i) for i in range(v.shape[1])]
                names += [f"native.{n}" for n in native]
                values.append(v)
                scales.append(scale_with_floor(rng))
        return Signals(tuple(names), np.concatenate(values, axis=1), np.concatenate(scales))


def _on_ray(
    loader: _Loader, config: BehaviourConfig, address: str | None, todo: list[Block]
) -> Iterator[list[CopyPair]]:
    """The blocks verified as Ray tasks (`ingest.qa.corpus.verify`, one CPU each, each sent only its block's
    episodes), results in block order (`jobs.runtime.ray_map.windowed`: the driver holds few blocks' results at
    once); a single block is verified here, without starting Ray."""
    if len(todo) < 2:
        yield from (verify(b, loader, config) for b in todo)
        return
    import ray

    with ray_session(address, None, RayJob.model_fields["object_store_mb"].default, preserve_order=None):
        task = ray.remote(num_cpus=1, max_retries=1)(verify)
        cfg = ray.put(config)
        yield from windowed(lambda block: task.remote(block, loader.only(block), cfg), todo)


def _edited(lin: EpisodeLineage, found: list[Finding], config: BehaviourConfig) -> dict[str, Any] | None:
    """The lineage with `found` as the step's verdicts: ingest's kept, the step's replaced (`TierVerdict`s of step
    `verdicts`), the tier and sentences computed from them (`schemas.corpus.tier_fields`); None when that is what it
    already says."""
    if not found and lin.verdicts is None:
        return None  # never judged, nothing found: its lineage stays as ingest wrote it
    default, kept = lin.kept_verdicts()
    out = lin.to_json()
    for key in ("verdicts", "tier_notes", "tier_reasons"):  # recomputed below: none left from the last run
        out.pop(key, None)
    out.update(tier_fields(default, [*(v for v in kept if v.step != STEP), *(f.verdict(STEP) for f in found)]))
    if found:
        thresholds = {k: float(getattr(config, k)) for k in STEP_THRESHOLDS}
        out["verdicts"] = CorpusVerdicts(step=STEP, thresholds=thresholds, found=found)
    out = EpisodeLineage.model_validate(out).to_json()  # the model's key order, whatever the edit's
    return None if out == lin.to_json() else out


def _write(dataset_root: Path, edits: dict[int, dict[str, Any]], lock_timeout_s: float = 60.0) -> int:
    def plan(update: MetaUpdate) -> None:
        for index, new in edits.items():
            update.edit_episode(index, lambda line, new=new: {**line, LINEAGE_KEY: new})

    try:
        return LeRobotWriter.update_meta(dataset_root, plan, lock_wait_s=lock_timeout_s)
    except WriterLockedError as e:
        raise DatasetError(f"{dataset_root}: cannot take the writer lock ({e})") from e


class VerdictsStage(CorpusStage[VerdictsJob, VerdictsSummary]):
    """`eidata verdicts`: judge (`plan`; Ray tasks verify the copies), then write (`finish`); no job lock (each
    dataset's meta update holds its writer's lock; a job lock would add job/verdicts.lock to every corpus it judged)."""

    command = "verdicts"
    locks = False
    job_errors = (DatasetError,)  # a dataset's meta cannot take the verdicts

    def __init__(self, job: VerdictsJob, config: BehaviourConfig | None = None, held: int = SIGNALS_HELD) -> None:
        super().__init__(job, VerdictsSummary(dry_run=job.dry_run))
        # a verdict that quotes a threshold names the option that sets it here (`--copy-tolerance`), not a spec's key
        self.config = (config or job.config()).set_by("eidata verdicts --{flag}")
        self.held = held  # episodes' signals one verification task loads
        self.address: str | None = None
        self.catalog = None if job.dry_run else "verdicts"
        self.edits: dict[Path, dict[int, dict[str, Any]]] = {}

    def run(self, *, address: str | None = None, **kw: Any) -> VerdictsSummary:
        self.address = address  # where the verification's Ray tasks run (`_on_ray`)
        return super().run(address=address, **kw)

    def plan(self, corpus: Corpus) -> list[dict[str, Any]]:
        """Judge every episode of the corpus; the lineage edits wait for `finish`."""
        config, summary = self.config, self.report
        episodes = _corpus_episodes(corpus.root)
        names = cache(_native_names)  # read once per dataset in this run
        judged = [_judged(corpus.root, e, names) for e in episodes]
        summary.episodes = len(episodes)
        loader = _Loader(corpus, episodes)
        search = copies(judged, loader, config, self.held, partial(_on_ray, loader, config, self.address))
        pairs = search.pairs
        summary.candidates, summary.unjudged_pairs = len(pairs), search.unjudged_pairs
        if search.unjudged_pairs:
            log.warning("%d candidate pairs of identical fingerprints were not compared", search.unjudged_pairs)
        found = dead_verdicts(judged, config)
        for uid, v in copy_verdicts(pairs, judged, config).items():
            found[uid] = [v, *found.get(uid, [])]
        for uid, sharing in search.unjudged.items():  # pairs never compared: said on each episode, tier kept
            found[uid] = [*found.get(uid, []), unjudged_verdict(sharing)]
        summary.copies = sum(p.check.is_copy(config) for p in pairs)
        said: dict[str, list[str]] = {}  # a verdict's words -> the episodes it is said of, said once
        for e in episodes:
            uid = e.lineage.episode_uid or ""
            mine = found.get(uid, [])
            for v in mine:
                summary.judged[v.code] = summary.judged.get(v.code, 0) + 1
                said.setdefault(f"{v.tier.value}: {v.reason()}", []).append(uid)
            new = _edited(e.lineage, mine, config)
            if new is not None:
                self.edits.setdefault(e.dataset_root, {})[e.index] = new
        summary.lines = [_said(uids, words) for words, uids in said.items()]
        return []

    def finish(self, corpus: Corpus, *, address: str | None, progress: bool | None) -> bool:
        if self.job.dry_run:
            self.report.changed = sum(len(x) for x in self.edits.values())
            return False
        for ds, by_index in self.edits.items():
            self.report.changed += _write(ds, by_index)
        return self.report.changed > 0

    @classmethod
    def printout(cls, report: VerdictsSummary) -> str:
        return "\n".join([*report.lines, report.summary()])


SAID_UIDS = 3  # episodes a printout line names when one verdict is said of several; the rest counted


def _said(uids: list[str], words: str) -> str:
    """One printout line per verdict: `uid -> tier: reason`, or for the same words of several episodes
    `N episodes -> tier: reason: uid, uid, uid and M more` (the lineage of each holds its own)."""
    if len(uids) == 1:
        return f"{uids[0]} -> {words}"
    return f"{len(uids)} episodes -> {words}: {listing(uids, SAID_UIDS)}"


def run_verdicts(
    root: Path | str,
    config: BehaviourConfig,
    *,
    options: StorageOptions | None = None,
    dry_run: bool = False,
    held: int = SIGNALS_HELD,
) -> VerdictsSummary:
    """Judge the corpus at `root` (a folder or a bucket URL; `options`: its storage options) with `config` and record
    the verdicts (see the module docstring); `held`: episodes' signals one verification task loads."""
    return VerdictsStage(VerdictsJob(root=root, dry_run=dry_run), config, held).run(storage=options)


# `eidata verdicts ROOT`: exit 0 when judged, 2 for a bad call, 1 when a dataset's meta cannot take the verdicts
STAGE = VerdictsStage.cli(lambda args: VerdictsJob.model_validate(job_values(args, OPTIONS, VerdictsJob)))
