"""Thresholds as data (schemas/thresholds.py): every TOML table becomes a typed field with its bounds and its
description, a bad value's error names its field, and a malformed table is refused naming file and field."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from pydantic import ConfigDict, ValidationError

from ingest.canonical.validity import check_validity
from ingest.qa.copies import CopyCheck
from ingest.qa.corpus import CopyPair, Judged, copy_verdicts
from ingest.qa.findings import BOUNDS, IDLE_BOUNDS, LAST_BOUNDS, findings
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord
from schemas.canonical import CANONICAL_DIM, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.canonicalize import CanonicalizeSpec, QualityConfig, ValidityConfig
from schemas.qa import QAConfig
from schemas.robots.registry import default_registry
from schemas.settings import TooLarge, check, limit
from schemas.thresholds import Keyed, threshold_fields, threshold_model
from schemas.tiers import QualityTier
from tests.fixtures.motion import two_hands

TOML = """
[speed]
default = 1.5
gt = 0
description = "a speed (m/s)"

[frames]
default = 8
ge = 2
description = "a count"

[trim]
default = true
description = "a switch"
"""


class _Base(Keyed):
    model_config = ConfigDict(extra="forbid", frozen=True)


def test_a_table_is_a_typed_bounded_field() -> None:
    fields = threshold_fields(TOML, "t.toml")
    assert [(k, t) for k, (t, _) in fields.items()] == [("speed", float), ("frames", int), ("trim", bool)]
    assert fields["speed"][1].description == "a speed (m/s)"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[a]\ndefault = 1.0\ngt = 0\nmax = 3\n", "[a]"),  # an unknown key, never ignored
        ("[b]\ngt = 0\n", "[b]"),  # no default
        ('[c]\ndefault = "x"\n', "[c]"),  # not a number
    ],
)
def test_a_malformed_table_names_file_and_field(text: str, field: str) -> None:
    with pytest.raises(ValueError, match=rf"t\.toml \{field}"):
        threshold_fields(text, "t.toml")


def test_the_config_models_keep_their_keys_and_name_a_bad_field() -> None:
    c = BehaviourConfig()
    assert type(c).__module__ == "schemas.behaviour" and c.static_pair_diff == 0.5 / 255
    for model, key, bad in [
        (BehaviourConfig, "tracking_corr_low", 2.0),
        (QAConfig, "min_in_image_fraction", -0.1),
        (QualityConfig, "min_frames", 1),
        (ValidityConfig, "min_length_frames", 0),
    ]:
        assert key in model.model_fields
        with pytest.raises(ValidationError) as err:
            model(**{key: bad})
        assert [e["loc"] for e in err.value.errors()] == [(key,)]


def test_a_model_is_its_base_with_the_fields(tmp_path) -> None:
    model = threshold_model("Planted", _Base, "quality.toml", "planted")
    assert issubclass(model, _Base) and model().min_frames == 5 and model.__name__ == "Planted"
    assert model().key("min_frames") == "planted.min_frames"


# --- every refusal by a setting names that setting (issue 97 item 5) ----------------------------------------------


def _validity(n: int = 100, *, speed: bool = False, confidence: float = 1.0, nan_from: int | None = None) -> str:
    """The refusal of `check_validity` on a Franka right hand moving slowly (a step of 3 m/s where `speed`), every
    frame's confidence `confidence`, NaN from frame `nan_from`."""
    state = np.zeros((n, CANONICAL_DIM), dtype=np.float32)
    wrist = hand_dims(1, WRIST_POS)
    state[:, wrist] = (np.linspace(0.3, 0.4, n) + (np.arange(n) % 2 * 0.3 if speed else 0.0))[:, None]
    state[:, hand_dims(1, WRIST_ROT6D)] = [1, 0, 0, 0, 1, 0]
    if nan_from is not None:
        state[nan_from:, wrist] = np.nan
    conf = np.full((n, 2), confidence)
    report = check_validity(
        state,
        mask=default_registry().get("franka").mask(),
        timestamps=np.arange(n) / 10.0,
        embodiment="franka",
        config=ValidityConfig(),
        confidence=conf,
    )
    assert report.rejected is not None
    return report.rejected


def _static_human() -> str:
    """Human hands that never move over 12 frames (HOT3D's Aria sample): cropped whole, no span left."""
    state = two_hands(12, frozen=(0, 12))
    report = check_validity(
        state,
        mask=default_registry().get("human").mask(),
        timestamps=np.arange(12) / 10.0,
        embodiment="human",
        config=ValidityConfig(),
        human=True,
    )
    assert report.rejected is not None
    return report.rejected


