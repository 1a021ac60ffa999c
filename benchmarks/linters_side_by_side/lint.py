"""Write every case as a LeRobot v3.0 dataset with lerobot 0.6.1 and run lerobot-doctor and lerobot-lint on it.

    .venv-linters/bin/python -m benchmarks.linters_side_by_side.lint OUT_DIR > /tmp/linters.json

Runs in `.venv-linters` (Python 3.12: lerobot-doctor 0.2.0, lerobot-lint 0.1.1, and lerobot 0.6.1, which lerobot-lint
loads every dataset through). Per case and linter: the exit status and every finding, as the tool's JSON report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.linters_side_by_side.cases import CASES, FPS, episodes, tasks

CAMERA = "observation.images.ego_view"
BIN = Path(sys.executable).parent


def write(root: Path, case: str) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    eps = episodes(case)
    h, w = eps[0].frames.shape[1:3]
    dim = eps[0].state.shape[1]
    names = [f"q{i}" for i in range(dim)]
    features = {
        CAMERA: {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]},
        "observation.state": {"dtype": "float32", "shape": (dim,), "names": names},
        "action": {"dtype": "float32", "shape": (dim,), "names": names},
    }
    if root.exists():
        shutil.rmtree(root)
    ds = LeRobotDataset.create(
        repo_id=f"side_by_side/{case}", fps=FPS, features=features, root=root, robot_type="GR1ArmsOnly", use_videos=True
    )
    instructions = tasks()
    for k, ep in enumerate(eps):
        for i in range(len(ep.state)):
            ds.add_frame(
                {
                    CAMERA: ep.frames[i],
                    "observation.state": ep.state[i].astype(np.float32),
                    "action": ep.action[i].astype(np.float32),
                    "task": instructions[k],
                }
            )
        ds.save_episode()
    ds.finalize()


def run(cmd: list[str], report: Path) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    body = None
    if report.exists():
        body = json.loads(report.read_text())
    elif proc.stdout.strip().startswith("{"):
        body = json.loads(proc.stdout)
    return {"rc": proc.returncode, "report": body, "stderr": proc.stderr[-2000:], "stdout": proc.stdout[-4000:]}


def main() -> None:
    out = Path(sys.argv[1])
    only = sys.argv[2:] or list(CASES)
    results = {}
    for case in only:
        root = out / case
        write(root, case)
        doctor = run([str(BIN / "lerobot-doctor"), "check", str(root), "--json"], out / "none")
        lint = run(
            [str(BIN / "lelint"), "check", str(root), "--json", str(out / f"{case}.lint.json")],
            out / f"{case}.lint.json",
        )
        results[case] = {"doctor": doctor, "lint": lint}
        print(f"{case}: doctor rc {doctor['rc']}, lint rc {lint['rc']}", file=sys.stderr, flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
