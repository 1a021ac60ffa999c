"""False demotions of the behaviour verdicts on every real dataset we hold: how many lowering findings the robot's own
signals explain (`ingest.qa.explain`), measured with the rules off (before) and on (after), per dataset and code.

    .venv/bin/python -m benchmarks.behaviour_explained [--extra DIR ...]
    .venv/bin/python -m benchmarks.behaviour_explained --smoke      # two episodes a dataset: runs, measures nothing

Each real episode is read by its adapter and canonicalized as `eidata ingest` does (`canonicalize_spans`: the 10 Hz
grid, validity, the behaviour phase with `BehaviourConfig()`), cameras left out (the camera checks run on the frames
the writer encodes and do not look at commands; several fetched sets carry no videos). The dead-dim verdicts of
`eidata verdicts` are judged over each dataset as that step does (`ingest.qa.corpus.judge_dead`). Twice: with
`explain_holds` off (every hold lowers, as before) and on.

Datasets: the real samples of tests/REAL_SAMPLES.md (GR00T PickNPlace LeRobot v2.0, the Bridge RLDS shard,
three ROS bag sets), the team's samples that may not be redistributed (`--samples DIR`: a real AgiBot arm log,
soul667/DatasetTools @ 8971d93, and every `rosbag_*` folder of ROS bags in it), and LeRobot datasets fetched from
public GitHub repositories, each a folder given with `--extra NAME=DIR` (absent ones skipped with a message;
`FETCHED` says where each comes from).

Per dataset and code: episodes, lowering findings before and after, and per explanation the findings it cleared
(an episode lowered by the code before and not after, named by the note the after run recorded for that check).
The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from adapters.base import RawEpisode
from adapters.registry import get_adapter
from benchmarks._cli import parse_args
from benchmarks._machine import log
from benchmarks.behaviour_real import agibot, bridge, lerobot
from ingest.qa.corpus import judge_dead
from ingest.qa.findings import episode_findings
from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord, Explained
from schemas.canonicalize import CanonicalizeSpec
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepare
from tests.realdata import realdata

ON = BehaviourConfig()
OFF = ON.model_copy(update={"explain_holds": False})
# The behaviour codes a hold or a still column can raise; every other lowering code is listed too, unexplained.
HOLD_CODES = (
    "qa_stream_frozen_s",
    "qa_state_frozen_s",
    "qa_plateau_fraction",
    "qa_native_saturated_fraction",
    "qa_native_dead_dims",
)

# Real LeRobot datasets fetched from public GitHub repositories (none written by us; not redistributed: give each
# folder with --extra NAME=DIR). name: (repository @ commit, folder in it, what it is).
FETCHED = {
    "g1_inspire": ("YifanTian07/G1-policy-train @ d1d3bb4", ".", "Unitree G1 + Inspire hands teleop, v2.1, 100 ep"),
    "lingzu_open50": ("yipiandanxinxiangyangkai/open_50 @ 6fbd828", ".", "two arms + two dexterous hands, v3.0, 50 ep"),
    "so101_record": ("SamueleSandrini/record-test @ c6d0de3", ".", "SO-101 leader/follower, v3.0, 4 ep"),
    "robocoin": ("QianHuixun/New-Test @ ee67fe1", ".", "two 7-joint arms + hands, v2.1, 38 ep"),
    "so101_bimanual": ("WangzyNicole/Bimanual-Cloth-Manipulation @ 4c2af68", "dataset", "two SO-101, v2.1"),
    "piper_act": ("chenfei-source/ACT-robot-manipulation @ befd64a", "dataset", "6-joint arm + gripper, v3.0"),
}


def adapter_raws(name: str, root: Path) -> Iterator[RawEpisode]:
    a = get_adapter(name)
    for ref in sorted(a.discover(root), key=lambda r: r.raw_id):
        if ref.error is None:
            yield a.read(ref)


@dataclass
class Judged:
    """One dataset's episodes judged with one config: per episode its lowering codes and its notes."""

    lowered: list[dict[str, str]] = field(default_factory=list)  # code -> message
    notes: list[list[Explained]] = field(default_factory=list)
    records: list[BehaviourRecord] = field(default_factory=list)


def judge(raws: list[RawEpisode], config: BehaviourConfig) -> Judged:
    spec = CanonicalizeSpec(behaviour=config)
    out = Judged()
    for raw in raws:
        result = prepare(replace(raw, cameras={}, verdicts=raw.verdicts), spec)
        for ep in result.episodes:
            rec = ep.behaviour or BehaviourRecord()
            found = episode_findings(rec, config)
            out.lowered.append({f.code: f.message for f in found if f.tier != QualityTier.high})
            out.notes.append(Explained.of(rec))
            out.records.append(rec)
    for code, attr in (("qa_dead_dims", "dead_dims"), ("qa_native_dead_dims", "native_dead_dims")):
        for k, (dims, share) in judge_dead([getattr(r, attr) for r in out.records], config.dead_dims_share).items():
            out.lowered[k][code] = f"dims {dims} still here, moved by {share:.0%} of the others"
    return out


