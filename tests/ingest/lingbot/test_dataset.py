"""One canonical dataset as LingBot-VA reads it: the 30-dim action feature and its mask from info.json, each frame
table with only its action replaced, a clear refusal of what is not canonical, and English segment texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import load_info, read_jsonl
from ingest.lerobot.table import arrow_schema
from ingest.lingbot.action import lingbot_mask
from ingest.lingbot.dataset import (
    NotCanonicalError,
    dataset_mask,
    english_segments,
    episode_mask,
    lingbot_info,
    lingbot_table,
    vectors,
)
from schemas.canonical import ACTION, CANONICAL_DIM, STATE
from schemas.corpus import LINEAGE_KEY, EpisodeLineage
from schemas.lerobot import EPISODES_PATH, INFO_PATH, ActionSegment, InfoJson
from schemas.lerobot_features import FeatureSpec
from schemas.lingbot import LINGBOT_ACTION_DIM, LINGBOT_ACTION_NAMES
from schemas.robots.registry import default_registry
from tests.fixtures.corpus import episode, write_dataset


@pytest.fixture(scope="module")
def franka(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lingbot") / "franka"
    narrow = default_registry().get("franka").mask().astype(int).tolist()
    narrow[max(i for i, v in enumerate(narrow) if v)] = 0  # one dim this episode lacks (its lineage narrows it)
    return write_dataset(
        root,
        "franka",
        [episode(6, "pick", "franka/pick/e0", "franka"), episode(4, "pick", "franka/pick/e1", "franka", mask=narrow)],
    )


def test_masks_come_from_info_then_from_each_episodes_lineage(franka: Path) -> None:
    info = load_info(franka / INFO_PATH)
    mask = dataset_mask(info)
    assert mask.tolist() == [bool(v) for v in default_registry().get("franka").mask().astype(int).tolist()]
    lineages = [EpisodeLineage.model_validate(e[LINEAGE_KEY]) for _, e in read_jsonl(franka / EPISODES_PATH)]
    assert episode_mask(lineages[0], info).tolist() == mask.tolist()
    assert episode_mask(lineages[1], info).sum() == mask.sum() - 1
    no_own = lineages[0].model_copy(update={"mask": None})
    assert episode_mask(no_own, info).tolist() == mask.tolist()


def test_info_gets_the_30_dim_action_and_keeps_everything_else(franka: Path) -> None:
    info = load_info(franka / INFO_PATH)
    out = lingbot_info(info)
    act = out.features[ACTION]
    assert act.shape == (LINGBOT_ACTION_DIM,) and act.names == list(LINGBOT_ACTION_NAMES)
    assert act.info["mask"] == lingbot_mask(dataset_mask(info)).astype(int).tolist()
    assert act.info["embodiment"] == info.features[ACTION].info["embodiment"]
    assert {k: v for k, v in out.features.items() if k != ACTION} == {
        k: v for k, v in info.features.items() if k != ACTION
    }
    assert info.features[ACTION].shape == (CANONICAL_DIM,)  # the input is not changed


def test_frame_table_only_the_action_column_changes(franka: Path) -> None:
    info = load_info(franka / INFO_PATH)
    src = pq.read_table(franka / info.data_file(0))
    out_info = lingbot_info(info)
    table, actions = lingbot_table(src, out_info, dataset_mask(info))
    assert table.schema == arrow_schema(out_info.features)
    assert actions.shape == (src.num_rows, LINGBOT_ACTION_DIM) and actions.dtype == np.float32
    np.testing.assert_array_equal(vectors(table, ACTION, LINGBOT_ACTION_DIM), actions)
    for name in src.column_names:
        if name != ACTION:
            assert table.column(name).equals(src.column(name)), name
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['frame_index'\]"):
        lingbot_table(src.drop_columns(["frame_index"]), out_info, dataset_mask(info))


def test_a_dataset_that_is_not_canonical_is_refused_naming_the_feature(franka: Path) -> None:
    info = load_info(franka / INFO_PATH)
    short = info.model_copy(deep=True)
    short.features[STATE] = FeatureSpec(dtype="float32", shape=(7,))
    with pytest.raises(NotCanonicalError, match=r"feature 'observation\.state' is not eidata's canonical 50-dim"):
        dataset_mask(short)
    unmasked = info.model_copy(deep=True)
    unmasked.features[ACTION].info = {}
    with pytest.raises(NotCanonicalError, match=r"features\.action\.info\.mask is missing"):
        lingbot_info(unmasked)
    with pytest.raises(NotCanonicalError):
        dataset_mask(InfoJson(fps=10, features={}))


def test_english_segments_replace_the_text_and_keep_the_original() -> None:
    zh = ActionSegment(start_frame=0, end_frame=5, action_text="拿起杯子", english_action_text="pick up the cup")
    same = ActionSegment(start_frame=5, end_frame=9, action_text="place", english_action_text="place")
    plain = ActionSegment(start_frame=9, end_frame=12, action_text="wave")
    blank = ActionSegment(start_frame=12, end_frame=14, action_text="挥手", english_action_text="  ")
    out = english_segments([zh, same, plain, blank])
    assert [s.action_text for s in out] == ["pick up the cup", "place", "wave", "挥手"]
    assert out[0].model_extra["original_action_text"] == "拿起杯子"
    assert (out[0].start_frame, out[0].end_frame) == (0, 5)
    assert out[1:] == [same, plain, blank] and zh.action_text == "拿起杯子"
