"""False demotions of "the state follows the command" (`qa_tracking_corr`) on real data, with the pairing by the
source's own names (`ingest.qa.phase._pairs`, issue 79) against the pairing by column index it replaced (a bare
index paired too: raw robosuite's MuJoCo qpos `states.k` with its OSC pose delta `actions.k`).

    .venv/bin/python -m benchmarks.tracking_pairs [--limit N]

Each real episode is read by its adapter and canonicalized as `eidata ingest` does (`benchmarks.behaviour_explained
.judge`, cameras left out). Per dataset: episodes, those the check ran on (a pair of moving columns) and those
lowered by qa_tracking_corr, by index and by name. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from unittest import mock

from adapters.base import RawEpisode
from benchmarks._cli import parse_args
from benchmarks._machine import log
from benchmarks.behaviour_explained import ON, adapter_raws, judge
from benchmarks.behaviour_real import bridge, lerobot
from ingest.qa import phase
from tests.realdata import realdata

CODE = "qa_tracking_corr"


def _by_index(name: str) -> str:
    """The pairing before issue 79: the component, a bare index included."""
    return name.removeprefix("observation.").split(".", 1)[-1]


SOURCES: dict[str, Callable[[], Iterator[RawEpisode]]] = {
    "robosuite_raw_lift": lambda: adapter_raws("arrays", realdata("robosuite_raw_lift")),
    "gr00t_robot_sim_picknplace": lambda: lerobot(realdata("gr00t_robot_sim_picknplace")),
    "octo_bridge_debug_rlds": lambda: bridge(realdata("octo_bridge_debug_rlds")),
    "unitree_g1_policy_train": lambda: lerobot(realdata("unitree_g1_policy_train")),
    "isaaclab_stack_mimic": lambda: adapter_raws("arrays", realdata("isaaclab_stack_mimic")),
    "isaaclab_stack_teleop": lambda: adapter_raws("arrays", realdata("isaaclab_stack_teleop")),
    "isaaclab_indy7_reach": lambda: adapter_raws("arrays", realdata("isaaclab_indy7_reach")),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="episodes a dataset at most (0: all)")
    args = parse_args(parser, {"limit": 2}, "two episodes a dataset")
    results = {}
    print("| dataset | episodes | checked by index / by name | lowered by index | lowered by name |")
    print("| --- | ---: | --- | ---: | ---: |")
    for name, read in SOURCES.items():
        raws = list(read())  # the repository's real samples: one the adapters cannot read is a failure here
        raws = raws[: args.limit] if args.limit else raws
        log(f"{name}: {len(raws)} raw episodes")
        with mock.patch.object(phase, "_component", _by_index):
            before = judge(raws, ON)
        after = judge(raws, ON)
        row = {
            "episodes": len(after.lowered),
            "checked_by_index": sum(r.tracking_corr is not None for r in before.records),
            "checked_by_name": sum(r.tracking_corr is not None for r in after.records),
            "by_index": sum(CODE in e for e in before.lowered),
            "by_name": sum(CODE in e for e in after.lowered),
            "left": [e[CODE] for e in after.lowered if CODE in e][:3],
        }
        results[name] = row
        checked = f"{row['checked_by_index']} / {row['checked_by_name']}"
        print(f"| {name} | {row['episodes']} | {checked} | {row['by_index']} | {row['by_name']} |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
