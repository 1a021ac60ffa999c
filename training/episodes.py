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
(`<corpus>/manifests/<name>/`), maybe a bucket (reads meta, listings, latent headers). The index is columns
(`training.episode_table`; built by `training.index_build` from the entries' lines, `training.entry_lines`): at 1M
entries no Python object per episode or sample is held (issue 99)."""

from __future__ import annotations

import io
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from adapters.storage.corpus_files import CorpusFiles
from ingest.progress import Progress
from schemas.json_document import parsed_json
from schemas.manifest import MANIFEST_JSON, Manifest, Split, check_entries
from schemas.storage import StorageOptions
from schemas.tiers import QualityTier
from training.config import DataConfig, ModelConfig
from training.entry_lines import EntryLines
from training.episode_table import TIER_CODES, EpisodeTable
from training.errors import DataError
from training.index_build import NO_LATENTS, IndexBuild
from training.index_report import IndexReport

log = logging.getLogger(__name__)

TIERS: list[QualityTier] = [QualityTier.high, QualityTier.low, QualityTier.actionless]


@dataclass
class SampleIndex:
    files: CorpusFiles  # how the corpus's files are read (in place, or a bucket's through the local cache)
    manifest: Manifest
    split: Split
    datasets: list[str]  # relative to the corpus root; dataset_id indexes this list
    episodes: EpisodeTable  # its columns; `episodes[i]` is episode i's `EpisodeRecord`
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
        w = np.asarray(self.episodes.weight, dtype=np.float64)
        if self.manifest.weight_unit == "episode":
            return w[self.sample_episode] / counts[self.sample_episode]
        groups = balance_groups(self.episodes.uid, self.manifest.balance)
        group_weight = np.bincount(groups, weights=w)  # the group's mass
        group_density = np.bincount(groups, weights=w * counts)  # sum of per-sample densities in the group
        return (w * group_weight[groups] / group_density[groups])[self.sample_episode]

    def source_shares(self) -> dict[str, tuple[float, float]]:
        """source -> (share of the sampling mass, share of the episode frames): what a run trains on vs the hours."""
        mass = np.bincount(self.sample_episode, weights=self.sample_weights(), minlength=len(self.episodes))
        sources = balance_groups(self.episodes.uid, "source", names := [])
        frames = np.asarray(self.episodes.length, dtype=np.float64)
        return {
            s: (float(mass[m].sum() / mass.sum()), float(frames[m].sum() / frames.sum()))
            for s, code in sorted(zip(names, range(len(names)), strict=True))
            for m in [sources == code]
        }


def balance_groups(uids: pa.Array, balance: str, names: list[str] | None = None) -> np.ndarray:
    """The group each episode's weight was balanced in by curate, as a code (the groups' names appended to `names`):
    its source, its source/subset, or the whole manifest (uid = source/subset/raw id, schemas.corpus.episode_uid),
    computed on the column."""
    if balance == "none":
        if names is not None:
            names.append("")
        return np.zeros(len(uids), np.int64)
    parts = pc.split_pattern(uids, "/", max_splits=2)
    groups = pc.binary_join(pc.list_slice(parts, 0, 1 if balance == "source" else 2), "/").dictionary_encode()
    if names is not None:
        names.extend(groups.dictionary.to_pylist())
    return groups.indices.to_numpy().astype(np.int64)


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
    through `files` (`CorpusFiles.of_manifest(manifest_dir)`: the manifest as it names it, when given). Built as
    columns (`training.episode_table`, `training.entry_lines`): no Python object per entry or sample is held."""
    if files is None:
        files, manifest_dir = CorpusFiles.of_manifest(
            manifest_dir, storage, cache_dir=data.cache_dir, cache_bytes=data.cache_bytes
        )
    path = f"{manifest_dir}/{MANIFEST_JSON}"
    manifest = Manifest.model_validate(parsed_json(files.read_bytes(path), path))
    # the json's own; ParquetFile, as jobs.catalog.source_findings says why (read_table's dataset path aborts at exit)
    raw = files.read_bytes(f"{manifest_dir}/{manifest.entries}")
    check_entries(pq.read_schema(io.BytesIO(raw)).empty_table(), manifest_dir)
    # the columns the index reads, the repeated texts as dictionaries (at 1M entries the whole table took 480 MB)
    entries = _Entries(pq.ParquetFile(io.BytesIO(raw), read_dictionary=CODED).read(columns=READ), split)
    del raw
    if not len(entries.index):
        raise DataError(f"{manifest_dir}: no entries in split {split!r}")
    # the lines from the catalog's columns where it has them (a corpus folder): no dataset's episodes.jsonl read
    lines = EntryLines(Path(files.root) if files.storage.local else None, entries.names, entries.dataset, entries.index)
    built = IndexBuild(files, manifest, model, data, entries, lines)
    bar = Progress(len(entries.index), f"index {manifest.name}/{split}", unit="episodes")
    bounds = [0, *(np.flatnonzero(np.diff(entries.dataset)) + 1).tolist(), len(entries.index)]
    for a, b in itertools.pairwise(bounds):  # a manifest is sorted by dataset: one dataset's meta alive at a time
        bar.update(b - a, frames=built.dataset(a, b))
    bar.close()
    return _index(built, manifest_dir, split)


