"""The idle share of every real episode the adapters read, before and after canonicalization cuts its idle ends: what
`idle_fraction_quarantine` (`qa_idle_fraction`, `schemas/behaviour.toml`) would trip on real data.

    .venv/bin/python -m benchmarks.idle_real            # every real sample of tests/REAL_SAMPLES.md an adapter reads
    .venv/bin/python -m benchmarks.idle_real --smoke    # two episodes a sample: runs, measures nothing

Each raw episode is read by its adapter and run through the steps up to judging (`tests.fixtures.offline.prepare`,
cameras left out: idle is measured on the state) with `idle_fraction_quarantine` 1.0, so nothing trips and every
episode is measured. Per episode: the recording's idle share (its idle start and end over its frames, before the cut:
`ingest.canonical.idle.episode_idle`) and the kept frames' (`IdleCut.idle_fraction`, what the verdict judges; None:
no state measured). Per sample: episodes, episodes with no state measured, the largest share of each, and how many
would trip at the default. The last stdout line is JSON.

Measured (BENCHMARKS.md, "Nothing silent: correctness on real samples"): 197 episodes of 17 samples, none over 0.95
by either share (kept frames at most 52.6 %, Bridge's 1.9 s episodes; recordings at most 62.9 %, an SO-101 episode cut
from 12.4 to 8.6 s); the PR2 head-camera bag and the WX250 puppet bag have no state measured (read 100 % idle before).
The Aria and HOT3D samples are shorter than an episode, kept however short (`keep_short`); HOT3D's two sequences are
still rejected by validity's static-hands check before any judging (hands that do not move are cut there).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from adapters.base import RawEpisode
from adapters.registry import get_adapter
from benchmarks._cli import parse_args
from benchmarks._machine import log
from benchmarks.behaviour_real import agibot, bridge, lerobot
from schemas.behaviour import BehaviourConfig
from schemas.canonical import CANONICAL_FPS
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepare
from tests.realdata import realdata

DEFAULT = BehaviourConfig().idle_fraction_quarantine


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


def measure(raws: list[RawEpisode]) -> list[dict[str, object]]:
    """Per kept episode: its raw id, frames before and after the cut, the idle share of the recording and of the kept
    frames."""
    spec = CanonicalizeSpec(behaviour=BehaviourConfig(idle_fraction_quarantine=1.0))
    out = []
    for raw in raws:
        for ep in prepare(replace(raw, cameras={}), spec).episodes:
            cut = ep.evidence.idle
            measured = cut.idle_fraction is not None
            recorded = (cut.idle_start_s + cut.idle_end_s) * CANONICAL_FPS / cut.frames if measured else None
            out.append(
                {
                    "episode": ep.raw_id,
                    "frames": cut.frames,
                    "kept": cut.stop - cut.start,
                    "recorded": None if recorded is None else round(min(1.0, recorded), 4),
                    "kept_idle": None if cut.idle_fraction is None else round(cut.idle_fraction, 4),
                }
            )
    return out


def summary(rows: list[dict[str, object]], bound: float) -> dict[str, object]:
    rec = [r["recorded"] for r in rows if r["recorded"] is not None]
    kept = [r["kept_idle"] for r in rows if r["kept_idle"] is not None]
    return {
        "episodes": len(rows),
        "no_state": len(rows) - len(kept),
        "max_recorded": max(rec, default=None),
        "max_kept": max(kept, default=None),
        "trips_recorded": sum(v > bound for v in rec),  # type: ignore[operator]
        "trips_kept": sum(v > bound for v in kept),  # type: ignore[operator]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="raw episodes a sample at most (0: all)")
    parser.add_argument("--bound", type=float, default=DEFAULT, help="the idle share that trips (default: the spec's)")
    args = parse_args(parser, {"limit": 2}, "two episodes a sample")
    results: dict[str, dict[str, object]] = {}
    for name, read in SAMPLES.items():
        try:
            raws = list(read())
        except Exception as err:  # a sample this run cannot read is said, not a crash of the table
            log(f"{name}: not read ({type(err).__name__}: {err})")
            continue
        rows = measure(raws[: args.limit] if args.limit else raws)
        results[name] = summary(rows, args.bound) | {"rows": rows}
        log(f"{name}: {len(raws)} raw, {len(rows)} episodes")
    bound = f"trips > {args.bound:g}: recording / kept"
    print(f"| sample | episodes | no state | max idle, recording | max idle, kept | {bound} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        pct = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
        print(
            f"| {name} | {r['episodes']} | {r['no_state']} | {pct(r['max_recorded'])} | {pct(r['max_kept'])} |"
            f" {r['trips_recorded']} / {r['trips_kept']} |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
