"""`ingest.qa.corpus`: copies among fingerprint candidates, the one kept of a set of copies, the canonical dims
preferred to the natives, repetitions kept, dead dims against the dataset. Signals are given by a loader over arrays
(the verdict step's loader reads parquet: tests/jobs/verdicts)."""

from __future__ import annotations

import numpy as np

from ingest.canonical.limits import DimLimits
from ingest.qa.corpus import (
    Judged,
    Signals,
    blocks,
    compare,
    copies,
    copy_verdicts,
    dead_verdicts,
    unjudged_verdict,
    verify,
)
from ingest.qa.dataset import behaviour_messages, behaviour_summary
from ingest.qa.duplicates import fingerprint
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord
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
    search = copies(episodes, lambda uid: signals(eps[uid][0]), CFG)
    pairs = search.pairs
    assert search.unjudged_pairs == 0
    loads: list[str] = []
    held_one = copies(episodes, lambda uid: loads.append(uid) or signals(eps[uid][0]), CFG, held=1)
    assert held_one == search and len(loads) > len(set(loads))  # the same verdicts with one episode's signals held
    found = copy_verdicts(pairs, episodes, CFG)
    assert set(found) == {"a/trimmed", "c/half_rate"}
    assert {v.compared_with for v in found.values()} == {"b/original"}
    assert all(v.tier == QualityTier.rejected and v.value <= v.threshold for v in found.values())


def test_blocks_name_at_most_held_episodes_grouped_by_dataset_and_verify_loads_each_once() -> None:
    pairs = [(f"{ds}/{i}", f"{ds}/{j}", 0.9) for ds in ("b", "a") for i in range(5) for j in range(i + 1, 5)]
    dataset = lambda uid: uid.split("/")[0]  # noqa: E731
    cut = blocks(pairs, dataset, held=3)
    assert sorted(p for b in cut for p in b) == sorted(pairs)  # every pair once
    assert all(len({u for a, b, _ in block for u in (a, b)}) <= 3 for block in cut)
    assert all(len({dataset(a) for a, _, _ in block}) == 1 for block in cut)  # one dataset a block here
    assert [dataset(b[0][0]) for b in cut] == sorted(dataset(b[0][0]) for b in cut)
    x = reach(4)
    loads: list[str] = []
    checked = verify(cut[0], lambda uid: loads.append(uid) or signals(x), CFG)
    assert len(checked) == len(cut[0]) and sorted(loads) == sorted({u for a, b, _ in cut[0] for u in (a, b)})
    assert all(p.check.is_copy(CFG) for p in checked)  # the same signals: copies


def test_one_embodiment_only_and_the_canonical_state_first() -> None:
    x = reach(2)
    other_robot = [judged("a", x), judged("b", x[5:], embodiment="other")]
    assert copies(other_robot, lambda uid: signals(x), CFG).pairs == []
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


def test_pairs_never_compared_are_said_on_each_episode_and_validate_lists_them() -> None:
    x = reach(4)
    sharing = [judged(f"same/{k:03d}", x) for k in range(70)]  # 70 identical fingerprints: beyond the 64 compared
    search = copies(sharing, lambda uid: signals(x, prefix=uid), CFG)  # no column in common: quick to compare
    assert search.unjudged == {e.episode_uid: 70 for e in sharing}
    assert search.unjudged_pairs == 70 * 69 // 2 - len(search.pairs)
    note = unjudged_verdict(70)
    assert note.tier == QualityTier.high and note.code == "qa_duplicate_unjudged"
    b = behaviour_summary("ds", ["e0"], [BehaviourRecord()], ["t"], [100], CFG, [[note]])
    assert b is not None
    (message,) = [m for code, m, _, _ in behaviour_messages(b) if code == "qa_duplicate_unjudged"]
    assert (
        "1 of 1 episodes noted (lowers nothing)" in message
        and "one of 70 episodes with the same fingerprint" in message
    )


def test_dead_dims_findings_name_their_columns() -> None:
    """Issue 50 item 5: 'native state columns [7]' named the column by index only."""
    from ingest.qa.corpus import dead_verdict
    from schemas.canonical import STATE_NAMES

    names = ["discount.0", "observation/state:eef_rpy.roll", *[f"c{i}" for i in range(5)], "gripper.gripper_open"]
    native = dead_verdict("qa_native_dead_dims", [7], 0.71, BehaviourConfig(), names).message
    assert native.startswith("native state columns gripper.gripper_open [7] motionless while others move; 71%")
    canonical = dead_verdict("qa_dead_dims", [0, 1, 2, 3, 4, 5], 0.5, BehaviourConfig()).message
    assert canonical.startswith(f"canonical dims {STATE_NAMES[0]} [0], {STATE_NAMES[1]} [1], ")
    assert "and 2 more" in canonical
    assert dead_verdict("qa_native_dead_dims", [9], 0.6, BehaviourConfig(), names).message.startswith(
        "native state columns [9] motionless"  # a dataset without names: the index alone
    )
