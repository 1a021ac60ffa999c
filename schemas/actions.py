"""Which action an episode has (issue 55): the canonical one, its robot's own command, or none.

A robot eidata has no description of fills no canonical dim, so its 50-dim `action` is padding; yet its recording
may hold a real command, kept as `action.native` at 10 Hz. That command is the episode's action: it is not
`actionless` (the quality step, `ingest.qa.quality`), the catalog says so (`action_kind`), and an export of it puts
the command in `action` (`jobs/export/`), never the padding.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class ActionKind(StrEnum):
    canonical = "canonical"  # the action mask fills at least one of the 50 canonical dims
    native = "native"  # no canonical dim, but `action.native` holds a command that moves
    none = "none"  # neither: visual forecasting only


def native_command_moves(native: np.ndarray | None, valid: np.ndarray | None = None) -> bool:
    """Whether a native action (N, D) holds a real command: a finite value in at least one column that takes more
    than one value over the frames where its stream has a sample (`valid` 1; every frame without it). A column
    constant over the episode is padding or a command never given, whatever its value."""
    if native is None or native.ndim != 2 or native.size == 0:
        return False
    values = np.asarray(native, dtype=np.float64)
    present = np.isfinite(values)
    if valid is not None and np.shape(valid) == values.shape:
        present &= np.asarray(valid) > 0
    for col in range(values.shape[1]):
        x = values[present[:, col], col]
        if len(x) > 1 and np.ptp(x) > 0:
            return True
    return False


def action_kind(mask: np.ndarray, native: np.ndarray | None, valid: np.ndarray | None = None) -> ActionKind:
    """The kind of an episode's action: canonical where its mask fills a dim, else native where its native command
    moves (`native_command_moves`), else none."""
    if np.asarray(mask, dtype=bool).any():
        return ActionKind.canonical
    return ActionKind.native if native_command_moves(native, valid) else ActionKind.none
