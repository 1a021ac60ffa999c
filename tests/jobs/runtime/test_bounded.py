"""The commands that read a source's bytes in their own process (trace, validate, inspect) run under the per-task
memory limit set at the command line's dispatch (issue 67 item 3): a read that grows past it stops the command with
one line naming the limit and the file, exit 1, never a traceback or a 3 GB process; other commands are not bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jobs import cli


def test_every_command_that_reads_source_bytes_is_bounded() -> None:
    assert {n for n, c in cli.COMMANDS.items() if c.bounded} == {"trace", "validate", "inspect"}


def test_inspect_of_a_read_past_the_limit_says_it_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from adapters.lerobot.adapter import LeRobotSource

    big = tmp_path / "ds" / "data" / "episode_000001.parquet"
    big.parent.mkdir(parents=True)
    big.write_bytes(b"PAR1")

    def dataset(self: object, root: Path) -> object:  # a parse that materialises 3 GiB, as 4e8 rows would
        open(big, "rb").close()
        return np.ones(3 << 30, dtype=np.uint8)

    monkeypatch.setattr(LeRobotSource, "dataset", dataset)
    assert cli.main(["inspect", str(tmp_path / "ds")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("eidata inspect: memory limit of 640 MiB per task (parallelism.task_memory_mib)")
    assert f"reading {big}" in err[0]
