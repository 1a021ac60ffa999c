"""`robots.eef_offsets` looked up by the names episodes really carry: TFDS builder names (OXE aliases) and the AgiBot
adapter's source name. canonicalize passes `ref.subset` (the builder name) and `ref.source`."""

from __future__ import annotations

import pytest

from adapters.agibot.adapter import AgibotOptions
from adapters.oxe.subsets import SUBSETS
from schemas.robots.eef_offsets import DATASET_ALIASES, RECORDED_POINT, eef_offset_for, recorded_point
from schemas.transform import RigidTransform

ALIASES = [(s.name, alias) for s in SUBSETS.values() for alias in s.aliases]


def test_the_table_has_aliases_to_check() -> None:
    assert ("bridge", "bridge_dataset") in ALIASES and ("droid", "droid_100") in ALIASES
    assert ("fractal20220817_data", "rt1") in ALIASES


@pytest.mark.parametrize(("subset", "alias"), ALIASES)
def test_every_oxe_alias_gets_its_subsets_offset(subset: str, alias: str) -> None:
    cfg = SUBSETS[subset]
    assert recorded_point(alias, "oxe")[0] == recorded_point(subset, "oxe")[0]
    assert eef_offset_for(cfg.embodiment, alias, "oxe")[0] == eef_offset_for(cfg.embodiment, subset, "oxe")[0]
    assert DATASET_ALIASES[alias] == subset  # the alias table mirrors adapters/oxe/subsets.yaml


def test_every_alias_points_at_a_listed_dataset() -> None:
    assert set(DATASET_ALIASES.values()) <= set(RECORDED_POINT)
    assert not set(DATASET_ALIASES) & set(RECORDED_POINT)  # an alias never shadows a dataset of its own


def test_real_bridge_builder_gets_the_widowx_tool_offset() -> None:
    off, why = eef_offset_for("widowx", "bridge_dataset", "oxe")
    assert off != RigidTransform.identity() and "records the TCP" in why
    assert abs(sum(c * c for c in off.translation) ** 0.5 - 0.093575) < 1e-9


def test_agibot_default_source_records_the_flange() -> None:
    source = AgibotOptions().source
    point, why = recorded_point("task_327", source)
    assert point == "flange" and "flange" in why
    off, note = eef_offset_for("agibot_gripper", "task_327", source)
    assert off == RigidTransform.identity() and "'flange'" in note


def test_unlisted_names_stay_unknown() -> None:
    assert recorded_point("my_franka_set", "oxe")[0] == "unknown"
    assert eef_offset_for("franka", "my_franka_set", "oxe")[0] == RigidTransform.identity()


@pytest.mark.parametrize(
    "subset",
    [
        "viola",
        "austin_buds_dataset_converted_externally_to_rlds",
        "utaustin_mutex",
        "austin_sirius_dataset_converted_externally_to_rlds",
        "kaist_nonprehensile_converted_externally_to_rlds",
    ],
)
def test_libfranka_o_t_ee_sets_record_the_franka_hand_tcp(subset: str) -> None:
    """UT Austin's deoxys sets store libfranka's O_T_EE (deoxys never calls setEE: Desk's end effector, the Franka
    Hand's TCP 0.1034 m past the flange); KAIST's TFDS text names the tool frame between the fingers: the wrist is
    0.1034 m back along the hand's z."""
    point, why = recorded_point(subset, "oxe")
    assert point == "tcp" and ("O_T_EE" in why or "between" in why or "center of the two fingers" in why), why
    off, _ = eef_offset_for(SUBSETS[subset].embodiment, subset, "oxe")
    assert off.translation == (0.0, 0.0, -0.1034)
