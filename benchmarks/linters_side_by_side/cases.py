"""The side-by-side cases: the 5 real GR00T PickNPlace episodes, clean and with one defect class planted in episode 1
(`tests/fixtures/behaviour_defects.py`, loaded by path so that the linters' venv needs only numpy, pyarrow, av).

    python -m benchmarks.linters_side_by_side.cases   # lists the cases
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq

from tests.realdata import realdata

REPO = Path(__file__).resolve().parents[2]
SAMPLE = "gr00t_robot_sim_picknplace"  # the real sample (tests/REAL_SAMPLES.md), read with `realdata`
FPS = 20
ELBOW = 25  # right_arm slice 22..29 of meta/modality.json: the 4th joint, elbow pitch
PLANTED_IN = 1


def _planters():
    spec = importlib.util.spec_from_file_location("behaviour_defects", REPO / "tests/fixtures/behaviour_defects.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["behaviour_defects"] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


plant = _planters()


def load(index: int):
    table = pq.read_table(realdata(SAMPLE) / "data" / "chunk-000" / f"episode_{index:06d}.parquet")
    n = table.num_rows
    state = table["observation.state"].combine_chunks().flatten().to_numpy().reshape(n, -1).astype(np.float64)
    action = table["action"].combine_chunks().flatten().to_numpy().reshape(n, -1).astype(np.float64)
    video = realdata(SAMPLE) / "videos" / "chunk-000" / "observation.images.ego_view" / f"episode_{index:06d}.mp4"
    with av.open(str(video)) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    return plant.Episode(state, action, frames, float(FPS))


def stats_limits() -> tuple[np.ndarray, np.ndarray]:
    s = json.loads((realdata(SAMPLE) / "meta" / "stats.json").read_text())["observation.state"]
    return np.array(s["min"]), np.array(s["max"])


def tasks() -> list[str]:
    """Each episode's task: the first of its `tasks` in meta/episodes.jsonl (the instruction, not "valid")."""
    lines = (realdata(SAMPLE) / "meta" / "episodes.jsonl").read_text().splitlines()
    return [json.loads(line)["tasks"][0] for line in lines]


def _case(defect: Callable[[object], object]) -> Callable[[list], list]:
    def build(eps: list) -> list:
        out = list(eps)
        out[PLANTED_IN] = defect(eps[PLANTED_IN]).episode
        return out

    return build


def _duplicate(eps: list) -> list:
    return [*eps[:4], plant.duplicate(eps[PLANTED_IN]).episode]


_, UPPER = stats_limits()
SPAN = float(UPPER[ELBOW] - stats_limits()[0][ELBOW])
CASES: dict[str, Callable[[list], list]] = {
    "clean": list,
    "frozen_camera": _case(lambda e: plant.frozen_camera(e, 2.0)),
    "black_frames": _case(lambda e: plant.black_frames(e, 0.3)),
    "frozen_state": _case(lambda e: plant.frozen_state(e, 1.5)),
    "dead_joint": _case(lambda e: plant.dead_joint(e, ELBOW)),
    "saturated_joint": _case(lambda e: plant.saturated_joint(e, ELBOW, float(UPPER[ELBOW]), 0.97)),
    "jump": _case(lambda e: plant.jump(e, ELBOW, 0.6)),
    "wraparound": _case(lambda e: plant.wraparound(e, ELBOW, 0.8 * SPAN)),
    "idle_ends": _case(lambda e: plant.idle_ends(e, 12.0, 12.0)),
    "not_tracking": _case(lambda e: plant.not_tracking(e, load(3))),
    "nan": _case(lambda e: plant.nan_values(e, ELBOW, 3)),
    "duplicate": _duplicate,
}


def episodes(case: str) -> list:
    return CASES[case]([load(i) for i in range(5)])


if __name__ == "__main__":
    print("\n".join(CASES))
