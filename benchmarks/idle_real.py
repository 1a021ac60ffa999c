"""The idle share of every real episode the adapters read, before and after canonicalization cuts its idle ends: what
`idle_fraction_quarantine` (`qa_idle_fraction`, `schemas/behaviour.toml`) would trip on real data; and the idle ratio
the quality tier judges (`quality_idle_ratio`, `schemas/quality.toml`): false trips on the real episodes, detection
of a still span planted in each.

    .venv/bin/python -m benchmarks.idle_real                # each real sample of tests/REAL_SAMPLES.md an adapter reads
    .venv/bin/python -m benchmarks.idle_real --keep-static  # validity's static-hands crop off: still human hands kept
    .venv/bin/python -m benchmarks.idle_real --smoke        # two episodes a sample: runs, measures nothing

Each raw episode is read by its adapter and run through the steps up to judging (`tests.fixtures.offline.prepare`,
cameras left out: idle is measured on the state) with `idle_fraction_quarantine` 1.0, so nothing trips and every
episode is measured. Per episode: the recording's idle share (its idle start and end over its frames, before the cut:
`ingest.canonical.idle.episode_idle`) and the kept frames' (`IdleCut.idle_fraction`, what the verdict judges; None:
no state measured). Per sample: episodes, episodes with no state measured, the largest share of each, and how many
would trip at the default.

The quality idle ratio (`ingest.qa.quality.motion_signals`) of each judged episode twice: still in translation only
(wrist and fingertips under `idle_speed_m_s`, gripper under `idle_gripper_per_s`: the verdict of e7043c41, a turn
bound of 360 deg/s no 1 s window reaches), and still in translation and turn (every wrist orientation under
`idle_turn_deg_s` too: the verdict now); per sample the largest of each and the episodes over `max_idle_ratio`. The
turn of the frames still in translation (the largest angle between two wrist orientations over the idle window,
`ingest.canonical.validity.window_turn`): its median and largest, and the share over the turn bound, the figures
`idle_turn_deg_s` is settled on. Planted: each episode with a held stretch inserted in its longest span (its middle
frame repeated for twice the span plus a window, so over 2/3 of the frames stand still), counted when its idle ratio
trips. The last stdout line is JSON.

Measured (BENCHMARKS.md, "Nothing silent: correctness on real samples"): 197 episodes of 17 samples, none over 0.95
by either share (kept frames at most 52.6 %, Bridge's 1.9 s episodes; recordings at most 62.9 %, an SO-101 episode cut
from 12.4 to 8.6 s); the PR2 head-camera bag and the WX250 puppet bag have no state measured (read 100 % idle before).
The Aria and HOT3D samples are shorter than an episode, kept however short (`keep_short`); HOT3D's two sequences are
still rejected by validity's static-hands check before any judging (hands that do not move are cut there) unless
`--keep-static`. The quality idle ratio: see BENCHMARKS.md's row for `quality_idle_ratio`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from adapters.base import RawEpisode
from adapters.registry import get_adapter
from benchmarks._cli import parse_args
from benchmarks._machine import log
from benchmarks.behaviour_real import agibot, bridge, lerobot
from ingest.qa.quality import motion_signals, stillness
from schemas.behaviour import BehaviourConfig
from schemas.canonical import CANONICAL_FPS, WRIST_ROT6D, hand_dims, present_hands
from schemas.canonicalize import CanonicalizeSpec, QualityConfig, ValidityConfig
from tests.fixtures.offline import prepare
from tests.fixtures.table_logs import NOTTS, XARM_LITE6
from tests.realdata import realdata

DEFAULT = BehaviourConfig().idle_fraction_quarantine
QUALITY = QualityConfig()
NO_TURN = QUALITY.model_copy(update={"idle_turn_deg_s": 360.0})  # no 1 s window turns past 180 deg: translation only


def read_all(adapter: str, root: Path, options: dict | None = None) -> Iterator[RawEpisode]:
    a = get_adapter(adapter, options) if options else get_adapter(adapter)
    for ref in sorted(a.discover(root), key=lambda r: r.raw_id):
        if ref.error is None:
            yield a.read(ref)


# sample folder -> its raw episodes, read as the adapter tests read them
SAMPLES: dict[str, Callable[[], Iterator[RawEpisode]]] = {
    "gr00t_robot_sim_picknplace": lambda: lerobot(realdata("gr00t_robot_sim_picknplace")),
    "unitree_g1_policy_train": lambda: lerobot(realdata("unitree_g1_policy_train")),
    "lerobot_so101_record_test": lambda: lerobot(realdata("lerobot_so101_record_test")),
    "octo_bridge_debug_rlds": lambda: bridge(realdata("octo_bridge_debug_rlds")),
    "agibot_proprio_stats_real": lambda: agibot(realdata("agibot_proprio_stats_real")),
    "isaaclab_indy7_reach": lambda: read_all("arrays", realdata("isaaclab_indy7_reach"), {"fps": 50}),
    "isaaclab_stack_mimic": lambda: read_all("arrays", realdata("isaaclab_stack_mimic")),
    "isaaclab_stack_teleop": lambda: read_all("arrays", realdata("isaaclab_stack_teleop")),
    "robosuite_raw_lift": lambda: read_all("arrays", realdata("robosuite_raw_lift")),
    "diffusion_policy_pusht_zarr": lambda: read_all("arrays", realdata("diffusion_policy_pusht_zarr")),
    "rosbag_ats": lambda: read_all("rosbag", realdata("rosbag_ats")),
    "rosbag_interbotix": lambda: read_all("rosbag", realdata("rosbag_interbotix")),
    "rosbag_pr2": lambda: read_all("rosbag", realdata("rosbag_pr2")),
    "rosbag_franka_larics": lambda: read_all("rosbag", realdata("rosbag_franka_larics")),
    # arms that turn in place: the Lite 6 pours (two sessions, xArm SDK logs), and a UR5e logged through ur_rtde
    "table_log_lite6_xarm/pouring": lambda: read_all("table_log", realdata("table_log_lite6_xarm/pouring"), XARM_LITE6),
    "table_log_lite6_xarm/first_attempt_pouring": lambda: read_all(
        "table_log", realdata("table_log_lite6_xarm/first_attempt_pouring"), XARM_LITE6
    ),
    "table_log_ur5e_notts": lambda: read_all(
        "table_log", realdata("table_log_ur5e_notts"), {"columns": NOTTS, "fps": 125, "robot": "ur5e"}
    ),
    "egodex_egodexrobotics": lambda: read_all("egodex", realdata("egodex_egodexrobotics")),
    "vitra_ego4d_example": lambda: read_all("vitra", realdata("vitra_ego4d_example")),
    # hand tracking under validity's `min_length_frames` (0.5 s Aria, 0.5 and 1.1 s HOT3D): kept however short
    "aria_mps_sample": lambda: short(read_all("aria_mps", realdata("aria_mps_sample").parent)),
    "hot3d_data_sample": lambda: short(read_all("hot3d", realdata("hot3d_data_sample"))),
}


def short(raws: Iterator[RawEpisode]) -> Iterator[RawEpisode]:
    """Raw episodes whose spans are kept however short (`RawEpisode.keep_short`): samples too short to be episodes."""
    for raw in raws:
        yield replace(raw, keep_short="a real sample shorter than an episode, measured for idle")


def held(state: np.ndarray, spans: list[tuple[int, int]], window: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """`state` with a still span planted: the middle frame of its longest span repeated for twice that span plus a
    window (over 2/3 of the frames then stand still, a full window of them), the spans after it moved along."""
    a, b = max(spans, key=lambda s: s[1] - s[0])
    mid, extra = (a + b) // 2, 2 * (b - a) + window
    planted = np.concatenate([state[:mid], np.repeat(state[mid : mid + 1], extra, axis=0), state[mid:]])
    moved = [(s + extra * (s > mid), e + extra * (e > mid)) for s, e in spans]
    return planted, moved


def turns(state: np.ndarray, mask: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """The turn rate (deg/s) of every frame still in translation (`ingest.qa.quality.stillness`: wrists and fingertips
    under `idle_speed_m_s`, gripper under `idle_gripper_per_s`) of an episode whose hands hold a wrist orientation."""
    hands = [h for h in present_hands(mask) if mask[hand_dims(h, WRIST_ROT6D)].all()]
    out = [np.zeros(0)]
    for s, e in spans if hands else []:
        if e - s >= 2:
            still, turn = stillness(np.asarray(state[s:e], dtype=np.float64), mask, present_hands(mask), QUALITY)
            out.append(turn[still])
    return np.concatenate(out)


def idle_ratio(state: np.ndarray, mask: np.ndarray, spans: list[tuple[int, int]], cfg: QualityConfig) -> float | None:
    """The idle ratio `assess_quality` judges (None: not measured)."""
    signals = motion_signals(state, mask, spans, cfg)
    return None if signals is None else round(signals[0], 4)


def measure(raws: list[RawEpisode], keep_static: bool = False) -> tuple[list[dict[str, object]], np.ndarray]:
    """Per kept episode: its raw id, frames before and after the cut, the idle share of the recording and of the kept
    frames, the quality idle ratio in translation only and with the turn, that of its planted copy; and the turns of
    every episode's frames still in translation."""
    validity = ValidityConfig(min_hand_motion_m=0.0) if keep_static else ValidityConfig()
    spec = CanonicalizeSpec(behaviour=BehaviourConfig(idle_fraction_quarantine=1.0), validity=validity)
    window = max(2, round(QUALITY.idle_window_s * CANONICAL_FPS) + 1)
    out, turned = [], []
    for raw in raws:
        for ep in prepare(replace(raw, cameras={}), spec).episodes:
            cut = ep.evidence.idle
            measured = cut.idle_fraction is not None
            recorded = (cut.idle_start_s + cut.idle_end_s) * CANONICAL_FPS / cut.frames if measured else None
            n, v = len(ep.state), ep.evidence.validity
            spans = v.keep if v is not None and v.n_frames == n else [(0, n)]
            planted, moved = held(ep.state, spans, window)
            turned.append(turns(ep.state, ep.mask, spans))
            out.append(
                {
                    "episode": ep.raw_id,
                    "frames": cut.frames,
                    "kept": cut.stop - cut.start,
                    "recorded": None if recorded is None else round(min(1.0, recorded), 4),
                    "kept_idle": None if cut.idle_fraction is None else round(cut.idle_fraction, 4),
                    "still_translation": idle_ratio(ep.state, ep.mask, spans, NO_TURN),
                    "still": idle_ratio(ep.state, ep.mask, spans, QUALITY),
                    "planted": idle_ratio(planted, ep.mask, moved, QUALITY),
                }
            )
    return out, np.concatenate(turned) if turned else np.zeros(0)


