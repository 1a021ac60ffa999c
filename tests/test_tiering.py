"""The suite's two tiers (tests/tiering.py): modules summed over every phase, the fewest longest ones moved out of
`make test` until the rest fits its budget, and a list that names only modules that exist."""

from __future__ import annotations

from pathlib import Path

from tests import tiering


def test_a_module_s_time_is_every_phase_of_every_test() -> None:
    lines = [
        "tests/a/test_x.py::test_one\tsetup\t30.0\tpassed",
        "tests/a/test_x.py::test_one\tcall\t1.5\tpassed",
        "tests/a/test_x.py::test_two[1]\tcall\t2.5\tpassed",
        "tests/b/test_y.py::T::test_three\tteardown\t0.25\tpassed",
    ]
    assert tiering.module_times(lines) == {"tests/a/test_x.py": 34.0, "tests/b/test_y.py": 0.25}


def test_the_longest_modules_leave_until_the_rest_fits() -> None:
    times = {"a.py": 300.0, "b.py": 200.0, "c.py": 100.0, "d.py": 50.0}  # 650 s
    assert tiering.long_modules(times, 400.0) == {"a.py": 300.0}  # 350 s left
    assert tiering.long_modules(times, 300.0) == {"a.py": 300.0, "b.py": 200.0}  # 150 s left
    assert tiering.long_modules(times, 650.0) == {}


def test_the_list_written_is_the_list_read(tmp_path: Path) -> None:
    times = {"tests/a/test_x.py": 500.0, "tests/b/test_y.py": 20.0}
    path = tmp_path / "long_modules.toml"
    tiering.write(tiering.long_modules(times, 100.0), times, "today", path)
    assert tiering.listed(path) == {"tests/a/test_x.py": 500.0}
    assert "the rest 20 s" in path.read_text() and tiering.listed(tmp_path / "absent.toml") == {}


def test_every_listed_module_exists() -> None:
    """A module renamed or deleted since the list was measured would silently join `make test`'s tier."""
    gone = [m for m in tiering.listed() if not (tiering.REPO / m).is_file()]
    assert not gone, f"tests/long_modules.toml names modules that are not there (run `make timings`): {gone}"
