"""The flag every benchmark shares: `--smoke`, a run of seconds at tiny sizes that checks it runs, nothing more."""

from __future__ import annotations

import argparse
from typing import Any


def parse_args(parser: argparse.ArgumentParser, smoke: dict[str, Any], what: str) -> argparse.Namespace:
    """`parser`'s arguments plus `--smoke`, which overrides them with `smoke` (`what` says what it then runs)."""
    parser.add_argument("--smoke", action="store_true", help=f"{what}: runs in seconds, measures nothing")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update(smoke)
    return args
