"""The declared-size bombs of reliability review 4 (issue 38 item 5), each read in a child process under an
address-space cap, with its peak resident memory and wall time beside the same child importing the adapters only.

Inputs, built here as the review built them: a 20-frame 32x32 mp4 with a sidecar claiming `duration_sec: 1e9`
(ego_video folder layout, `clip_s: 10`); a RoboMIND AgileX `trajectory.hdf5` whose `puppet/joint_position_left` is
a chunked, never-written (4e7, 7) float64 dataset; a `narration.json` of a valid 40-byte prefix made sparse to 2 GiB.
The review's unbounded readers: 7.3 GB (killed at its 8 GB cap), 6.43 GB, 3.88 GB.

    python -m benchmarks.declared_sizes [--cap-gib 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import h5py

from adapters.synthetic.robomind import EpisodeSpec, write_robomind
from adapters.synthetic.video import synthetic_frame, write_mp4
from tests.fixtures.memory_cap import run_capped

READ_ERROR = """
from adapters.base import AdapterError
from adapters.registry import get_adapter
adapter = get_adapter({adapter!r}, {options!r})
try:
    refs = list(adapter.discover({root!r}))
    result = refs[0].error
    if result is None:
        adapter.read(refs[0])
except AdapterError as e:
    result = e.reason
"""


def build(tmp: Path) -> dict[str, tuple[str, dict, Path, int]]:
    """name -> (adapter, options, root, bytes on disk of the bomb)."""
    ego = tmp / "ego"
    ego.mkdir()
    write_mp4(ego / "clip.mp4", (synthetic_frame(32, 32, i, 0) for i in range(20)), 10)
    (ego / "clip.json").write_text(json.dumps({"caption": "a worker at a bench", "duration_sec": 1e9}))
    [ep] = write_robomind(tmp / "robomind", [EpisodeSpec("agilex_3rgb", "task_agilex", "1014_144600", 40)]).values()
    with h5py.File(ep.path, "r+") as f:
        del f["puppet/joint_position_left"]
        f.create_dataset("puppet/joint_position_left", shape=(40_000_000, 7), dtype="f8", chunks=(1024, 7))
    (tmp / "ego4d").mkdir()
    narration = tmp / "ego4d/narration.json"
    narration.write_text('{"v0": {"narration_pass_1": {"narrations": [')
    os.truncate(narration, 2 << 30)
    return {
        "ego_video sidecar 1e9 s": (
            "ego_video",
            {"layout": "folder", "clip_s": 10},
            ego,
            (ego / "clip.json").stat().st_size,
        ),
        "robomind (4e7, 7) rows": ("robomind", {}, tmp / "robomind", ep.path.stat().st_size),
        "ego4d sparse 2 GiB json": ("ego4d", {}, tmp / "ego4d", narration.stat().st_blocks * 512),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap-gib", type=float, default=3.0, help="RLIMIT_AS of each child")
    parser.add_argument("--smoke", action="store_true", help="the same three bombs (each a second): runs, nothing kept")
    args = parser.parse_args()
    rows = []
    cap = int(args.cap_gib * (1 << 30))
    base = run_capped(
        "import adapters.egovideo.adapter, adapters.robomind.adapter, adapters.ego4d.adapter\nresult=0", cap
    )
    print(f"imports only: peak RSS {base.peak_rss / 2**20:.0f} MiB")
    print("| bomb | bytes on disk | rc | peak RSS, MiB | s | reason |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (adapter, options, root, size) in build(Path(tmp)).items():
            t = time.perf_counter()
            run = run_capped(READ_ERROR.format(adapter=adapter, options=options, root=str(root)), cap)
            peak = f"{run.peak_rss / 2**20:.0f}" if run.peak_rss else "killed"
            why = (run.result or run.stderr.strip().splitlines()[-1])[-110:]
            print(f"| {name} | {size:,} | {run.returncode} | {peak} | {time.perf_counter() - t:.1f} | {why} |")
            rows.append({"bomb": name, "bytes": size, "rc": run.returncode, "peak_rss_mib": peak})
    print(json.dumps({"cap_gib": args.cap_gib, "imports_peak_rss_mib": round(base.peak_rss / 2**20), "bombs": rows}))


if __name__ == "__main__":
    main()
