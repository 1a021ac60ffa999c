"""The real AgiBot proprio_stats.h5 (`realdata("agibot_proprio_stats_real")`): a real robot's 14 arm joints at
~30 Hz (sensor noise, a real operator) give no behaviour finding, and a planted dead joint and NaN are found."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.canonical.limits import DimLimits
from ingest.qa.behaviour import measure_episode
from ingest.qa.findings import findings
from schemas.behaviour import BehaviourConfig
from tests.realdata import realdata

h5py = pytest.importorskip("h5py")
CFG = BehaviourConfig()


def load() -> tuple[np.ndarray, np.ndarray, DimLimits]:
    with h5py.File(realdata("agibot_proprio_stats_real/proprio_stats.h5")) as f:
        q, a = f["state/joint/position"][:], f["action/joint/position"][:]
    # no description for this arm here: its own range stands for the limits (the README: radians, 14 joints)
    return q, a, DimLimits.observed(q, ("rad",) * q.shape[1])


def test_clean_real_robot_episode() -> None:
    q, a, lim = load()
    rec = measure_episode(q, 30.0, lim, CFG, action=a)
    assert findings(rec, CFG) == []
    # measured: frozen 0.1 s, idle start ~1.0 s and end ~1.5 s, tracking 1.0 at lag 0 (the action log is the state)
    assert rec.state_frozen_s < CFG.frozen_state_s_low and rec.idle_start_s < 2 and rec.idle_end_s < 2


def test_planted_dead_joint_and_nan() -> None:
    q, a, lim = load()
    q = q.copy()
    q[:, 3] = q[0, 3]
    q[500, 5] = np.nan
    rec = measure_episode(q, 30.0, lim, CFG, action=a)
    assert rec.dead_dims == [3] and rec.nonfinite == 1
    assert {f.code for f in findings(rec, CFG)} >= {"qa_dead_dims", "qa_nonfinite"}
