"""`ingest.qa.corpus`: copies among fingerprint candidates, the one kept of a set of copies, the canonical dims
preferred to the natives, repetitions kept, dead dims against the dataset. Signals are given by a loader over arrays
(the verdict step's loader reads parquet: tests/jobs/verdicts)."""

from __future__ import annotations

import numpy as np

from ingest.qa.corpus import Judged, Signals, compare, copies, copy_verdicts, dead_verdicts
from ingest.qa.duplicates import fingerprint
from ingest.qa.state import DimLimits
from schemas.behaviour import BehaviourConfig
from schemas.tiers import QualityTier

CFG = BehaviourConfig()
LIM = DimLimits(np.full(3, -2.0), np.full(3, 2.0), ("rad",) * 3)


def reach(seed: int, n: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 10
    return rng.uniform(0.5, 1.0, 3) * np.sin(2 * np.pi * rng.uniform(0.05, 0.1, 3) * t[:, None] + rng.uniform(0, 1, 3))


def judged(uid: str, x: np.ndarray, embodiment: str = "arm", raw_fps: float = 30.0) -> Judged:
    fp = fingerprint(x, 10.0, LIM, CFG).tolist()
    return Judged(uid, "ds", embodiment, fp, None, None, frames=len(x), raw_fps=raw_fps)


def signals(x: np.ndarray, prefix: str = "native") -> Signals:
    return Signals(tuple(f"{prefix}.{d}" for d in range(x.shape[1])), x, np.full(x.shape[1], 2.0))


def test_the_longest_of_a_set_of_copies_is_kept_and_each_other_names_it() -> None:
    x = reach(1)
    eps = {
        "a/trimmed": (x[15:], 30.0),
        "b/original": (x, 30.0),
        "c/half_rate": (x.copy(), 15.0),  # as long, read at a lower rate
        "d/another_demo": (reach(1)[::-1].copy(), 30.0),  # same levels backwards: a candidate, not a copy
    }
    episodes = [judged(u, v, raw_fps=r) for u, (v, r) in eps.items()]
    pairs = copies(episodes, lambda uid: signals(eps[uid][0]), CFG)
    found = copy_verdicts(pairs, episodes, CFG)
    assert set(found) == {"a/trimmed", "c/half_rate"}
    assert {v.compared_with for v in found.values()} == {"b/original"}
    assert all(v.tier == QualityTier.rejected and v.value <= v.threshold for v in found.values())


def test_one_embodiment_only_and_the_canonical_state_first() -> None:
    x = reach(2)
    other_robot = [judged("a", x), judged("b", x[5:], embodiment="other")]
    assert copies(other_robot, lambda uid: signals(x), CFG) == []
    # the same recording exported twice: natives in another convention (negated), the canonical state equal
    a = Signals(("canonical.0", "canonical.1", "native.q"), np.c_[x[:, :2], x[:, 2]], np.full(3, 2.0))
    b = Signals(("canonical.0", "canonical.1", "native.q"), np.c_[x[:, :2], -x[:, 2]], np.full(3, 2.0))
    assert compare(a, b, CFG).is_copy(CFG) and compare(a, b, CFG).dims == 2
    natives_only = Signals(("native.q",), -x[:, 2:], np.full(1, 2.0))
    assert not compare(a, natives_only, CFG).is_copy(CFG)


def test_dead_dims_against_the_dataset() -> None:
    eps = [Judged(f"e{i}", "ds", "arm", None, [], [3] if i == 0 else []) for i in range(4)]
    (v,) = dead_verdicts(eps, CFG)["e0"]
    assert (v.code, v.tier, v.value, v.threshold) == ("qa_native_dead_dims", QualityTier.low, 1.0, 0.5)
    assert dead_verdicts(eps, CFG.model_copy(update={"dead_dims_share": 1.0}))["e0"]  # all others move it: still dead
    still_everywhere = [Judged(f"e{i}", "ds", "arm", None, [], [3]) for i in range(4)]
    assert dead_verdicts(still_everywhere, CFG) == {}  # a dim the dataset never moves is not dead
