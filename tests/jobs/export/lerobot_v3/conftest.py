"""A tiny corpus to plan and write v3.0 exports from: a Franka dataset (3 episodes, two tasks), a human dataset (2
episodes, one task shared with the Franka one) whose natives differ, and a Franka clip at another camera size; the
catalog rebuilt and a manifest `all` of every episode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from tests.fixtures.corpus import episode, write_dataset


def _with_native(n: int, task: str, uid: str, embodiment: str, width: int) -> dict:
    return {**episode(n, task, uid, embodiment), "native": np.zeros((n, width))}


@pytest.fixture(scope="package")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    tasks = ["pick", "open the drawer", "pick"]
    franka = [_with_native(6 + i, tasks[i], f"oxe/bridge/e{i}", "franka", 2) for i in range(3)]
    write_dataset(root / "datasets/oxe/bridge", "franka", franka, native_state_names=["j0", "j1"])
    human = [_with_native(5, task, f"egodex/basic/h{i}", "human", 1) for i, task in enumerate(["fold", "pick"])]
    write_dataset(root / "datasets/egodex/basic", "human", human, native_state_names=["camera.x"])
    small = [_with_native(4, "pick", "ego4d/clips/c0", "franka", 2)]
    write_dataset(root / "datasets/ego4d/clips", "franka", small, camera=(16, 24), native_state_names=["j0", "j1"])
    rebuild_catalog(root)
    curate(root, "all", "true", val_fraction=0.0)
    return root