def summary(rows: list[dict[str, object]], turn: np.ndarray, bound: float) -> dict[str, object]:
    def values(key: str) -> list[float]:
        return [r[key] for r in rows if r[key] is not None]  # type: ignore[misc]

    rec, kept = values("recorded"), values("kept_idle")
    over = QUALITY.max_idle_ratio
    return {
        "episodes": len(rows),
        "no_state": len(rows) - len(kept),
        "max_recorded": max(rec, default=None),
        "max_kept": max(kept, default=None),
        "trips_recorded": sum(v > bound for v in rec),
        "trips_kept": sum(v > bound for v in kept),
        "judged": len(values("still")),
        "max_still_translation": max(values("still_translation"), default=None),
        "max_still": max(values("still"), default=None),
        "trips_translation": sum(v > over for v in values("still_translation")),
        "trips": sum(v > over for v in values("still")),
        "planted_tripped": sum(v > over for v in values("planted")),
        "still_frames": len(turn),
        "turn_median_deg_s": round(float(np.median(turn)), 2) if len(turn) else None,
        "turn_max_deg_s": round(float(turn.max()), 2) if len(turn) else None,
        "turning": round(float((turn >= QUALITY.idle_turn_deg_s).mean()), 4) if len(turn) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="raw episodes a sample at most (0: all)")
    parser.add_argument("--bound", type=float, default=DEFAULT, help="the idle share that trips (default: the spec's)")
    parser.add_argument("--keep-static", action="store_true", help="validity's static-hands crop off (human hands)")
    args = parse_args(parser, {"limit": 2}, "two episodes a sample")
    results: dict[str, dict[str, object]] = {}
    for name, read in SAMPLES.items():
        try:
            raws = list(read())
        except Exception as err:  # a sample this run cannot read is said, not a crash of the table
            log(f"{name}: not read ({type(err).__name__}: {err})")
            continue
        rows, turn = measure(raws[: args.limit] if args.limit else raws, args.keep_static)
        results[name] = summary(rows, turn, args.bound) | {"rows": rows}
        log(f"{name}: {len(raws)} raw, {len(rows)} episodes")
    pct = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    bound = f"trips > {args.bound:g}: recording / kept"
    print(f"| sample | episodes | no state | max idle, recording | max idle, kept | {bound} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        print(
            f"| {name} | {r['episodes']} | {r['no_state']} | {pct(r['max_recorded'])} | {pct(r['max_kept'])} |"
            f" {r['trips_recorded']} / {r['trips_kept']} |"
        )
    print(
        f"\n| sample | judged | max idle ratio: translation / + turn | trips > {QUALITY.max_idle_ratio:g}: translation"
        f" / + turn | planted still tripped | frames still in translation: n, turn median / max (deg/s),"
        f" share >= {QUALITY.idle_turn_deg_s:g} deg/s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        deg = lambda v: "-" if v is None else f"{v:g}"  # noqa: E731
        print(
            f"| {name} | {r['judged']} | {pct(r['max_still_translation'])} / {pct(r['max_still'])} |"
            f" {r['trips_translation']} / {r['trips']} | {r['planted_tripped']} / {r['judged']} |"
            f" {r['still_frames']}, {deg(r['turn_median_deg_s'])} / {deg(r['turn_max_deg_s'])}, {pct(r['turning'])} |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
