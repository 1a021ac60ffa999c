"""`plan_lines.py` (issue 99): an export's plan and train's index read what they need of each episode's meta from the
catalog's columns, and plan exactly what they planned from every dataset's `episodes.jsonl` and
`episodes_stats.jsonl`, which they no longer open. The meta-planned result is the same code with the catalog's parts
moved aside (`catalog_lines` then gives nothing and each dataset's meta is read, as before issue 99)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from schemas.actions import ActionSpace
from schemas.corpus import EPISODES_DIR
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH
from tests.fixtures.corpus import NATIVE_COMMAND, NATIVE_JOINTS, episode, native_episode, write_dataset
from tests.fixtures.opened import opened_here

EPISODE_META = (EPISODES_PATH, EPISODES_STATS_PATH)


def _meta_opened(opened: list[str]) -> list[str]:
    return [p for p in opened if p.endswith(EPISODE_META)]


def _from_meta(corpus: Path, plan: Callable[[], Any]) -> Any:
    """`plan()` with the catalog's parts moved aside: every dataset's meta read, as before the catalog held them."""
    parts, aside = corpus / EPISODES_DIR, corpus / "catalog" / "aside"
    shutil.move(parts, aside)
    try:
        with opened_here() as opened:
            out = plan()
        assert _meta_opened(opened)  # the comparison is with the meta's plan
        return out
    finally:
        shutil.move(aside, parts)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A canonical Franka dataset with a 2-D native command, and a robot without a description (7-D command) one of
    whose episodes' command never moves (left out of the native space by its stats)."""
    root = tmp_path_factory.mktemp("plan_lines")
    rng = np.random.default_rng(0)
    franka = [
        {**episode(6 + i, ["pick", "open"][i % 2], f"oxe/bridge/e{i}", "franka"), "native": rng.normal(size=(6 + i, 2))}
        for i in range(3)
    ]
    write_dataset(root / "datasets/oxe/bridge", "franka", franka, native_state_names=["j0", "j1"])
    arm = [native_episode(5 + k, f"lab/arm/a{k}", k) for k in range(3)]
    arm[1]["native_action"] = np.zeros_like(arm[1]["native_action"])
    write_dataset(
        root / "datasets/lab/arm",
        "unknown",
        arm,
        mask=[0] * 50,
        native_state_names=NATIVE_JOINTS,
        native_action_names=NATIVE_COMMAND,
    )
    rebuild_catalog(Corpus(root))
    curate(root, "all", "true", val_fraction=0.0)
    return root


def _export_plans(corpus: Path) -> str:
    """Every plan `eidata export --manifest all --action-space native --skip-without-action` makes, as text."""
    from jobs.export.lerobot_v3.job import manifest_groups
    from jobs.export.lerobot_v3.plan import manifest_plan

    mdir = corpus / "manifests" / "all"
    with Corpus.read(corpus, None, meta=True) as opened:
        settled = manifest_groups(opened, mdir, ActionSpace.native, True)
        plans = [manifest_plan(opened, mdir, None, group=g) for g in settled.groups]
    said = {"left_out": settled.left_out, "skipped": dict(settled.skipped), "plans": []}
    for p in plans:
        episodes = [
            [e.uid, e.episode_index, str(e.source.root), dict(e.extra), e.task, e.line, e.action_kind(), e.embodiment()]
            for e in p.episodes
        ]
        said["plans"].append([p.name, p.fps, p.features, p.robot_type, p.splits, p.notes, dict(p.skipped), episodes])
    return json.dumps(said, sort_keys=True, default=repr)


def test_an_export_plans_from_the_catalog_what_it_planned_from_the_meta(corpus: Path) -> None:
    with opened_here() as opened:
        planned = _export_plans(corpus)
    assert not _meta_opened(opened), _meta_opened(opened)  # no dataset's episodes.jsonl or stats
    assert planned == _from_meta(corpus, lambda: _export_plans(corpus))
    assert "lab/arm/a1" in planned and "takes one value per dim" in planned  # the still command is left out, named


def _train_index(manifest: Path) -> str:
    """Train's index of `manifest`, every record, sample array and the report, as text."""
    from tests.training.conftest import MODEL
    from training.config import DataConfig
    from training.episodes import build_index

    built = build_index(manifest, "train", MODEL, DataConfig(num_workers=0))
    rows = [
        [repr(getattr(e, k)) for k in e.__slots__ if k not in ("action", "latent_frames")]
        + [repr(vars(e.action)), e.latent_frames.tolist()]
        for e in built.episodes
    ]
    arrays = [built.sample_episode, built.sample_anchor, built.sample_future]
    return repr((built.datasets, rows, [a.tolist() for a in arrays], built.text_dim, vars(built.report)))


