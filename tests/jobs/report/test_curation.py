"""What the report gives a curator, on the report corpus (corpus.py: oxe/bridge one high and one low episode, an
EgoDex-like human dataset, an actionless Ego4D clip, one quarantined OXE record): counts per source and dataset with
the quarantined beside the written, reasons, every episode flagged first, a flagged episode's frames and signals beside
a clean one, the manifests curated from it and the exports made from it (a real `eidata export`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from jobs.catalog.curate import curate
from jobs.export.lerobot_v3.job import export_corpus
from jobs.report import curation
from jobs.report.data import dataset_view
from jobs.report.exports import read_exports


def test_counts_put_the_quarantined_beside_the_written(corpus: Path) -> None:
    rows = {(r["source"], r["subset"]): r for r in curation.counts_by_dataset(corpus)}
    bridge = rows[("oxe", "bridge")]
    assert (bridge["written"], bridge["high"], bridge["low"], bridge["quarantined"]) == (2, 1, 1, 1)
    assert rows[("ego4d", "clips")]["actionless"] == 1 and rows[("ego4d", "clips")]["quarantined"] == 0
    assert sum(r["written"] for r in rows.values()) == 4
    assert sum(r["without_action"] + r["without_hands"] for r in rows.values()) == 0  # the clip is video only


def test_every_episode_flagged_first_and_a_pair_figure(corpus: Path) -> None:
    rows = curation.episode_rows(corpus)
    assert len(rows) == 4 and rows[0]["tier"] == "low" and not any(r["flagged"] for r in rows[1:])
    ds = dataset_view(corpus, "datasets/oxe/bridge", first=2)
    flagged = curation.episode_sample(ds, 1, "low")
    clean = curation.episode_sample(ds, 0, "clean")
    assert len(flagged.frames) == 4 and flagged.frames[0].ndim == 3
    used = int(np.asarray(ds.mask(1)).sum())
    assert flagged.signals["observation.state"].shape == (9, used) and clean.signals["action"].shape == (12, used)
    fig = curation.pair_figure(flagged, clean, float(ds.info.fps))
    assert len(fig.axes) == 2 * (4 + 2)  # per episode: 4 frames, state, action


def test_manifests_and_exports_made_from_the_corpus(corpus: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(corpus, tmp_path / "corpus")
    assert curation.manifests(copy) == []
    curate(copy, "robots", "source = 'oxe'")
    (m,) = curation.manifests(copy)
    assert m.name == "robots" and m.num_entries == 2
    export_corpus(copy, tmp_path / "exports", manifest="robots")
    (e,) = read_exports([tmp_path / "exports"]).found
    assert (e.folder, e.version, e.format, e.episodes) == ("exports/robots", "v3.0", "LeRobot v3.0", 2)
    assert e.cameras == ["head"] and e.skipped == {}


def test_each_flagged_pair_is_followed_by_its_link(corpus: Path) -> None:
    rows = curation.episode_rows(corpus)
    pairs = curation.flagged_pairs(corpus, rows, lambda uid: f"<a>{uid}</a>")
    assert len(pairs) == 1 and pairs[0].startswith(
        '<div id="ep-oxe/bridge/e1"><figure><img alt="episode oxe/bridge/e1"'
    )
    assert pairs[0].endswith("</figure><a>oxe/bridge/e1</a></div>") and "no clean episode" not in pairs[0]
    assert curation.flagged_pairs(corpus, [r for r in rows if r["tier"] == "high"], str) == []
