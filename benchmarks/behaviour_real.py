"""Behaviour QA on real recordings through the real pipeline: how many clean episodes it demotes (false demotions)
and how many planted glitches, plateaus and frozen streams it demotes with their reason (recall).

    .venv/bin/python -m benchmarks.behaviour_real [--g1 ../notes/g1] [--agibot DIR] [--seeds 2]
    .venv/bin/python -m benchmarks.behaviour_real --smoke      # two episodes a dataset: runs, measures nothing

Each raw episode is read by its adapter and canonicalized (`canonicalize_spans`: the 10 Hz grid, validity, the
behaviour phase with `BehaviourConfig()`'s defaults) as `eidata ingest` does; cameras are left out (the G1 set has no
videos; the camera checks run on the frames the writer encodes and are not what this measures).

Real datasets (none written by us):

- g1: a Unitree G1 Inspire teleoperation set, LeRobot v2.1, 100 episodes of one task at 30 Hz (MIT, github
  YifanTian07/G1-policy-train @ d1d3bb4; not redistributable: give its folder with --g1, skipped with a message
  when absent);
- gr00t: the GR00T PickNPlace sample (`gr00t_robot_sim_picknplace`, tests/REAL_SAMPLES.md, 5 episodes, GR1 at 20 Hz);
- bridge: the Bridge RLDS debug shard (`octo_bridge_debug_rlds`, 25 episodes, train and val copies both read: 50, WidowX
  eef pose at 5 Hz);
- agibot: a real AgiBot World `proprio_stats.h5` (soul667/DatasetTools @ 8971d93 `scripts/proprio_stats.h5`, one
  episode, 14 arm joints at 30 Hz; no licence stated, so not redistributable: give the folder holding it with
  --agibot, skipped with a message when absent; read by the adapter's own `read_proprio`, no videos or task_info exist
  for it).

Planted, in a copy of each raw episode at its native rate, in the state only (the command stays as recorded), at a
seeded random frame in the middle 60 %:

- jump: +0.8 rad on the three wrist joints of one arm (right on even episodes, left on odd: a resting arm too) for
  0.1 s (at least one frame); also at 0.4 and 0.2 rad, to show where it stops seeing them;
- clamp: one moving arm joint clipped at its 65th percentile: held at one value, inside its range, on 35 % of frames;
- clamp_both: the same joint clipped in the state AND its action column at that value (a software limit narrower
  than the robot's: the command holds too, so no hold check sees it; `qa_clamp_fraction`);
- frozen: every state stream held at one row for 1.0 s (episodes of 3 s or more);
- arm_frozen: the moving arm's joints held at one row for 1.0 s, in a second where that arm moves, while the rest
  records (its stream on GR00T, its 7 columns of the one state stream on G1 and AgiBot).

Rates: a clean episode is falsely demoted when any behaviour finding lowers its tier (`qa_*` reasons), the new
checks' share given apart; a planted one is found when its tier is low with the defect's own finding among the
reasons (jump: qa_glitch_value, clamp: qa_plateau_fraction, clamp_both: qa_clamp_fraction, frozen: qa_state_frozen_s,
arm_frozen: qa_stream_frozen_s). Beside each, in the same
run, the reference: what the checks before glitches and plateaus gave (the same findings less qa_glitch_value and
qa_plateau_fraction and qa_stream_frozen_s: for a jump, qa_jump_* is the old finding, for a freeze
qa_state_frozen_s). Cost: the glitch and plateau checks per clean
episode beside every array check of the behaviour phase (`measure_arrays`, which includes them), median ms, one
process. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from adapters.agibot.proprio import FPS as AGIBOT_FPS
from adapters.agibot.proprio import read_proprio
from adapters.agibot_g1 import hand_signals
from adapters.base import EpisodeRef, RawEpisode
from adapters.registry import get_adapter
from adapters.storage.location import locate
from benchmarks._cli import parse_args
from benchmarks._machine import ROOT, log
from ingest.qa.phase import measure_arrays, signal_checks
from schemas.behaviour_record import BehaviourRecord
from schemas.canonicalize import CanonicalizeSpec
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepare
from tests.realdata import realdata

SPEC = CanonicalizeSpec()
NEW = ("qa_glitch_value", "qa_plateau_fraction", "qa_stream_frozen_s", "qa_clamp_fraction")
EXPECT = {
    "jump": "qa_glitch_value",
    "clamp": "qa_plateau_fraction",
    "clamp_both": "qa_clamp_fraction",
    "frozen": "qa_state_frozen_s",
    "arm_frozen": "qa_stream_frozen_s",
}
FINDING = re.compile(r"qa_\w+: ")  # a finding's reason (`findings.route`); "qa_idle trimmed (...)" is a cut, kept
OLD_JUMP = ("qa_jump_sigma", "qa_jump_rad_s", "qa_jump_m_s", "qa_jump_range_fraction")


@dataclass(frozen=True)
class Arms:
    """Where one source keeps its arm joints: (state stream, wrist columns, every arm column) per side."""

    right: tuple[str, tuple[int, ...], tuple[int, ...]]
    left: tuple[str, tuple[int, ...], tuple[int, ...]]


# G1: observation.state names kLeftShoulderPitch..kLeftWristYaw (0-6), kRight... (7-13), hands after (meta/info.json).
# GR1 (GR00T): state.{left,right}_arm motors shoulder pitch/roll/yaw, elbow, wrist yaw/roll/pitch (modality.json).
# AgiBot: state/joint/position left [:7], right [7:], the last three of each arm its wrist (adapters/agibot).
# Bridge: the eef pose; its "wrist" is the eef roll/pitch/yaw and it has no joints to clamp.
G1, AGIBOT, GR1, EEF = "observation.state", "joint.position", "state.{}_arm", "observation/state:eef_rpy"
ARMS = {
    "g1": Arms((G1, (11, 12, 13), tuple(range(7, 14))), (G1, (4, 5, 6), tuple(range(7)))),
    "gr00t": Arms((GR1.format("right"), (4, 5, 6), tuple(range(7))), (GR1.format("left"), (4, 5, 6), tuple(range(7)))),
    "agibot": Arms((AGIBOT, (11, 12, 13), tuple(range(7, 14))), (AGIBOT, (4, 5, 6), tuple(range(7)))),
    "bridge": Arms((EEF, (0, 1, 2), ()), (EEF, (0, 1, 2), ())),
}


def lerobot(root: Path) -> Iterator[RawEpisode]:
    a = get_adapter("lerobot")
    for ref in sorted(a.discover(root), key=lambda r: r.raw_id):
        yield a.read(ref)


def bridge(root: Path) -> Iterator[RawEpisode]:
    a = get_adapter("oxe")
    for ref in a.discover(root):  # the val split repeats train (discovery marks it): both are real recordings
        yield a.read(ref.model_copy(update={"error": None}))


def agibot(root: Path) -> Iterator[RawEpisode]:
    h5 = root / "proprio_stats.h5"
    a = get_adapter("agibot")

    def fail(msg: str, field: str) -> Exception:
        return a.error(msg, file=h5, episode="real", field=field)

    p = read_proprio(locate(h5), fail)
    ref = EpisodeRef(adapter="agibot", source="agibot", subset="real", raw_id="proprio_stats", paths=(str(h5),))
    hands = hand_signals(p.states, a.options.gripper_open_mm, a.options.gripper_closed_mm)
    yield RawEpisode(ref, "agibot_g1", p.embodiment, a.options.tier, AGIBOT_FPS, p.states, p.actions, hands=hands)


Judged = tuple[QualityTier, list[str], BehaviourRecord | None]


def canon(raw: RawEpisode, cost: list[tuple[float, float]] | None = None) -> list[Judged]:
    """(tier, qa_* finding codes, behaviour record) of each episode canonicalization makes of `raw`, cameras left
    out. `cost`: gets, per episode, the seconds of the glitch and plateau checks and of all the array checks
    (`measure_arrays`, which includes them), timed again on the episode as canonicalized."""
    result = prepare(replace(raw, cameras={}, verdicts=raw.verdicts), SPEC)
    if not result.episodes:
        return [(QualityTier.rejected, [result.rejection_message() or "rejected"], None)]
    for ep in result.episodes if cost is not None else ():
        t0 = time.perf_counter()
        signal_checks(ep, SPEC.behaviour)
        t1 = time.perf_counter()
        measure_arrays(ep, SPEC.behaviour)
        cost.append((t1 - t0, time.perf_counter() - t1))
    return [
        (ep.tier, [r.split(":", 1)[0] for r in ep.tier_reasons if FINDING.match(r)], ep.behaviour)
        for ep in result.episodes
    ]


def margins(records: list[BehaviourRecord]) -> dict[str, object]:
    """What the clean episodes measure against the new bounds: the largest glitch per unit (value, sigmas), the
    largest plateau fraction, and how many episodes have a plateau judged (an arm joint with limits and a command)."""
    out: dict[str, object] = {}
    for unit in ("rad", "m", "span"):
        g = [r for r in records if r.glitch_unit == unit]
        if g:
            out[f"glitch_{unit}"] = max(r.glitch_value for r in g)
            out[f"glitch_{unit}_sigma"] = max(r.glitch_sigma for r in g)
    plateaus = [r.plateau_fraction for r in records if r.plateau_fraction is not None]
    out["plateau_judged"] = len(plateaus)
    out["plateau_max"] = max(plateaus, default=None)
    frozen = [r.stream_frozen_s for r in records if r.stream_frozen_s is not None]
    out["stream_frozen_max_s"] = max(frozen, default=None)
    return out


def with_state(raw: RawEpisode, stream: str, values: np.ndarray) -> RawEpisode:
    states = dict(raw.states)
    states[stream] = replace(states[stream], values=values.astype(states[stream].values.dtype))
    return replace(raw, states=states, verdicts=raw.verdicts)


def _frame(n: int, rng: np.random.Generator) -> int:
    return int(rng.integers(n // 5, max(n // 5 + 1, 4 * n // 5)))


def jump(raw: RawEpisode, arms: Arms, k: int, rng: np.random.Generator, size: float = 0.8) -> RawEpisode:
    stream, wrist, _ = arms.right if k % 2 == 0 else arms.left
    v = raw.states[stream].values.astype(np.float64).reshape(len(raw.states[stream]), -1).copy()
    f = _frame(len(v), rng)
    v[f : f + max(1, round(0.1 * (raw.native_fps or 10.0))), list(wrist)] += size
    return with_state(raw, stream, v.reshape(raw.states[stream].values.shape))


def clamp(raw: RawEpisode, arms: Arms, k: int, rng: np.random.Generator) -> RawEpisode | None:
    """A moving arm joint (range > 0.1 rad in this episode) clipped at its 65th percentile; None without one."""
    stream, _, cols = arms.right if k % 2 == 0 else arms.left
    if not cols:
        return None
    v = raw.states[stream].values.astype(np.float64).copy()
    moving = [c for c in cols if np.ptp(v[:, c]) > 0.1]
    if not moving:
        return None
    c = moving[int(rng.integers(len(moving)))]
    v[:, c] = np.minimum(v[:, c], np.quantile(v[:, c], 0.65))
    return with_state(raw, stream, v)


def clamp_both(raw: RawEpisode, arms: Arms, k: int, rng: np.random.Generator) -> RawEpisode | None:
    """`clamp` in the state AND the command: a moving arm joint and its action column both clipped at the state's
    65th percentile (a software limit set narrower than the robot's: the command never asks past it, the joint never
    reads past it); None without one or without its action column."""
    stream, _, cols = arms.right if k % 2 == 0 else arms.left
    if not cols:
        return None
    width = raw.states[stream].values.shape[1]
    keys = (stream.replace("observation.state", "action"), stream.replace("state.", "action.", 1), stream)
    act = next((key for key in keys if key in raw.actions and raw.actions[key].values.shape[1] == width), None)
    v = raw.states[stream].values.astype(np.float64).copy()
    moving = [c for c in cols if np.ptp(v[:, c]) > 0.1]
    if act is None or not moving:
        return None
    c = moving[int(rng.integers(len(moving)))]
    top = np.quantile(v[:, c], 0.65)
    v[:, c] = np.minimum(v[:, c], top)
    a = raw.actions[act].values.astype(np.float64).copy()
    a[:, c] = np.minimum(a[:, c], top)
    actions = dict(raw.actions)
    actions[act] = replace(actions[act], values=a.astype(raw.actions[act].values.dtype))
    return replace(with_state(raw, stream, v), actions=actions)


def frozen(raw: RawEpisode, arms: Arms, k: int, rng: np.random.Generator) -> RawEpisode | None:
    """Every state stream held for 1.0 s; None for an episode under 3 s (Bridge's 10 steps at 5 Hz: a held stretch
    there touches an end, which is idle, not frozen)."""
    n = len(next(iter(raw.states.values())))
    fps = raw.native_fps or 10.0
    if n < 3 * fps:
        return None
    f = _frame(n, rng)
    m = round(1.0 * fps)
    states = {}
    for key, s in raw.states.items():
        v = s.values.copy()
        v[f : f + m] = v[f]
        states[key] = replace(s, values=v)
    return replace(raw, states=states, verdicts=raw.verdicts)


def arm_frozen(raw: RawEpisode, arms: Arms, k: int, rng: np.random.Generator) -> RawEpisode | None:
    """The moving arm's joints (the arm whose joints travel farther) held at one row for 1.0 s while everything else
    records, where that arm moves (a random second among the 20 % in which it travels farthest: a resting arm held is
    what it recorded anyway); None without arm joints or under 3 s."""
    fps = raw.native_fps or 10.0
    m = round(1.0 * fps)
    sides = [a for a in (arms.right, arms.left) if a[2]]
    if not sides or len(raw.states[sides[0][0]]) < 3 * fps:
        return None
    travel = [np.abs(np.diff(raw.states[s].values[:, list(c)].astype(np.float64), axis=0)).sum() for s, _, c in sides]
    stream, _, cols = sides[int(np.argmax(travel))]
    v = raw.states[stream].values.astype(np.float64).copy()
    steps = np.abs(np.diff(v[:, list(cols)], axis=0)).sum(axis=1)
    moved = np.convolve(steps, np.ones(m), mode="valid")[: len(v) - m - 1]  # travel over [f, f + m)
    f = int(rng.choice(np.argsort(moved)[-max(1, len(moved) // 5) :]))
    v[f : f + m, list(cols)] = v[f, list(cols)]
    return with_state(raw, stream, v)


@dataclass
class Tally:
    episodes: int = 0
    demoted: int = 0  # by any behaviour finding
    demoted_new: int = 0  # by a glitch or plateau finding
    demoted_old: int = 0  # by the findings that existed before them
    codes: dict[str, int] | None = None

    records: list[BehaviourRecord] = field(default_factory=list)

    def add(self, eps: list[Judged]) -> None:
        self.codes = self.codes or {}
        for tier, codes, rec in eps:
            self.records += [rec] if rec is not None else []
            self.episodes += 1
            self.demoted += bool(codes) or tier == QualityTier.rejected
            self.demoted_new += any(c in NEW for c in codes)
            self.demoted_old += any(c not in NEW for c in codes) or tier == QualityTier.rejected
            for c in set(codes):
                self.codes[c] = self.codes.get(c, 0) + 1


def found(eps: list[Judged], code: str, old: tuple[str, ...]) -> tuple[bool, bool]:
    """(found by its own finding, found by the checks before glitches and plateaus). A clamp of state and command is
    found by qa_clamp_fraction, or by qa_plateau_fraction where the state lags its command enough that the command
    moves while the state holds (the real G1 teleop set)."""
    low = any(t in (QualityTier.low, QualityTier.rejected) for t, _, _ in eps)
    codes = {c for _, cs, _ in eps for c in cs}
    own = {code, "qa_plateau_fraction"} if code == "qa_clamp_fraction" else {code}
    return low and bool(codes & own), low and bool(codes & set(old))


def measure(name: str, raws: list[RawEpisode], seeds: int) -> dict[str, object]:
    arms = ARMS[name]
    clean = Tally()
    cost: list[tuple[float, float]] = []
    for raw in raws:
        clean.add(canon(raw, cost))
    out: dict[str, object] = {
        "episodes": clean.episodes,
        "false_demotion": clean.demoted / clean.episodes,
        "false_demotion_new_checks": clean.demoted_new / clean.episodes,
        "false_demotion_before": clean.demoted_old / clean.episodes,
        "clean_codes": clean.codes,
        "clean_measured": margins(clean.records),
        "ms_per_episode": 1e3 * float(np.median([c[0] for c in cost])),
        "ms_per_episode_all_array_checks": 1e3 * float(np.median([c[1] for c in cost])),
    }
    log(f"{name}: {clean.episodes} clean episodes, demoted {clean.demoted} ({clean.codes}); {out['clean_measured']}")
    plants: dict[str, Callable[..., RawEpisode | None]] = {
        "jump": jump,
        "jump_0.4rad": lambda r, a, k, g: jump(r, a, k, g, 0.4),
        "jump_0.2rad": lambda r, a, k, g: jump(r, a, k, g, 0.2),
        "clamp": clamp,
        "clamp_both": clamp_both,
        "frozen": frozen,
        "arm_frozen": arm_frozen,
    }
    for kind, plant in plants.items():
        code = EXPECT[kind.removesuffix("_0.4rad").removesuffix("_0.2rad")]
        old = OLD_JUMP if kind.startswith("jump") else ("qa_state_frozen_s",) if "frozen" in kind else ()
        hits = ref_hits = total = 0
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            for k, raw in enumerate(raws):
                p = plant(raw, arms, k, rng)
                if p is None:
                    continue
                new_hit, old_hit = found(canon(p), code, old)
                hits, ref_hits, total = hits + new_hit, ref_hits + old_hit, total + 1
        rate = (hits / total, ref_hits / total) if total else (None, None)
        out[kind] = {"planted": total, "recall": rate[0], "recall_before": rate[1]}
        log(f"  {kind}: {hits}/{total} found ({code}); before: {ref_hits}/{total}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--g1", type=Path, default=ROOT.parent / "notes" / "g1", help="the real G1 set's folder")
    parser.add_argument("--agibot", type=Path, help="the folder holding the real AgiBot proprio_stats.h5 (module doc)")
    parser.add_argument("--seeds", type=int, default=2, help="planted copies of each episode per defect")
    parser.add_argument("--limit", type=int, default=0, help="episodes a dataset at most (0: all)")
    args = parse_args(parser, {"seeds": 1, "limit": 2}, "two episodes a dataset, one seed")
    sources: dict[str, Callable[[], Iterator[RawEpisode]]] = {
        "gr00t": lambda: lerobot(realdata("gr00t_robot_sim_picknplace")),
        "bridge": lambda: bridge(realdata("octo_bridge_debug_rlds")),
    }
    if args.agibot is not None and (args.agibot / "proprio_stats.h5").is_file():
        sources["agibot"] = lambda: agibot(args.agibot)
    else:
        log(f"agibot: skipped, no proprio_stats.h5 in --agibot {args.agibot} (the module doc says where it comes from)")
    if (args.g1 / "meta" / "info.json").is_file():
        sources = {"g1": lambda: lerobot(args.g1), **sources}
    else:
        log(f"g1: skipped, no LeRobot dataset at {args.g1} (see the module doc for where it comes from)")
    results = {}
    for name, read in sources.items():
        raws = list(read())
        results[name] = measure(name, raws[: args.limit] if args.limit else raws, args.seeds)
    for name, r in results.items():
        print(
            f"{name:7s} {r['episodes']:4d} clean: false demotions {r['false_demotion']:.1%}"
            f" (glitch/plateau {r['false_demotion_new_checks']:.1%}; before {r['false_demotion_before']:.1%})"
        )
        print(f"        clean measured: {r['clean_measured']}")
        print(
            f"        glitch + plateau checks {r['ms_per_episode']:.1f} ms/episode (median) of"
            f" {r['ms_per_episode_all_array_checks']:.1f} ms for every array check"
        )
        for kind in ("jump", "jump_0.4rad", "jump_0.2rad", "clamp", "clamp_both", "frozen", "arm_frozen"):
            k = r[kind]
            if k["planted"]:
                before = k["recall_before"]
                print(f"        {kind:12s} recall {k['recall']:.1%} of {k['planted']} (before: {before:.1%})")
            else:
                print(f"        {kind:12s} nothing to plant")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
