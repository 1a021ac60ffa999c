"""`eidata export ROOT --format gr00t --out DIR`: a copy of every dataset GR00T can be given, at DIR/<source>/<subset>,
with its `meta/modality.json` (`gr00t.describe`) and the statistics GR00T reads (`jobs/export/lda/stats.py`), its
cameras as all-intra H.264 (`lda/video.py`); the corpus is only read. Why each, with GR00T's code cited:
jobs/export/README.md ("GR00T", "--out DIR").
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path

import pyarrow.parquet as pq

from adapters.lerobot_format.files import read_jsonl
from adapters.storage.atomic import atomic_write
from adapters.storage.corpus import Corpus
from adapters.storage.tree import Tree
from jobs.catalog.rows import episode_files, episodes_files
from jobs.export.gr00t import (
    DatasetExport,
    Described,
    describe,
    for_each_dataset,
    planned_lines,
    result_of,
    write_modality,
)
from jobs.export.lda.stats import ColumnStats, dumps
from jobs.export.lda.video import as_written, transcode
from schemas.episode_lines import PlanTexts
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH, LEGACY_STATS_PATH, MODALITY_PATH, TASKS_PATH
from schemas.storage import MARKER, SOURCE_KEY, StorageOptions

COPIED_META = (INFO_PATH, EPISODES_PATH, TASKS_PATH, EPISODES_STATS_PATH)
EPISODE_META = (EPISODES_PATH, EPISODES_STATS_PATH)  # one line per episode: a manifest's episodes kept


def dataset_files(described: Described, root: Path, only: frozenset[int] | None = None) -> list[tuple[str, int]]:
    """Every episode's parquet and mp4 of the dataset at `root` (of the episodes `only` names, if given), relative to
    it, as info.json places them, each with its episode's length, in its episodes.jsonl's order."""
    lines = _lines(root, only)
    return [(f, int(x["length"])) for x in lines for f in episode_files(described.info, int(x["episode_index"]))]


def estimated_bytes(
    corpus: Corpus, described: Described, root: Path, only: frozenset[int] | None, planned: PlanTexts | None
) -> int:
    """The bytes of the files `dataset_files` names (a dry run's estimate), of the episodes `planned` from the
    catalog (in its order) where given: their paths filled per template and their sizes asked together
    (`Corpus.sizes`, summed); a missing one fails its dataset, named, as the export would."""
    if planned is not None:
        episodes = [i for i in planned.episodes if only is None or i in only]
    else:
        episodes = [int(x["episode_index"]) for x in _lines(root, only)]
    return sum(corpus.sizes(root, episodes_files(described.info, episodes)))


def _lines(root: Path, only: frozenset[int] | None) -> list[dict]:
    read = read_jsonl(root / EPISODES_PATH, only)
    return [line for _, line in read if only is None or line["episode_index"] in only]


def copy_episode_meta(src: Path, dst: Path, kept: Collection[int]) -> list[dict]:
    """meta/episodes*.jsonl with the lines of the `kept` episodes only, their indices kept (LDA reads the episodes
    episodes.jsonl lists, `gr00t_lerobot/datasets.py:541-554` @ 99bf08b); returns the episodes.jsonl lines kept."""
    out: dict[str, list[dict]] = {}
    for rel in EPISODE_META:
        if (src / rel).is_file():
            out[rel] = [line for _, line in read_jsonl(src / rel, kept) if int(line["episode_index"]) in kept]
            atomic_write(dst / rel, "".join(json.dumps(line) + "\n" for line in out[rel]))
    return out.get(EPISODES_PATH, [])


def _copy_meta(src: Path, dst: Path, only: frozenset[int] | None) -> dict:
    """The dataset's meta files into `dst` (the lines of the episodes `only` names, if given), and its info.json's
    counts for what is copied (a manifest's part of a dataset: GR00T reads `total_episodes`)."""
    raw = json.loads((src / INFO_PATH).read_text(encoding="utf-8"))
    for rel in COPIED_META:
        if (src / rel).is_file() and (only is None or rel not in EPISODE_META):
            shutil.copyfile(src / rel, dst / rel)
    if only is not None:
        lines = copy_episode_meta(src, dst, only)
        raw["total_episodes"], raw["total_frames"] = len(lines), sum(int(x["length"]) for x in lines)
        raw["total_videos"] = len(lines) * sum(f.get("dtype") == "video" for f in raw.get("features", {}).values())
        raw["splits"] = {"train": f"0:{len(lines)}"}
    return raw


def reencode(corpus: Corpus, src: Path, dst: Path, fps: int, length: int) -> None:
    """The corpus video `src` as all-intra H.264 at `dst` (a bucket corpus's fetched into a temporary file first)."""
    if src.is_file():
        transcode(src, dst, fps, length)
        return
    with tempfile.TemporaryDirectory(dir=dst.parent.parent) as tmp:
        corpus.copy_to(src, Path(tmp) / src.name)
        transcode(Path(tmp) / src.name, dst, fps, length)


def write_copy(corpus: Corpus, src: Path, described: Described, dst: Path, only: frozenset[int] | None = None) -> int:
    """The GR00T dataset of `src` (the episodes `only` names, if given) written into the empty folder `dst`; returns
    the episode files linked or copied."""
    (dst / "meta").mkdir(parents=True, exist_ok=True)
    info = described.info
    raw = _copy_meta(src, dst, only)
    (dst / INFO_PATH).write_text(json.dumps(as_written(raw, info.video_keys), indent=4) + "\n")
    m = described.modality  # the columns it slices -> width: GR00T reads their statistics by `original_key`
    keys = {m.column(g, k) for g in ("state", "action") for k in getattr(m, g)}  # type: ignore[arg-type]
    widths = {k: int(info.features[k].shape[0]) for k in sorted(keys)}
    stats = ColumnStats(widths)
    files = dataset_files(described, src, only)
    for rel, length in files:
        if not rel.endswith(".parquet"):
            reencode(corpus, src / rel, dst / rel, int(info.fps), length)
            continue
        corpus.copy_to(src / rel, dst / rel, link=True)
        if widths:
            table = pq.read_table(dst / rel, columns=list(widths))
            stats.add({k: table.column(k).to_pylist() for k in widths})
    (dst / LEGACY_STATS_PATH).write_text(dumps(stats.result()), encoding="utf-8")
    write_modality(dst / MODALITY_PATH, described.modality)
    # where the linked parquet came from: a source reading this copy takes those links as the corpus's own files
    (dst / MARKER).write_text(json.dumps({"format": "gr00t", SOURCE_KEY: corpus.named(src)}, indent=2) + "\n")
    return len(files)


def export_copy(
    corpus: Corpus,
    tree: Tree,
    src: Path,
    rel: str,
    only: frozenset[int] | None = None,
    planned: PlanTexts | None = None,
) -> DatasetExport:
    """The dataset `rel` (`datasets/<source>/<subset>`) at `src` (the episodes `only` names, if given) into the output
    `tree` as `<source>/<subset>`, planned from its lines in the catalog where given (`planned`)."""
    described = describe(src, rel, planned)
    name = rel.removeprefix("datasets/")
    count: list[int] = []  # the episode files `write_copy` wrote
    written = tree.fill(
        name,
        lambda folder: count.append(write_copy(corpus, src, described, folder, only)),
        lambda: estimated_bytes(corpus, described, src, only, planned),
    )
    result = result_of(rel, "written" if written else "to write", described)
    what = f"{count[0]} episode files written" if written else "episode files to write"
    result.notes.insert(0, f"{what} (parquet linked, video as all-intra H.264), modality.json and stats.json")
    result.path = tree.named(name)
    return result


def export_copies(
    corpus: Corpus,
    out: Path | str,
    options: StorageOptions | None = None,
    *,
    dry_run: bool = False,
    progress: bool | None = None,
    manifest: dict[str, frozenset[int]] | None = None,
) -> list[DatasetExport]:
    """Every dataset of `corpus` (read: `Corpus.read`) copied into `out` with its modality (module docstring); with
    `manifest` (dataset -> episode indices, `jobs.catalog.selection.manifest_episodes`) its datasets only, each with
    its episodes only."""
    planned = planned_lines(corpus, manifest)  # each dataset's every line: its description reads them all
    with Tree.open(out, options, "export-gr00t", dry_run=dry_run) as tree:

        def export(ds: Path, rel: str) -> DatasetExport:
            return export_copy(corpus, tree, ds, rel, None if manifest is None else manifest[rel], planned.get(rel))

        return for_each_dataset(corpus.root, "export gr00t", export, progress, only=manifest)