def _index(built: IndexBuild, manifest_dir: Path | str, split: Split) -> SampleIndex:
    """The index `built` once every entry is, its report logged (a build that kept nothing fails, naming why)."""
    report, manifest = built.report, built.manifest
    built.left_out()
    widths = set(built.text_widths.values())
    if len(widths) > 1:
        raise DataError(f"text embeddings of different widths {sorted(widths)} in one manifest: {manifest_dir}")
    report.episodes = len(built.cols)
    if not report.episodes:
        root = str(manifest_dir).rstrip("/").rsplit("/", 2)[0]  # a manifest is ROOT/manifests/NAME
        fix = f"; run `eidata latents {root} --model DIR` first" if NO_LATENTS in " ".join(report.skipped) else ""
        raise DataError(f"{manifest_dir}/{split}: no episode can give a sample ({report.summary()}){fix}")
    sample_episode, sample_anchor, sample_future = built.samples()
    table = built.table()
    index = SampleIndex(
        files=built.files,
        manifest=manifest,
        split=split,
        datasets=table.datasets,
        episodes=table,
        sample_episode=sample_episode,
        sample_anchor=sample_anchor,
        sample_future=sample_future,
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
            built.data.future_offset,
            report.inexact_future,
            built.data.future_offset,
        )
    return index


class _Entries:
    """The split's manifest entries as columns: `dataset` (codes into `names`), `index`, `uid`, `tier_code` (codes into
    `TIER_CODES`), `weight`."""

    def __init__(self, table: pa.Table, split: Split) -> None:
        table = table.unify_dictionaries()  # one dictionary a column
        splits, datasets, tiers = (table.column(c).combine_chunks() for c in CODED)
        rows = np.flatnonzero(_codes(splits, [split]) == 0)  # the split's entries, in the manifest's order
        self.names: list[str] = datasets.dictionary.to_pylist()
        self.dataset = datasets.indices.to_numpy(zero_copy_only=False)[rows].astype(np.int32)
        self.index = table.column("episode_index").to_numpy()[rows].astype(np.int64)
        self.uid = table.column("episode_uid").combine_chunks().take(pa.array(rows))
        self.tier_code = _codes(tiers, [t.value for t in TIER_CODES])[rows].astype(np.int8)
        if len(bad := np.flatnonzero(self.tier_code < 0)):
            QualityTier(tiers[int(rows[bad[0]])].as_py())  # the ValueError naming it, as a tier is read elsewhere
        self.weight = table.column("weight").to_numpy()[rows].astype(np.float64)


CODED = ["split", "dataset", "tier"]  # the entries' columns read as dictionaries
READ = [*CODED, "episode_uid", "episode_index", "weight"]


def _codes(column: pa.DictionaryArray, values: list[str]) -> np.ndarray:
    """Each row's position in `values` (-1: another value, or null)."""
    positions = [values.index(v) if v in values else -1 for v in column.dictionary.to_pylist()]
    return np.asarray([*positions, -1], np.int64)[column.indices.fill_null(len(positions)).to_numpy()]