def _latents_opened(opened: list[str]) -> list[str]:
    return [p for p in opened if "/latents/chunk-" in p]


def test_train_indexes_from_the_catalog_what_it_indexed_from_the_meta(tmp_path: Path) -> None:
    """Nor any latents file looked for or its header read: the catalog's `latents_keys` and `latents_files` say which
    cameras have one, with the metadata and shape checked, and the frames are those `eidata latents` writes."""
    from tests.training.corpus import build_corpus

    manifest = build_corpus(tmp_path / "corpus")
    index = partial(_train_index, manifest)
    with opened_here() as opened:
        planned = index()
    assert not _meta_opened(opened), _meta_opened(opened)
    assert not _latents_opened(opened), _latents_opened(opened)
    with opened_here() as opened:
        assert planned == _from_meta(manifest.parent.parent, index)
    assert len(_latents_opened(opened)) == 7  # the meta's index read each episode's file
    assert "'head': 7" in planned


def test_train_reads_the_latents_files_the_catalog_does_not_know(tmp_path: Path) -> None:
    """A file whose frame_index is not what `eidata latents` writes (every 2nd frame under a rate_hz of 2.5, which
    gives every 4th), and a catalog of before the latents columns: those files are read, and the index is the meta's."""
    import pyarrow.parquet as pq
    from safetensors.torch import load_file, save_file

    from adapters.storage.derived import file_metadata
    from tests.training.corpus import build_corpus

    manifest = build_corpus(tmp_path / "corpus")
    corpus = manifest.parent.parent
    (path, *_) = sorted(corpus.glob("datasets/sim/arm/latents/chunk-*/*/episode_*.safetensors"))
    tensors, meta = load_file(path), file_metadata(path)
    save_file(tensors, str(path), metadata={**meta, "rate_hz": "2.5"})  # its frames 0, 2, 4, ...: 2.5 Hz gives 0, 4, 8
    rebuild_catalog(Corpus(corpus))
    index = partial(_train_index, manifest)
    with opened_here() as opened:
        planned = index()
    assert _latents_opened(opened) == [str(path)]
    assert planned == _from_meta(corpus, index)
    (part,) = (corpus / EPISODES_DIR).glob("*.parquet")
    pq.write_table(pq.read_table(part).drop_columns(["latents_keys", "latents_files"]), part)
    with opened_here() as opened:
        assert index() == planned
    assert not _meta_opened(opened) and len(_latents_opened(opened)) == 7  # the lines from the catalog, the files read


def test_a_catalog_of_before_gives_nothing_and_its_readers_read_the_meta(corpus: Path, tmp_path: Path) -> None:
    """A catalog written before the columns (or none) gives no dataset's lines: each is read from its meta."""
    import pyarrow.parquet as pq

    from adapters.storage.plan_lines import catalog_lines

    copy = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    wanted = {"datasets/lab/arm": {0, 1, 2}}
    assert len(catalog_lines(copy, wanted)["datasets/lab/arm"]) == 3
    (part,) = (copy / EPISODES_DIR).glob("*.parquet")
    table = pq.read_table(part)
    pq.write_table(table.drop_columns(["plan_line", "native_moves"]), part)
    assert catalog_lines(copy, wanted) == {}
    shutil.rmtree(copy / EPISODES_DIR)
    assert catalog_lines(copy, wanted) == {}


def test_gr00t_describes_from_the_catalog_what_it_described_from_the_meta(corpus: Path, tmp_path: Path) -> None:
    """Its dry runs, in place and with `--out` (each dataset's modality, notes and files to write)."""
    from jobs.export.gr00t import export_gr00t, planned_lines
    from jobs.export.gr00t_copy import export_copies

    def described() -> str:
        with Corpus.read(corpus, None, meta=True) as opened:
            lines = planned_lines(opened)
            found = export_gr00t(opened.root, dry_run=True, progress=False, lines=lines)
            found += export_copies(opened, tmp_path / "out", dry_run=True, progress=False)
        return repr(found)

    with opened_here() as opened:
        planned = described()
    assert not _meta_opened(opened), _meta_opened(opened)
    assert planned == _from_meta(corpus, described)
    assert "datasets/lab/arm" in planned and "to write" in planned


