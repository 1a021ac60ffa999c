"""A LeRobot parquet's column count, from its footer, is checked before its rows are read (reliability review 1e':
10^5 scalar columns became a 100,058-dim native state); the bound is the COLUMNS limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.base import AdapterError
from adapters.lerobot.adapter import LeRobotSource
from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset


def test_a_parquet_wider_than_the_columns_limit_is_refused(tmp_path: Path, settings: Any) -> None:
    rows = np.linspace(0, 1, 12 * len(MOTORS)).reshape(12, len(MOTORS))
    root = write_arm_dataset(tmp_path / "fc", "so101_follower", list(MOTORS), rows)
    data = root / "data/chunk-000/episode_000000.parquet"
    table = pq.read_table(data)
    extra = {f"extra_{i:03d}": pa.array(np.zeros(table.num_rows, np.float32)) for i in range(100)}
    pq.write_table(pa.Table.from_pydict({**table.to_pydict(), **extra}, schema=None), data)
    adapter = LeRobotSource({"validate_data": False})
    [ref] = list(adapter.discover(root))
    settings(max_columns=64)
    with pytest.raises(AdapterError) as err:
        adapter.read(ref)
    assert err.value.field == "data_path" and err.value.file == str(data)
    assert (
        err.value.reason.startswith("parquet columns: 10")
        and "more than the COLUMNS limit (64), the setting max_columns (--settings FILE); not read" in err.value.reason
    )
    settings(max_columns=4096)
    assert len(adapter.read(ref).states["observation.state"]) == 11  # within the default, read as before
