"""Issue 55 item 1: a robot without a description still trains. Its command (`action.native`, at 10 Hz) is the
episode's action: in the catalog (`action_kind` native, not actionless), in a single-robot export's `action`, in a
mixed export as one dataset per robot; an export whose `action` never moves is refused, naming episodes.

The robots are the real layouts of two recordings eidata has no description of (`tests/fixtures/lerobot_layouts`:
their makers' `meta/info.json`, values drawn in their stats' ranges): the two-hand dexterous LeRobot v3.0 rig of
issue 55 (`lingzu_open50_v30`: 34 joint targets at 30 fps, yipiandanxinxiangyangkai/open_50 @ 8805128) and a
RoboCOIN-layout LeRobot v2.1 bimanual arm with hands (`robocoin_v21`: 30 joint targets, QianHuixun/New-Test
@ ff298f6; its parquet files are Git LFS objects the index does not hold, so no real values were found).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.registry import get_adapter
from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.catalog.query import run_query
from jobs.export.lerobot_v3.episodes import EpisodeRef
from jobs.export.lerobot_v3.job import export_corpus
from jobs.export.lerobot_v3.native import ConstantActionError, check_action_moves, declares_no_action
from jobs.export.lerobot_v3.source import SourceDataset
from schemas.canonical import ACTION, ACTION_NATIVE, CANONICAL_FPS, STATE
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import dataset_dir
from schemas.image_size import ImageSpec
from tests.fixtures.layouts import load_case, materialize
from tests.ingest.qa.planted_raw import ingest
from tests.realdata import realdata

LAYOUTS = Path(__file__).resolve().parents[3] / "fixtures" / "lerobot_layouts"
ROBOTS = {"lingzu": "lingzu_open50_v30", "robocoin": "robocoin_v21"}
# RoboCOIN's unified end effector makes its episodes canonical (adapters/lerobot/poses.yaml robocoin_unified): written
# without it, as the maker's pipeline has it before its eef_sim stage, the robocoin case is the undescribed robot's
# command alone
NO_UNIFIED_EEF = {"robocoin": ("eef_sim_pose_state", "eef_sim_pose_action")}
TRAIN_STEPS = 2


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("native")
    root, raw, spec = tmp / "corpus", {}, CanonicalizeSpec(image=ImageSpec(size="32x32"))
    for source, case in ROBOTS.items():
        layout = load_case(LAYOUTS / case)
        for key in NO_UNIFIED_EEF.get(source, ()):
            layout.info["features"].pop(key)
        written = materialize(layout, tmp / "raw" / source, episodes=2, seconds=3.0)
        adapter = get_adapter("lerobot")
        for ref in adapter.discover(written.root):
            kept, why = ingest(adapter.read(ref), spec, root / dataset_dir(source, ref.subset))
            assert kept, why
        raw[source] = written
    rebuild_catalog(Corpus(root))
    return SimpleNamespace(root=root, raw=raw, tmp=tmp)


def _column(root: Path, key: str) -> np.ndarray:
    table = pq.read_table(sorted((root / "data").rglob("*.parquet")))
    return np.stack(table[key].to_numpy(zero_copy_only=False)).astype(np.float64)


def test_the_catalog_says_the_native_command_is_the_action(corpus: SimpleNamespace) -> None:
    rows = run_query(
        corpus.root, "SELECT source, action_kind, has_action, tier, tier_notes, tier_details FROM episodes"
    ).to_pylist()
    assert len(rows) == 4
    for r in rows:  # before issue 55: action_kind unknown, has_action false, tier actionless
        assert (r["action_kind"], r["has_action"]) == ("native", True) and r["tier"] != "actionless", r
        assert any(x.startswith("action: its native command at 10 Hz") for x in r["tier_details"])
        assert any(x.startswith("action: its native command at # Hz") for x in r["tier_notes"])  # a note, grouped


def test_a_single_robot_export_puts_its_command_in_action(corpus: SimpleNamespace) -> None:
    out = corpus.tmp / "single"
    results = export_corpus(corpus.root, out)
    ds = next(iter(p for p in results if p.startswith("lingzu")))
    assert results[ds][0] == "written" and "action from action.native" in results[ds][1], results
    canonical = _column(corpus.root / "datasets" / ds, ACTION)
    assert canonical.std(axis=0).max() == 0.0  # what `action` held before: padding, one row
    exported = _column(out / ds, ACTION)
    info = json.loads((out / ds / "meta" / "info.json").read_text())
    assert info["features"][ACTION]["shape"] == [34] and info["features"][ACTION]["info"]["from"] == ACTION_NATIVE
    assert info["features"][STATE]["shape"] == [34]
    assert exported.std(axis=0).max() > 0  # an action that moves
    # equal to the raw command at 10 Hz: the raw rows at k/10 s (30 fps: every third), episode by episode
    raw = corpus.raw["lingzu"]
    want = np.concatenate(
        [np.asarray(a, np.float64)[:: round(raw.fps / CANONICAL_FPS)] for a in raw.columns["actions"]]
    )
    assert exported.shape == want.shape and np.allclose(exported, want, atol=1e-5)


def test_a_mixed_export_is_one_dataset_per_robot(corpus: SimpleNamespace) -> None:
    """Two robots without a description, commands of 30 and 34 dims: lerobot holds one shape per feature, so one
    dataset per robot under OUT/NAME, none at OUT/NAME itself. No robot is named, so each is named by its source as
    the catalog has it (its lineage's: `lerobot` for both here, the adapter `ingest` names), then by its width."""
    curate(corpus.root, "both", "has_action", val_fraction=0.0)
    results = export_corpus(corpus.root, corpus.tmp / "mixed", manifest="both")
    assert sorted(results) == ["both/lerobot-30", "both/lerobot-34"], results
    assert not (corpus.tmp / "mixed" / "both" / "meta").exists()
    for name, width in (("both/lerobot-30", 30), ("both/lerobot-34", 34)):
        assert f"action native [{width}]" in results[name][1], results
        root = corpus.tmp / "mixed" / name
        info = json.loads((root / "meta" / "info.json").read_text())
        assert info["features"][ACTION]["shape"] == [width] and info["total_episodes"] == 2
        assert _column(root, ACTION).std(axis=0).max() > 0


def test_an_action_that_never_moves_is_refused_naming_the_episodes(corpus: SimpleNamespace) -> None:
    [folder] = (corpus.root / "datasets" / "lingzu").iterdir()
    ds = SourceDataset(folder, Corpus(corpus.root))
    refs = [EpisodeRef(ds, i) for i in sorted(ds.episodes)]
    check_action_moves(refs, ACTION_NATIVE, "lingzu")  # its command moves
    with pytest.raises(ConstantActionError, match=r"lingzu/.*episode.*: a constant column would stand in"):
        check_action_moves(refs, ACTION, "lingzu")  # the padding would not


def test_an_episode_declares_no_action_as_the_catalog_reads_its_kind() -> None:
    """`declares_no_action` reads each episode's kind as the catalog and the trainer do (`action_kind_in`): a lineage
    without `action_kind` or mask (another tool's) falls back on info.json, so an unmasked action vector is the
    dataset's own command, not a placeholder (the hand rule this replaced said 'none' and let a constant pass)."""
    from schemas.corpus import EpisodeLineage
    from schemas.lerobot import InfoJson

    def refs(lineage: dict, action_info: dict | None) -> list[EpisodeRef]:
        feature = {"dtype": "float32", "shape": [7], **({"info": action_info} if action_info is not None else {})}
        meta = InfoJson.model_validate({"fps": 10, "features": {ACTION: feature}})
        source = SimpleNamespace(meta=meta, episodes={0: {"episode_index": 0, "eidata": lineage}})
        source.lineage = lambda i: EpisodeLineage.of(source.episodes.get(i, {}))  # as `SourceDataset` reads a meta line
        return [EpisodeRef(source, 0)]  # type: ignore[arg-type]

    assert declares_no_action(refs({"action_kind": "none"}, None))
    assert declares_no_action(refs({"mask": [0] * 50}, None))
    assert not declares_no_action(refs({"mask": [1] * 50}, None))
    assert declares_no_action(refs({}, {"mask": [0] * 50}))
    assert not declares_no_action(refs({}, None))  # a foreign action vector without a mask: its own command
    assert not declares_no_action([])


@pytest.mark.slow
@pytest.mark.oracle
def test_lerobot_train_trains_on_the_command(corpus: SimpleNamespace, run_oracle_v30) -> None:
    from tests.jobs.export.lerobot_v3.test_clients import TRAIN_ARGS

    out = corpus.tmp / "train"
    results = export_corpus(corpus.root, out)
    ds = out / next(iter(p for p in results if p.startswith("lingzu")))
    args = [a for a in TRAIN_ARGS if not a.startswith("--steps")] + [f"--steps={TRAIN_STEPS}"]
    run = run_oracle_v30("train", ds, "--out", corpus.tmp / "runs", "--", *args, timeout=600)[str(ds)]
    assert run["ok"], (run.get("error"), run.get("where"))
    assert len(run["losses"]) == TRAIN_STEPS and all(math.isfinite(v) for v in run["losses"]), run


SO101 = "lerobot_so101_record_test"
SO101_FROM = "SamueleSandrini/record-test@c6d0de3:meta/,data/ -> lerobot_so101_record_test"


def test_a_real_so101_recording_in_uncalibrated_units_exports_its_command(tmp_path: Path) -> None:
    """A real LeRobot v3.0 SO-101 recording (4 episodes at 30 fps; its videos left out) whose joints are in lerobot's
    RANGE_M100_100 units with no calibration file: no canonical mapping, so its command is the action, exported
    alone equal to the raw `action` rows at k/10 s (every third row), per episode."""
    root = realdata(SO101)
    if root is None:
        pytest.skip(f"real sample absent: {SO101_FROM}")
    corpus, adapter, spec = tmp_path / "corpus", get_adapter("lerobot"), CanonicalizeSpec(image=ImageSpec(size="32x32"))
    for ref in adapter.discover(root):
        kept, why = ingest(adapter.read(ref), spec, corpus / dataset_dir("so101", ref.subset))
        assert kept, why
    rebuild_catalog(Corpus(corpus))
    query = "SELECT action_kind, tier, qa_trim_start FROM episodes ORDER BY episode_index"
    rows = run_query(corpus, query).to_pylist()
    assert len(rows) == 4 and all(r["action_kind"] == "native" and r["tier"] != "actionless" for r in rows), rows
    results = export_corpus(corpus, tmp_path / "out")
    (name,) = results
    assert results[name][0] == "written" and "action from action.native" in results[name][1], results
    exported = pq.read_table(sorted((tmp_path / "out" / name / "data").rglob("*.parquet")))
    raw = pq.read_table(sorted((root / "data").rglob("*.parquet")))
    got_ep = exported["episode_index"].to_numpy()
    got = np.stack(exported[ACTION].to_numpy(zero_copy_only=False)).astype(np.float64)
    raw_ep = raw["episode_index"].to_numpy()
    want_all = np.stack(raw["action"].to_numpy(zero_copy_only=False)).astype(np.float64)
    got_t = exported["timestamp"].to_numpy().astype(np.float64)
    for e, mine_e in zip(sorted(set(raw_ep.tolist())), sorted(set(got_ep.tolist())), strict=True):
        mine, t = got[got_ep == mine_e], got_t[got_ep == mine_e]
        assert np.allclose(t, np.arange(len(t)) / 10)
        start = rows[e]["qa_trim_start"] / 10  # idle seconds the behaviour QA cut (said in the tier reasons)
        want = want_all[raw_ep == e][np.round((t + start) * 30).astype(int)]  # 30 fps: the row at k/10 s
        np.testing.assert_allclose(mine, want, atol=1e-4, err_msg=f"episode {e}")
    assert got.std(axis=0).min() > 0  # every joint target moves
