"""Which hand file an MPS folder reads (`adapters/aria_mps/folder.py`): a file whose rows miss the trajectory's span
is of another session and is named, never joined; the edges of a CSV are read from its two ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters.aria_mps import folder
from adapters.storage.location import locate
from tests.fixtures.writers.aria_mps import write_mps


def test_a_file_of_another_session_is_named_and_the_one_that_meets_the_trajectory_read(tmp_path: Path) -> None:
    write_mps(tmp_path / "m", np.random.default_rng(3), 12, {})
    hands, traj = locate(tmp_path / "m/hand_tracking"), locate(tmp_path / "m/slam/closed_loop_trajectory.csv")
    first, last = folder.edge_micros(traj) or (0, 0)
    assert 0 < first < last
    ok = folder.choose(hands, traj)
    assert ok.hand_file is not None and ok.hand_file.name == "hand_tracking_results.csv" and not ok.apart
    header, *rows = (tmp_path / "m/hand_tracking/hand_tracking_results.csv").read_text().splitlines()
    late = [",".join([str(int(r.split(",")[0]) + 3_600_000_000), *r.split(",")[1:]]) for r in rows]
    (tmp_path / "m/hand_tracking/hand_tracking_results.csv").write_text("\n".join([header, *late]) + "\n")
    apart = folder.choose(hands, traj)
    assert apart.hand_file is None and "of another session, not joined" in apart.why_none
