"""The adapter contract's records (`adapters/base.py`): an error names adapter, file, episode and field and survives
discovery in a ref's locator; refs sort naturally and cross a process as JSON; streams, hand tracks and raw episodes
refuse what does not fit."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from adapters.base import (
    AdapterError,
    EpisodeRef,
    HandSignals,
    HandTrack,
    RawEpisode,
    Stream,
    natural_key,
    reraised,
)
from adapters.robomind.adapter import RoboMINDAdapter
from schemas.tiers import QualityTier


def _ref(raw_id: str, subset: str = "s", **locator: object) -> EpisodeRef:
    return EpisodeRef(adapter="robomind", source="robomind", subset=subset, raw_id=raw_id, paths=(), locator=locator)


def test_an_error_names_where_and_survives_discovery() -> None:
    err = AdapterError("is missing", adapter="robomind", file="/r/a.hdf5", episode="t/1", field="puppet/joint_position")
    assert str(err) == "adapter robomind, file /r/a.hdf5, episode t/1, field 'puppet/joint_position': is missing"
    assert str(AdapterError("bad root", adapter="x")) == "adapter x: bad root"
    ref = _ref("t/1", **err.locator())
    with pytest.raises(AdapterError) as again:
        RoboMINDAdapter().raise_discovered(ref)  # at read time, in another process
    assert (again.value.file, again.value.episode, again.value.field, again.value.reason) == (
        "/r/a.hdf5",
        "t/1",
        "puppet/joint_position",
        "is missing",
    )
    RoboMINDAdapter().raise_discovered(_ref("t/2"))  # no error recorded: nothing raised


def test_reraised_translates_only_the_errors_named_and_keeps_the_cause() -> None:
    def fail(e: Exception) -> AdapterError:
        return AdapterError(f"unreadable: {e}", adapter="x", file="/r/f.json", field="doc")

    with pytest.raises(AdapterError, match=r"file /r/f.json, field 'doc': unreadable: bad") as raised:
        with reraised((OSError, ValueError), fail):
            raise ValueError("bad")
    assert isinstance(raised.value.__cause__, ValueError)
    with pytest.raises(KeyError), reraised(ValueError, fail):  # another error passes through as it is
        raise KeyError("k")
    with reraised(ValueError, fail):  # nothing raised: nothing made
        pass


def test_refs_sort_naturally_and_cross_a_process_as_json() -> None:
    refs = [_ref("task_327/2"), _ref("task_98/10"), _ref("task_98/9"), _ref("x", subset="a")]
    assert [r.raw_id for r in sorted(refs, key=lambda r: r.sort_key)] == ["x", "task_98/9", "task_98/10", "task_327/2"]
    assert natural_key("a10b") == ((1, "a"), (0, 10), (1, "b"))
    assert EpisodeRef.model_validate_json(refs[0].model_dump_json()) == refs[0]
    with pytest.raises(ValidationError):
        refs[0].raw_id = "other"  # frozen: a ref is an identity
    assert refs[0].uid == _ref("task_327/2").uid != refs[1].uid


def test_streams_tracks_and_episodes_refuse_what_does_not_fit() -> None:
    t = np.arange(4) / 10
    with pytest.raises(ValueError, match="4 timestamps for 3 values"):
        Stream(t, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="'quat_wxyz' is not one of"):
        HandTrack(position=Stream(t, np.zeros((4, 3))), rotation=Stream(t, np.zeros((4, 4)), unit="quat_wxyz"))
    with pytest.raises(ValueError, match="euler_xyz wrist rotation needs a position stream"):
        HandTrack(rotation=Stream(t, np.zeros((4, 3)), unit="euler_xyz"))
    assert HandTrack(rotation=Stream(t, np.tile(np.eye(4), (4, 1, 1)), unit="se3_4x4")).has_wrist
    assert HandSignals().empty and not HandSignals(hands={0: HandTrack(gripper=Stream(t, np.ones((4, 1))))}).empty
    ep = RawEpisode(_ref("e"), None, "franka", QualityTier.high, 10.0, states={"q": Stream(t, np.zeros((4, 7)))})
    assert ep.duration_s == pytest.approx(0.3) and not ep.has_action
