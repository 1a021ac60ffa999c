"""What one LeRobot v3.0 export holds, planned on a tiny corpus (conftest.py): a whole dataset as it is; a manifest
across sources with only the features every dataset declares alike (the natives, which differ by robot, left out
with a note), the most common camera, episodes at another camera size resized to it, train before val, lineage
columns per episode; selections that cannot be one dataset refused naming the cause."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from jobs.catalog.curate import curate
from jobs.catalog.rows import dataset_rows
from jobs.export.lerobot_v3.cameras import PlanError
from jobs.export.lerobot_v3.job import manifest_groups
from jobs.export.lerobot_v3.plan import PADDING, PADDING_KEY, _lineage_columns, dataset_plan, manifest_plan
from jobs.export.lerobot_v3.source import SourceDataset
from schemas.canonical import ACTION, STATE, STATE_NATIVE
from schemas.corpus import EPISODES_DIR, LINEAGE_KEY
from schemas.export_layout import ACTION_MASK_COLUMN, CAPTION_COLUMN, camera_source_column, intrinsics_column
from schemas.lerobot import EPISODES_PATH, INFO_PATH
from tests.jobs.export.lerobot_v3.conftest import REAL_MIX

HEAD = "observation.images.head"


def test_a_whole_dataset_keeps_its_features_tasks_and_natives(tiny_corpus: Path) -> None:
    bridge = tiny_corpus / "datasets/oxe/bridge"
    plan = dataset_plan(Corpus(tiny_corpus), bridge, "bridge", None)
    assert [e.episode_index for e in plan.episodes] == [0, 1, 2] and plan.fps == 10
    assert {STATE, ACTION, STATE_NATIVE, HEAD} <= set(plan.features) and plan.robot_type == "franka"
    assert plan.keep_tasks == {0: "pick", 1: "open the drawer"} and plan.sources == [bridge]
    assert HEAD not in dataset_plan(Corpus(tiny_corpus), bridge, "bridge", ["none"]).features


def test_a_manifest_becomes_one_dataset_of_what_all_declare_alike(tiny_corpus: Path) -> None:
    plan = manifest_plan(Corpus(tiny_corpus), "all", None)
    assert STATE_NATIVE not in plan.features and {STATE, ACTION, HEAD} <= set(plan.features)
    # over the datasets exported (the clip's too: its smaller camera is resized, jobs/export/resize.py)
    assert plan.notes == [f"feature {STATE_NATIVE} left out: 3 of 3 datasets declare it, not identically"]
    # the per-dataset embodiment mask is an episode column instead; the info says what an unused dim holds
    assert plan.features[ACTION]["info"] == {PADDING_KEY: PADDING} and plan.masked_stats
    assert not plan.skipped and plan.features[HEAD]["shape"][:2] == [32, 48]  # the most common size
    clip = next(e for e in plan.episodes if e.extra["episode_uid"] == "oxe/clips/c0")
    assert set(clip.resize) == {HEAD} and clip.resize[HEAD].in_hw == (16, 24) and clip.resize[HEAD].out_hw == (32, 48)
    assert plan.resizing is not None and plan.resizing.table() == (  # a row per source and camera
        "frames resized in 1 of 6 episodes (--frame-size auto, --frame-fit pad):\n"
        "  source     camera  from   to     episodes  shrink\n"
        "  oxe/clips  head    24x16  48x32  1         none (enlarged)"
    )
    assert len(plan.episodes) == 6 and plan.splits == {"train": "0:6"} and plan.robot_type == "franka+human"
    extra = {e.extra["episode_uid"]: e.extra for e in plan.episodes}
    assert extra["egodex/basic/h1"]["weight"] > 0
    layout = {ACTION_MASK_COLUMN, CAPTION_COLUMN, intrinsics_column(HEAD)}  # tests/jobs/export/test_layout.py
    assert {k: v for k, v in extra["egodex/basic/h1"].items() if k != "weight" and k not in layout} == {
        "source": "egodex",
        "subset": "basic",
        "embodiment": "human",
        "tier": "high",
        "episode_uid": "egodex/basic/h1",
        "split": "train",
        "source_dataset": "datasets/egodex/basic",
        "source_episode_index": 1,
    }
    assert layout <= set(extra["egodex/basic/h1"]) and extra["egodex/basic/h1"][ACTION_MASK_COLUMN] is not None
    assert plan.features["frame.interpolated"]["dtype"] == "bool" and "observation.interpolated" not in plan.features


def test_train_episodes_come_before_val(tiny_corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "c"
    shutil.copytree(tiny_corpus, root)
    curate(root, "split", "source = 'oxe'", val_fraction=0.34)
    plan = manifest_plan(Corpus(root), "split", None)
    splits = [e.extra["split"] for e in plan.episodes]
    assert splits == sorted(splits, key=lambda s: s != "train") and "val" in splits
    n = splits.count("train")
    assert plan.splits == {"train": f"0:{n}", "val": f"{n}:{len(splits)}"}


def test_selections_that_cannot_be_one_dataset_are_refused(tiny_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"no entries\.parquet; .* manifests all; `eidata curate .* --name missing"):
        manifest_plan(Corpus(tiny_corpus), "missing", None)
    root = tmp_path / "c"
    shutil.copytree(tiny_corpus, root)
    info = root / "datasets/egodex/basic" / INFO_PATH
    info.write_text(json.dumps({**json.loads(info.read_text()), "fps": 30}))
    with pytest.raises(PlanError, match=r"manifest all: datasets at different rates \[10, 30\]"):
        manifest_plan(Corpus(root), "all", None)
    shutil.rmtree(root / "datasets/egodex/basic")  # review 6 (newcomer): a raw FileNotFoundError traceback before
    with pytest.raises(PlanError, match=r"manifest all names datasets this corpus lacks \(datasets/egodex/basic\)"):
        manifest_plan(Corpus(root), "all", None)


# -- camera roles across sources (issue 50 item 2): real GR00T (head) and Bridge (third_person) episodes ----------
PRIMARY = "observation.images.primary"


def test_a_mixed_manifest_exports_every_episode_in_the_primary_slot(real_mix: Path) -> None:
    """Before: the camera most episodes have (GR00T's head) was kept and every Bridge episode skipped, exit 0."""
    plan = manifest_plan(Corpus(real_mix), REAL_MIX, None)
    assert len(plan.episodes) == 5 and not plan.skipped
    assert [k for k, ft in plan.features.items() if ft["dtype"] == "video"] == [PRIMARY]
    held = {e.extra["source"]: e.extra[camera_source_column(PRIMARY)] for e in plan.episodes}
    assert held == {"lerobot": "observation.images.head", "oxe": "observation.images.third_person"}
    assert {e.camera(PRIMARY) for e in plan.episodes} == set(held.values())
    assert plan.robot_type == "gr1+widowx"  # each episode's own in its `embodiment` column
    assert STATE_NATIVE not in plan.features  # two robots' natives are not one feature: said in the notes
    assert any(n.startswith(f"feature {STATE_NATIVE} left out") for n in plan.notes)
    assert sum(e.extra["weight"] for e in plan.episodes) == pytest.approx(5)


def test_an_export_that_would_leave_out_a_source_is_refused_unless_allowed(real_mix: Path) -> None:
    with pytest.raises(PlanError, match=r"leave out source oxe: 3 episodes, 3 no camera observation\.images\.head"):
        manifest_plan(Corpus(real_mix), REAL_MIX, ["head"])
    plan = manifest_plan(Corpus(real_mix), REAL_MIX, ["head"], allow_dropped_sources=True)
    assert len(plan.episodes) == 2 and plan.skipped == {f"no camera {HEAD}": 3}
    assert plan.notes[0] == "source oxe left out (--allow-dropped-sources): 3 episodes, 3 no camera " + HEAD
    # what is exported is one robot: its natives kept, its robot_type set, the weights of mean 1 over it
    assert {STATE_NATIVE, HEAD} <= set(plan.features) and plan.robot_type == "gr1"
    assert sum(e.extra["weight"] for e in plan.episodes) == pytest.approx(2)
    assert all(not e.cameras for e in plan.episodes)


def test_no_video_and_several_cameras(real_mix: Path) -> None:
    none = manifest_plan(Corpus(real_mix), REAL_MIX, ["none"])
    assert len(none.episodes) == 5 and not any(ft["dtype"] == "video" for ft in none.features.values())
    with pytest.raises(PlanError, match=r"source lerobot: 2 episodes, 2 no camera observation\.images\.third_person"):
        manifest_plan(Corpus(real_mix), REAL_MIX, ["head", "third_person"])  # each names its missing camera
    with pytest.raises(PlanError, match=r"'none' \(no video\) cannot be named with cameras"):
        manifest_plan(Corpus(real_mix), REAL_MIX, ["none", "head"])
    # a slot beside a camera: GR00T has no camera left for `wrist`, Bridge none either: both would be left out
    with pytest.raises(PlanError, match=r"source lerobot: .* no camera observation\.images\.wrist.*source oxe"):
        manifest_plan(Corpus(real_mix), REAL_MIX, ["primary", "wrist"])
    with pytest.raises(PlanError, match=r"camera 'top' is not among .*slots \['primary', 'wrist'\]"):
        manifest_plan(Corpus(real_mix), REAL_MIX, ["top"])


def test_an_episode_without_lineage_is_exported_under_the_source_and_subset_the_catalog_gives_it(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    """A dataset of another tool nested below its source (datasets/ext/group/foreign) was exported as source
    `group`, subset `foreign`, where the catalog its manifest was selected from says `ext`, `group/foreign`: one rule
    for both now (`jobs.catalog.rows.folder_names`)."""
    root = tmp_path / "corpus"
    foreign = root / "datasets/ext/group/foreign"
    shutil.copytree(tiny_corpus / "datasets/oxe/bridge", foreign)
    lines = [json.loads(line) for line in (foreign / EPISODES_PATH).read_text().splitlines()]
    (foreign / EPISODES_PATH).write_text(
        "".join(json.dumps({k: v for k, v in x.items() if k != LINEAGE_KEY}) + "\n" for x in lines)
    )
    row = dataset_rows(root, foreign)[0][0]
    columns = _lineage_columns(SourceDataset(foreign, Corpus(root)), row.episode_index, "datasets/ext/group/foreign")
    assert (columns["source"], columns["subset"]) == (row.source, row.subset) == ("ext", "group/foreign")


def test_a_manifest_of_one_episode_holds_that_episode_and_reads_no_stats(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 75: a plan over 1 of a dataset's 3 episodes holds that episode's line, cut to what a plan reads, and
    parses no other line of its dataset; no episode's stats are read for a canonical plan (the old code held every
    named dataset's lines and stats whole). Read from the meta: the catalog's parts removed (issue 99: with them,
    no line is parsed, tests/adapters/storage/test_plan_lines.py)."""
    root = tmp_path / "c"
    shutil.copytree(tiny_corpus, root)
    curate(root, "one", "episode_uid = 'oxe/bridge/e1'", val_fraction=0.0)
    shutil.rmtree(root / EPISODES_DIR)
    parsed: list[str] = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda s, *a, **k: parsed.append(s) or real(s, *a, **k))
    groups = manifest_groups(Corpus(root), root / "manifests" / "one", None, False)
    plan = manifest_plan(Corpus(root), "one", None, group=groups.groups[0])
    [ref] = plan.episodes
    assert ref.episode_index == 1 and set(ref.source.episodes) == {1}
    assert set(ref.line) <= {"episode_index", "tasks", "length", LINEAGE_KEY} and "qa" not in ref.line[LINEAGE_KEY]
    assert ref.line[LINEAGE_KEY]["episode_uid"] == "oxe/bridge/e1"
    lines = [s for s in parsed if str(s).startswith('{"episode_index"')]  # not info.json's feature
    assert len(lines) == 1, lines  # its line, once (the plan reuses the groups' read); no other line, no stats line
    assert "stats" not in ref.source.__dict__


def test_a_ref_reads_one_column_as_its_extra_holds_it(tiny_corpus: Path) -> None:
    """`EpisodeRef.column` is `extra[name]` without making the mapping of every column (a plan reads one or two per
    episode: the group's dataset, the weight, issue 99); a column it lacks is the default."""
    from jobs.export.lerobot_v3.episodes import EpisodeRef

    src = SourceDataset(tiny_corpus / "datasets/oxe/bridge", Corpus(tiny_corpus), {0})
    ref = EpisodeRef(src, 0, {"source_dataset": "datasets/oxe/bridge", "weight": 0.5, "split": None})
    assert [ref.column(k) for k in ref.extra] == list(ref.extra.values()) == ["datasets/oxe/bridge", 0.5, None]
    assert ref.column("tier") is None and ref.column("tier", "high") == "high"
