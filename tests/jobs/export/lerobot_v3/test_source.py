"""`source.py`: a dataset read for export holds the episodes asked for, each line cut to what a plan reads, and reads
their stats only when asked (issue 75)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot_format.files import read_jsonl
from adapters.storage.corpus import Corpus
from jobs.export.lerobot_v3.source import SourceDataset, stats_extent
from schemas.canonical import ACTION, STATE
from schemas.corpus import LINEAGE_KEY
from schemas.episode_lines import PLAN_TOP
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH


def test_one_episode_asked_for_is_all_it_holds(tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bridge = tiny_corpus / "datasets/oxe/bridge"
    parsed: list[str] = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda s, *a, **k: parsed.append(s) or real(s, *a, **k))
    src = SourceDataset(bridge, Corpus(tiny_corpus), {2})
    lines = [s for s in parsed if str(s).startswith('{"episode_index"')]  # not info.json or tasks.jsonl
    full = {o["episode_index"]: o for _, o in read_jsonl(bridge / EPISODES_PATH)}
    assert set(src.episodes) == {2} and set(src.episodes[2]) <= {*PLAN_TOP, LINEAGE_KEY}
    assert src.episodes[2][LINEAGE_KEY]["episode_uid"] == full[2][LINEAGE_KEY]["episode_uid"] == "oxe/bridge/e2"
    assert len(src.episodes[2][LINEAGE_KEY]) < len(full[2][LINEAGE_KEY])  # its qa, verdicts... not held
    assert len(lines) == 1  # of its 3 episodes' lines, and no stats line
    assert "stats" not in src.__dict__
    lo, hi, n = src.extents(ACTION)[2]  # one column's extent, the stats not kept whole
    assert "stats" not in src.__dict__ and set(src.extents(STATE)) == {2} and n == full[2]["length"]
    whole = {o["episode_index"]: o["stats"] for _, o in read_jsonl(bridge / EPISODES_STATS_PATH)}
    assert set(src.stats) == {2} and src.stats[2] == whole[2]  # whole when asked (a v2.1 writer's)
    assert np.array_equal(lo, np.asarray(whole[2][ACTION]["min"], np.float64).reshape(-1)) and hi.shape == lo.shape


def test_every_episode_without_a_choice_and_an_extent_needs_min_and_max(tiny_corpus: Path) -> None:
    src = SourceDataset(tiny_corpus / "datasets/oxe/bridge", Corpus(tiny_corpus))
    assert sorted(src.episodes) == [0, 1, 2]
    assert stats_extent({"min": [0.0]}) is None and stats_extent(None) is None
    assert stats_extent({"min": [0.0, 1.0], "max": [2.0, 3.0], "count": [7]})[2] == 7  # type: ignore[index]


def test_a_catalog_line_is_validated_once_per_distinct_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest's plan validates the lineage of each distinct `plan_line` text once (`SourceDataset.lineage`), not
    each episode's at each ask (5-7 times an episode: 70,350 validations for 10,050 episodes, issue 99); each episode's
    lineage is still its own line's, its uid included."""
    from jobs.catalog.build import rebuild_catalog
    from jobs.catalog.curate import curate
    from jobs.export.lerobot_v3.job import manifest_groups
    from jobs.export.lerobot_v3.plan import manifest_plan
    from schemas.corpus import EpisodeLineage
    from tests.fixtures.corpus import episode, write_dataset

    root = tmp_path / "corpus"
    episodes = [episode(4, "pick", f"oxe/bridge/e{i}", "franka") for i in range(6)]
    write_dataset(root / "datasets/oxe/bridge", "franka", episodes)
    rebuild_catalog(Corpus(root))
    curate(root, "all", "true", val_fraction=0.0)
    validated: list[object] = []
    real = EpisodeLineage.model_validate.__func__  # type: ignore[attr-defined]
    counted = lambda cls, obj, *a, **k: validated.append(obj) or real(cls, obj, *a, **k)  # noqa: E731
    monkeypatch.setattr(EpisodeLineage, "model_validate", classmethod(counted))
    mdir = root / "manifests" / "all"
    with Corpus.read(root, None, meta=True) as opened:
        (group,) = manifest_groups(opened, mdir, None, False).groups
        plan = manifest_plan(opened, mdir, None, group=group)
        asked = [(e.uid, e.lineage, e.embodiment(), e.action_kind()) for e in plan.episodes]
    assert len(validated) == 1, len(validated)  # the six episodes share one text: their tasks and lineage but the uid
    assert [uid for uid, *_ in asked] == [f"oxe/bridge/e{i}" for i in range(6)]
    monkeypatch.undo()
    for (uid, lineage, embodiment, _), e in zip(asked, plan.episodes, strict=True):
        assert lineage == EpisodeLineage.of(e.line) and lineage.episode_uid == uid and embodiment == "franka"


def test_datasets_of_one_info_text_share_one_info_and_its_model(tmp_path: Path) -> None:
    """Datasets read with one `shared` whose info.json texts are equal (a corpus of copies) hold one info and one
    validated model of it: each dataset's read and validated again cost 0.7 ms (30,000 datasets at 1M, issue 99);
    a dataset of another text holds its own."""
    from tests.fixtures.corpus import episode, write_dataset

    for k in range(2):
        write_dataset(tmp_path / f"datasets/oxe/a{k}", "franka", [episode(4, "pick", f"oxe/a{k}/e0", "franka")])
    write_dataset(tmp_path / "datasets/oxe/b", "franka", [episode(5, "pick", "oxe/b/e0", "franka")])  # 5 frames
    shared: dict = {}
    a0, a1, b = (
        SourceDataset(tmp_path / f"datasets/oxe/{n}", Corpus(tmp_path), shared=shared) for n in ("a0", "a1", "b")
    )
    assert a0.info is a1.info and a0.meta is a1.meta and a0.meta.total_frames == 4
    assert b.info is not a0.info and b.meta.total_frames == 5
    assert a0.features[ACTION] is b.features[ACTION]  # a feature declared alike: one object, as before