def _behaviour(code: str, **record: float) -> str:
    found = [f for f in findings(BehaviourRecord(**record), BehaviourConfig()) if f.code == code]
    [rejected] = [f for f in found if f.tier is QualityTier.rejected]  # a degenerate camera is also past its low bound
    return rejected.message


# The records crossing each quarantining bound of ingest/qa/behaviour_bounds.toml, by code
BEHAVIOUR = {
    "qa_nonfinite": {"nonfinite": 3},
    "qa_cam_frozen_fraction": {"cam_frozen_fraction": 0.9},
    "qa_cam_degenerate": {"cam_dark_fraction": 0.99, "cam_bright_fraction": 0.0, "cam_flat_fraction": 0.0},
    "qa_jump_range_fraction": {"jump_range_fraction": 0.9},
    "qa_idle_fraction": {"idle_fraction": 0.99, "idle_start_s": 5.0, "idle_end_s": 5.0},
}


def _too_large() -> str:
    with pytest.raises(TooLarge) as err:
        check("rows", 5e9, limit("ROWS"), "the ROWS limit")
    return str(err.value)


def _duplicate() -> str:
    """A copy judged with the thresholds `eidata verdicts` was given: named by that command's option."""
    config = BehaviourConfig().set_by("eidata verdicts --{flag}")
    check = CopyCheck(lag_frames=0.0, overlap=1.0, residual=0.0, dims=3)
    episodes = [Judged(u, "ds", "arm", [], None, None, frames=n, raw_fps=10.0) for u, n in (("a", 100), ("b", 90))]
    [found] = copy_verdicts([CopyPair("a", "b", 1.0, check)], episodes, config).values()
    return found.message


REFUSALS = [
    ("too short", lambda: _validity(5), ["canonicalize.validity.min_length_frames 10"]),
    ("mostly invalid", lambda: _validity(nan_from=40), ["canonicalize.validity.max_gap_fraction 0.50"]),
    (
        "low confidence",
        lambda: _validity(confidence=0.1),
        ["low_confidence 100 (canonicalize.validity.min_confidence)"],
    ),
    (
        "too fast",
        lambda: _validity(speed=True),
        ["speed 100 (canonicalize.validity.limits.franka.max_wrist_speed_m_s)"],
    ),
    (
        "static hands",
        _static_human,
        ["canonicalize.validity.min_length_frames 10", "static_hands 12 (canonicalize.validity.min_hand_motion_m)"],
    ),
    *(
        (code, lambda code=code, rec=rec: _behaviour(code, **rec), [f"canonicalize.behaviour.{setting}"])
        for code, _, _, tier, _, setting in BOUNDS
        if tier == "rejected"
        for rec in [BEHAVIOUR[code]]
    ),
    ("rows past the limit", _too_large, ["the setting max_rows (--settings FILE)"]),
    ("a copy", _duplicate, ["<= eidata verdicts --copy-tolerance 0.1"]),
]


@pytest.mark.parametrize(("refusal", "said", "keys"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_every_refusal_by_a_setting_names_that_setting(refusal: str, said: Callable[[], str], keys: list[str]) -> None:
    """Each refusal a setting's bound gives says where that setting is set (a job spec's key, a command's option, a
    --settings key), so its message says what to relax: HOT3D's "no span of at least min_length_frames 10" did not."""
    message = said()
    assert all(key in message for key in keys), message


def test_the_table_walks_every_quarantining_bound_of_the_behaviour_checks() -> None:
    assert set(BEHAVIOUR) == {code for code, _, _, tier, _, _ in BOUNDS if tier == "rejected"}
    assert not [row for row in (*IDLE_BOUNDS, *LAST_BOUNDS) if row[3] == "rejected"]


def test_a_key_names_a_field_or_nothing() -> None:
    assert CanonicalizeSpec().key("min_episode_s") == "canonicalize.min_episode_s"
    assert CanonicalizeSpec().validity.keeping_short("kept").key("min_length_frames").startswith("canonicalize.")
    for model, path in [
        (ValidityConfig, "validity"),
        (QualityConfig, "quality"),
        (QAConfig, "qa"),
        (BehaviourConfig, "behaviour"),
    ]:
        spec_key = model.SPEC_KEY
        assert spec_key == f"canonicalize.{path}" and CanonicalizeSpec.model_fields[path].annotation is model
    with pytest.raises(KeyError, match="'min_lenght_frames' is no field of ValidityConfig"):
        ValidityConfig().key("min_lenght_frames")