def table(before: Judged, after: Judged) -> dict[str, dict[str, object]]:
    """code -> episodes lowered before, after, cleared per explanation, the remaining messages (a few)."""
    rows: dict[str, dict[str, object]] = {}
    codes = sorted({c for e in before.lowered + after.lowered for c in e})
    for code in codes:
        cleared: Counter[str] = Counter()
        for k, (b, a) in enumerate(zip(before.lowered, after.lowered, strict=True)):
            if code in b and code not in a:
                whys = [n.why for n in after.notes[k] if n.check == code]
                cleared[Counter(whys).most_common(1)[0][0] if whys else "unnamed"] += 1
        left = [a[code] for a in after.lowered if code in a]
        rows[code] = {
            "before": sum(code in b for b in before.lowered),
            "after": len(left),
            "cleared": dict(cleared),
            "left": left[:3],
        }
    return rows


def sources(extra: dict[str, Path], samples: Path | None) -> dict[str, Callable[[], Iterator[RawEpisode]]]:
    out: dict[str, Callable[[], Iterator[RawEpisode]]] = {
        "gr00t": lambda: lerobot(realdata("gr00t_robot_sim_picknplace")),
        "bridge": lambda: bridge(realdata("octo_bridge_debug_rlds")),
        "rosbag_ats": lambda: adapter_raws("rosbag", realdata("rosbag_ats")),
        "rosbag_interbotix": lambda: adapter_raws("rosbag", realdata("rosbag_interbotix")),
        "rosbag_pr2": lambda: adapter_raws("rosbag", realdata("rosbag_pr2")),
    }
    if samples is not None and (samples / "agibot_proprio_stats_real" / "proprio_stats.h5").is_file():
        out["agibot"] = lambda: agibot(samples / "agibot_proprio_stats_real")
    else:
        log(f"agibot: skipped, no agibot_proprio_stats_real/proprio_stats.h5 under --samples {samples}")
    for bags in sorted(samples.glob("rosbag_*")) if samples is not None else ():
        out[bags.name] = lambda bags=bags: adapter_raws("rosbag", bags)
    for name, root in extra.items():
        if (root / "meta" / "info.json").is_file():
            out[name] = lambda root=root: lerobot(root)
        else:
            log(f"{name}: skipped, no LeRobot dataset at {root}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extra", action="append", default=[], help="NAME=DIR of a fetched dataset (FETCHED)")
    parser.add_argument("--samples", type=Path, help="a folder of real samples not redistributed (module doc)")
    parser.add_argument("--limit", type=int, default=0, help="episodes a dataset at most (0: all)")
    args = parse_args(parser, {"limit": 2}, "two episodes a dataset")
    extra = {k: Path(v) for k, v in (e.split("=", 1) for e in args.extra)}
    results: dict[str, dict[str, object]] = {}
    for name, read in sources(extra, args.samples).items():
        try:
            raws = list(read())
        except Exception as err:  # a dataset the adapters cannot read is said, not a crash of the table
            log(f"{name}: not read ({type(err).__name__}: {err})")
            continue
        raws = raws[: args.limit] if args.limit else raws
        before, after = judge(raws, OFF), judge(raws, ON)
        notes = Counter(f"{n.check}/{n.why}" for ns in after.notes for n in ns)
        results[name] = {"episodes": len(after.lowered), "codes": table(before, after), "notes": dict(notes)}
        log(f"{name}: {len(raws)} raw, {len(after.lowered)} episodes")
    totals: dict[str, int] = defaultdict(int)
    print("| dataset | episodes | code | lowering before | after | cleared by |")
    print("| --- | ---: | --- | ---: | ---: | --- |")
    for name, r in results.items():
        codes = r["codes"]
        if not codes:
            print(f"| {name} | {r['episodes']} | (none) | 0 | 0 | |")
        for code, row in codes.items():
            cleared = ", ".join(f"{w} {n}" for w, n in sorted(row["cleared"].items()))
            print(f"| {name} | {r['episodes']} | {code} | {row['before']} | {row['after']} | {cleared} |")
            totals["before"] += row["before"]
            totals["after"] += row["after"]
            totals["hold_before"] += row["before"] if code in HOLD_CODES else 0
            totals["hold_after"] += row["after"] if code in HOLD_CODES else 0
        totals["episodes"] += r["episodes"]
    print(
        f"{len(results)} datasets, {totals['episodes']} episodes: lowering findings {totals['before']} -> "
        f"{totals['after']}; of the hold and still-column codes {totals['hold_before']} -> {totals['hold_after']}"
    )
    for name, r in results.items():
        for code, row in r["codes"].items():
            for msg in row["left"]:
                print(f"  left: {name} {code}: {msg}")
    print(json.dumps({"datasets": results, "totals": dict(totals)}))


if __name__ == "__main__":
    main()