def _from_older_catalog(corpus: Path, plan: Callable[[], Any]) -> Any:
    """`plan()` with the catalog's parts as an eidata of before issue 99 wrote them (no `plan_line`, `native_moves`):
    each dataset's meta read, the catalog there for what checks a manifest against it."""
    import pyarrow.parquet as pq

    (part,) = (corpus / EPISODES_DIR).glob("*.parquet")
    kept = part.read_bytes()
    pq.write_table(pq.read_table(part).drop_columns(["plan_line", "native_moves"]), part)
    try:
        with opened_here() as opened:
            out = plan()
        assert _meta_opened(opened)
        return out
    finally:
        part.write_bytes(kept)


def test_an_lda_plan_is_made_from_the_catalog_as_it_was_from_the_meta(corpus: Path) -> None:
    """`eidata export --format lda [--dry-run]`'s plan, of every dataset and of a manifest's episodes (a manifest is
    checked against the catalog: compared with a catalog of before the plan's columns)."""
    from jobs.export.lda.job import planned
    from jobs.export.lda.plan import plan_export

    def plans(manifest: str | None) -> str:
        said = [
            [p.name, p.lines, [m.tolist() for m in p.masks], p.layout, p.hands, p.main, p.subset, p.native]
            for p in plan_export(corpus, manifest)
        ]
        return repr((said, planned(corpus, manifest)))

    for manifest in (None, "all"):
        with opened_here() as opened:
            made = plans(manifest)
        assert not _meta_opened(opened), _meta_opened(opened)
        assert made == _from_older_catalog(corpus, partial(plans, manifest))
        assert "'native'" in made and "'mask'" in made and "'action_kind'" in made
    assert plans(None) == _from_meta(corpus, lambda: plans(None))


def test_gr00t_plans_from_the_catalog_nothing_per_episode_but_its_index(corpus: Path, tmp_path: Path) -> None:
    """Issue 99: gr00t's plan of a dataset of 3,000 episodes (the catalog's rows of `lab/arm` tiled, half of them
    with a command that never moves) holds each episode's index and each distinct `plan_line` text once, counted
    (`Corpus.plan_texts`), and validates one lineage per distinct text, its notes counting episodes: at 1M, lines
    made per episode cost 7 CPU-s. Counted in bytes, not timed."""
    import tracemalloc

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from jobs.export.gr00t import describe, planned_lines
    from schemas.corpus import LINEAGE_KEY, EpisodeLineage

    copy = Path(shutil.copytree(corpus, tmp_path / "corpus"))
    (part,) = (copy / EPISODES_DIR).glob("*.parquet")
    table = pq.read_table(part)
    arm = table.filter(pc.equal(table["dataset"], "datasets/lab/arm"))
    still = [json.loads(t) for t in arm["plan_line"].to_pylist()]
    for line in still:
        line[LINEAGE_KEY]["action_kind"] = "none"
    tiles, at = [], table.schema.get_field_index
    for k in range(1, 1000):
        tile = arm.set_column(at("episode_index"), "episode_index", pc.add(arm["episode_index"], 3 * k))
        if k <= 500:
            tile = tile.set_column(
                tile.schema.get_field_index("plan_line"), "plan_line", pa.array(map(json.dumps, still))
            )
        tiles.append(tile)
    pq.write_table(pa.concat_tables([table, *tiles]), part)

    def held(root: Path) -> tuple[int, Any]:
        with Corpus.read(root, None, meta=True) as opened:
            tracemalloc.start()
            try:
                planned = planned_lines(opened)
                return tracemalloc.get_traced_memory()[0], planned
            finally:
                tracemalloc.stop()

    (small, _), (large, planned) = held(corpus), held(copy)
    lines = planned["datasets/lab/arm"]
    assert len(lines.episodes) == 3_000 and sorted(lines.episodes) == list(range(3_000))
    assert (large - small) / 2_997 < 64, (small, large)  # an index: 36 B; a line per episode held ~300 B more
    made: list[Any] = []
    of = EpisodeLineage.of
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(EpisodeLineage, "of", staticmethod(lambda line: made.append(line) or of(line)))
        found = describe(copy / "datasets/lab/arm", "datasets/lab/arm", lines)
    assert len(made) == len(lines.texts) <= 6 and found.kind == "native"
    assert "1500 episode(s) whose command never moves (action_kind none)" in str(found.notes), found.notes
