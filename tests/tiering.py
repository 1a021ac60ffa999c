"""The two tiers of the suite, from measured times: `make test` runs every test module but the long ones (under its
budget on 2 cores), `make test-long` the long ones, and CI (`.ci/run`) both. A module is the unit, not a test: the
first test of a module pays its module-scoped fixtures, so one test cannot leave the tier without its neighbours.

`python -m tests.tiering TIMINGS [--budget-s S]` reads a full run's timings (`make timings`: `tests/timing.py`'s
lines), sums each module's phases, and writes tests/long_modules.toml: the fewest modules, longest first, whose
removal brings the rest under the budget (the default leaves room for collection, about a minute here, and for a
machine a little slower than the one measured)."""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections import defaultdict
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LONG = REPO / "tests" / "long_modules.toml"
BUDGET_S = 11 * 60.0  # `make test` is to stay under 15 minutes; collection and start-up take the rest


def module_times(lines: list[str]) -> dict[str, float]:
    """Seconds per test module (its path from the repository root) over every phase of its tests."""
    out: dict[str, float] = defaultdict(float)
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 3:
            out[parts[0].split("::", 1)[0]] += float(parts[2])
    return dict(out)


def long_modules(times: dict[str, float], budget_s: float) -> dict[str, float]:
    """The fewest modules, longest first, whose removal leaves at most `budget_s` of the total."""
    rest, out = sum(times.values()), {}
    for module, seconds in sorted(times.items(), key=lambda kv: (-kv[1], kv[0])):
        if rest <= budget_s:
            break
        out[module] = seconds
        rest -= seconds
    return out


def listed(path: Path = LONG) -> dict[str, float]:
    """tests/long_modules.toml's modules and their measured seconds (nothing when the file is absent)."""
    return tomllib.loads(path.read_text(encoding="utf-8")).get("modules", {}) if path.is_file() else {}


def write(chosen: dict[str, float], times: dict[str, float], measured_on: str, path: Path = LONG) -> None:
    total, fast = sum(times.values()), sum(s for m, s in times.items() if m not in chosen)
    head = [
        "# The long test modules: `make test` leaves them out, `make test-long` and CI (.ci/run) run them.",
        f"# Written by `python -m tests.tiering` from a full run of {measured_on}: {len(times)} modules, {total:.0f} s",
        f"# of test time; these {len(chosen)} hold {total - fast:.0f} s, the rest {fast:.0f} s. Seconds are measured.",
        "[modules]",
    ]
    body = [f'"{m}" = {s:.1f}' for m, s in sorted(chosen.items(), key=lambda kv: -kv[1])]
    path.write_text("\n".join(head + body) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.tiering", description=__doc__.split("\n\n")[0])
    p.add_argument("timings", type=Path)
    p.add_argument("--budget-s", type=float, default=BUDGET_S)
    p.add_argument("--measured-on", default=f"{date.today()} (2 cores, CI=true)")
    args = p.parse_args(argv)
    times = module_times(args.timings.read_text(encoding="utf-8").splitlines())
    chosen = long_modules(times, args.budget_s)
    write(chosen, times, args.measured_on)
    held = sum(chosen.values())
    print(f"{len(chosen)} long modules, {held:.0f} s; the rest {sum(times.values()) - held:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
