"""The corpus contract (`schemas.corpus`): the lineage record through a real `episodes.jsonl`, the uid formula every
room uses, the quarantine row's arrow schema, and how datasets are found."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.base import EpisodeRef
from adapters.lerobot_format.files import read_jsonl
from adapters.lerobot_format.layout import find_datasets
from ingest.lerobot.writer import LeRobotWriter
from jobs.catalog.parts import write_quarantine_part
from schemas.actions import ActionKind
from schemas.behaviour_record import BehaviourRecord
from schemas.canonical import ACTION, HAND_KEYPOINTS, STATE
from schemas.corpus import (
    LINEAGE_KEY,
    QUARANTINE_DIR,
    QUARANTINE_SCHEMA,
    EpisodeLineage,
    QuarantineRow,
    dataset_dir,
    episode_uid,
    relative_posix,
    tier_fields,
)
from schemas.lerobot import EPISODES_PATH, InfoJson
from schemas.qa import QARecord
from schemas.robots.registry import default_registry
from schemas.tiers import QualityTier
from tests.fixtures.corpus import tier_now

LINEAGE = EpisodeLineage(
    episode_uid="bridge/bridge_dataset/train/00000/000001#span1",
    raw_uid="bridge/bridge_dataset/train/00000/000001",
    source="bridge",
    subset="bridge_dataset",
    raw_id="train/00000/000001#span1",
    raw_path="/raw/bridge.tfrecord",
    raw_fps=5,
    span_s=[0.4, 2.2],
    embodiment="widowx",
    tier=QualityTier.low,
    tier_reasons=["short"],
    success=None,
    mask=[1] * 10 + [0] * 40,
    interpolated_frames=3,
    validity={"speed": 1},
    pipeline_version="eidata-canon-1",
    source_annotation={"kind": "ego4d_goalstep", "goal": {"goal_description": "Makes the bread"}},
    qa=QARecord(frames=19, approach_down=1.0, approach_hist=[19] + [0] * 17, speed_p99=0.2),
    behaviour=BehaviourRecord(state_frozen_s=0.0, dead_dims=[], nonfinite=0, fingerprint=[7] * 32),
)


def _write(root: Path, extra: dict) -> dict:
    features = default_registry().get("widowx").features({})
    with LeRobotWriter.create(root, fps=10, features=features, robot_type="widowx") as w:
        b = w.stage("pick", label="ep", expected_frames=2)
        for _ in range(2):
            b.add_frame(
                {
                    STATE: np.zeros(50, np.float32),
                    ACTION: np.zeros(50, np.float32),
                    HAND_KEYPOINTS: np.zeros((2, 21, 3), np.float32),
                }
            )
        b.extra = extra
        w.commit(b.finish())
    [(_, line)] = list(read_jsonl(root / EPISODES_PATH))
    return line


def test_lineage_round_trips_through_episodes_jsonl(tmp_path: Path) -> None:
    line = _write(tmp_path / "ds", {LINEAGE_KEY: LINEAGE.to_json()})
    back = EpisodeLineage.of(line)
    assert back == LINEAGE and back.tier is QualityTier.low
    # every field it sets, in the model's order
    assert list(line[LINEAGE_KEY]) == [f for f in EpisodeLineage.model_fields if f in LINEAGE.model_fields_set]
    assert isinstance(line[LINEAGE_KEY]["raw_fps"], int)  # an integer rate stays an integer on disk


def test_a_record_written_back_keeps_exactly_its_keys() -> None:
    foreign = {"episode_index": 0, LINEAGE_KEY: {"caption": "wipe the table", "their_key": [1, 2]}}
    lin = EpisodeLineage.of(foreign)
    assert lin.caption_text() == "wipe the table" and lin.tier is None and lin.mask is None
    assert lin.to_json() == {"caption": "wipe the table", "their_key": [1, 2]}
    lin.caption = {"text": "wipe the table", "task_index": 2}
    assert lin.to_json() == {"caption": {"text": "wipe the table", "task_index": 2}, "their_key": [1, 2]}
    assert EpisodeLineage.of({"episode_index": 0}).to_json() == {}  # no lineage at all: nothing invented


@pytest.mark.parametrize("caption", [None, "", "  ", {"text": ""}, {"model": "x"}, 3])
def test_no_caption_text_without_a_real_caption(caption: object) -> None:
    assert EpisodeLineage.model_validate({"caption": caption} if caption != 3 else {}).caption_text() is None


def test_the_uid_formula_is_the_one_every_room_uses() -> None:
    ref = EpisodeRef(adapter="oxe", source="bridge", subset="bridge_dataset", raw_id="train/00000/000001", paths=())
    assert ref.uid == episode_uid("bridge", "bridge_dataset", "train/00000/000001")
    assert ref.uid == "bridge/bridge_dataset/train/00000/000001"
    assert dataset_dir("bridge", "bridge_dataset") == "datasets/bridge/bridge_dataset"


def test_quarantine_rows_are_written_with_the_contract_schema(tmp_path: Path) -> None:
    row = QuarantineRow(
        episode_uid="ego4d/default/v1/0",
        source="ego4d",
        subset="default",
        adapter="ego4d",
        raw_path="/raw/v1.mp4",
        stage="read",
        error_class="CorruptVideoError",
        message="unreadable mp4",
        file="/raw/v1.mp4",
        quarantined_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    path = write_quarantine_part(tmp_path, [row], "part-0")
    assert path.parent == tmp_path / QUARANTINE_DIR
    table = pq.read_table(path)
    assert table.schema.equals(QUARANTINE_SCHEMA)
    assert table.to_pylist()[0]["message"] == "unreadable mp4"
    with pytest.raises(ValueError):
        QuarantineRow.model_validate({**row.model_dump(), "stage": "train"})  # not a pipeline step


def test_datasets_are_found_and_nothing_else(tmp_path: Path) -> None:
    for rel in ("datasets/a/x", "datasets/b/y/z", "datasets/.hidden/q", "datasets/a/x/videos/nested"):
        (tmp_path / rel / "meta").mkdir(parents=True)
        (tmp_path / rel / "meta/info.json").write_text(json.dumps({}))
    assert find_datasets(tmp_path) == [tmp_path / "datasets/a/x", tmp_path / "datasets/b/y/z"]


def test_the_action_kind_is_the_lineage_s_else_read_from_the_mask() -> None:
    """`EpisodeLineage.action_kind_in`, the one reading of the kind (catalog, trainer)."""
    franka = default_registry().get("franka").mask().astype(int).tolist()
    with_action = InfoJson.model_validate({"fps": 10, "features": {ACTION: {"dtype": "float32", "shape": [50]}}})
    masked = InfoJson.model_validate(
        {"fps": 10, "features": {ACTION: {"dtype": "float32", "shape": [50], "info": {"mask": franka}}}}
    )
    bare = InfoJson.model_validate({"fps": 10, "features": {}})
    native = EpisodeLineage(action_kind=ActionKind.native, mask=[0] * 50)
    assert native.action_kind_in(bare) is ActionKind.native  # ingest's word, whatever the mask says
    assert EpisodeLineage(mask=franka).action_kind_in(bare) is ActionKind.canonical
    assert EpisodeLineage(mask=[0] * 50).action_kind_in(with_action) is ActionKind.none  # before issue 55
    assert EpisodeLineage().action_kind_in(masked) is ActionKind.canonical  # info.json's mask
    assert EpisodeLineage().action_kind_in(with_action) is ActionKind.native  # another tool's own action vector
    assert EpisodeLineage().action_kind_in(bare) is ActionKind.none


def test_a_lineage_keeps_its_verdicts_and_its_tier_is_computed_from_them() -> None:
    """Issue 69: `tier_fields` keeps each verdict as given (code, figures, step), the reason that set the tier first and
    each sentence once (issue 68), the tier and sentences computed from them; a round trip through JSON keeps them."""
    from schemas.tiers import QualityTier, TierVerdict

    cause = "no kinematic description for robot_type 'x': natives only"
    low = TierVerdict(tier=QualityTier.low, reason="corr 0.2 < 0.3", code="qa_tracking_corr", figures={"value": 0.2})
    gone = TierVerdict(tier=QualityTier.actionless, reason=f"missing actions: {cause}", code="quality_no_action")
    kept = tier_fields(QualityTier.high, [TierVerdict.note(cause, "source_no_description"), low, gone, low])
    lin = EpisodeLineage.model_validate(EpisodeLineage(**kept).to_json())
    assert lin.tier == QualityTier.actionless == tier_now(lin) and lin.tier_verdicts == [gone, low]
    assert lin.tier_reasons == [gone.reason, low.reason] and lin.tier_notes is None  # the cause said once
    assert tier_now(lin, overrule=["quality_no_action"]) == QualityTier.low
    assert tier_now(lin, overrule=["quality_no_action", "qa_tracking_corr"]) == QualityTier.high


@pytest.mark.parametrize(
    "old",
    [
        {"tier": "high", "tier_reasons": ["a unit read"]},  # before notes were told apart: all notes
        {"tier": "low", "tier_reasons": ["a unit read", "qa_jump_sigma: 9 > 6"], "tier_notes": ["a unit read"]},
        {"tier": "low", "tier_reasons": ["subset default low"]},
        {"tier": "actionless", "tier_reasons": []},
        {
            "tier": "rejected",
            "tier_reasons": ["failed", "qa_duplicate: copy"],
            "verdicts": {
                "thresholds": {},
                "tier_before": "low",
                "reasons_before": ["failed"],
                "found": [
                    {"code": "qa_duplicate", "tier": "rejected", "value": 0, "threshold": 0.1, "message": "copy"}
                ],
            },
        },
    ],
)
def test_a_lineage_written_before_verdicts_were_kept_reads_its_tier_through_its_sentences(old: dict) -> None:
    lin = EpisodeLineage.model_validate(old)
    default, kept = lin.kept_verdicts()
    assert tier_now(lin) == lin.tier and [v.reason for v in kept] == lin.tier_reasons
    codes = {v.code for v in kept} - {""}
    assert codes <= {"qa_jump_sigma", "qa_duplicate"}  # a finding's code read from its sentence: it can be overruled
    if "qa_duplicate" in codes:
        assert tier_now(lin, ["qa_duplicate"]) == "low" and default == "high"


def test_a_lineage_without_a_tier_has_no_verdict_to_read() -> None:
    with pytest.raises(ValueError, match="no tier"):
        EpisodeLineage(episode_uid="x/y/z").kept_verdicts()


# `relative_posix` names a path as `Path.relative_to` does, by its string where it can.
RELATIVE_CASES = [
    ("/c/datasets/a/b", "/c"),
    ("/c/datasets/a/b", Path("/c")),
    (Path("/c/datasets/.hidden/x.y"), "/c"),
    ("/c//datasets/./a/", "/c"),
    ("/c/datasets/../a", "/c"),
    ("c/datasets/a", "c"),
    ("datasets/a", "."),
    ("datasets/a", ""),
    ("/c/datasets/a", "/"),
    ("/c/x/../datasets/a", "/c/x/.."),
    ("/cd/datasets/a", "/cd"),
]


@pytest.mark.parametrize(("path", "folder"), RELATIVE_CASES)
def test_as_relative_to_names_it(path: str | Path, folder: str | Path) -> None:
    assert relative_posix(path, folder) == Path(path).relative_to(folder).as_posix()


@pytest.mark.parametrize(("path", "folder"), [("/cd/datasets/a", "/c"), ("/c", "/c/d"), ("c/a", "/c")])
def test_a_path_outside_the_folder_is_a_value_error(path: str, folder: str) -> None:
    with pytest.raises(ValueError):
        Path(path).relative_to(folder)
    with pytest.raises(ValueError):
        relative_posix(path, folder)
