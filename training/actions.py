"""Which action an episode trains on, and where it sits in the model's action vector.

The kind comes from the contract (`EpisodeLineage.action_kind_in`: the lineage's `action_kind`), never from the mask
here. The trainer takes each kind in one space (`schemas.actions.trainable_spaces`): a canonical episode in the 50
canonical dims, a native one (a robot without a description) as its own command `action.native` in the native block
that follows them (`ModelConfig.native_dim` wide), its state `observation.state.native` likewise. A vector is
[canonical 50 | native block]; the mask of an episode says which of those dims are real, so the dims past its
command's width (padding) and the block it does not use enter neither the loss, nor the statistics, nor the model's
input as data (training/README.md, "Native actions"). A row t of either space is what was commanded at t
(`CONVENTIONS["eidata"]`, `Timing.commanded`), so the chunk of an observation at t is rows t .. t+K-1 of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.actions import ActionKind, ActionSpace, trainable_spaces
from schemas.canonical import ACTION, ACTION_NATIVE, CANONICAL_DIM, STATE, STATE_NATIVE
from schemas.corpus import LINEAGE_KEY, EpisodeLineage
from schemas.lerobot import INFO_PATH, InfoJson
from training.errors import DataError


@dataclass(frozen=True)
class EpisodeAction:
    """An episode's action as the trainer takes it: its kind, the space it trains in (None: it has no action), its
    canonical mask, and the widths of its native command and state (0 where it trains in the canonical space)."""

    kind: ActionKind
    space: ActionSpace | None
    canonical: np.ndarray  # [CANONICAL_DIM] bool: the embodiment's real canonical dims
    native_width: int = 0
    state_width: int = 0

    @property
    def offset(self) -> int:
        """Where its space starts in the model's vector: 0 (canonical) or after the canonical dims (native)."""
        return CANONICAL_DIM if self.space is ActionSpace.native else 0

    def columns(self) -> tuple[tuple[str, int], tuple[str, int]]:
        """(data column, width) of its action and its state in the space it trains in (width 0: not recorded)."""
        if self.space is ActionSpace.native:
            return (ACTION_NATIVE, self.native_width), (STATE_NATIVE, self.state_width)
        return (ACTION, CANONICAL_DIM), (STATE, CANONICAL_DIM)

    def used(self) -> tuple[np.ndarray, np.ndarray]:
        """Per column of `columns`, which of its dims are real: the canonical mask, or every dim of a command."""
        if self.space is ActionSpace.native:
            return np.ones(self.native_width, dtype=bool), np.ones(self.state_width, dtype=bool)
        return self.canonical, self.canonical

    def masks(self, native_dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(action, state) masks over the model's vector [canonical | native block of `native_dim`]."""
        return place(self.used()[0], self.offset, native_dim), place(self.used()[1], self.offset, native_dim)


def place(x: np.ndarray, offset: int, native_dim: int) -> np.ndarray:
    """x [..., w] written at `offset` of a zero vector [..., CANONICAL_DIM + native_dim] (the model's layout)."""
    out = np.zeros((*x.shape[:-1], CANONICAL_DIM + native_dim), dtype=x.dtype)
    out[..., offset : offset + x.shape[-1]] = x
    return out


def canonical_mask(line: dict[str, Any], info: InfoJson) -> np.ndarray:
    """Which of the 50 action dims are real: the episode's lineage mask, else info.json's
    `features.action.info.mask` (DESIGN.md section 3); a dataset without an action feature has none. Neither given is
    an error: taking all 50 dims as real would train padded dims as data (audit S10)."""
    mask = EpisodeLineage.of(line).mask
    if mask is None:
        ft = info.features.get(ACTION)
        mask = (ft.info or {}).get("mask") if ft is not None else [0] * CANONICAL_DIM
    if mask is None:
        raise DataError(
            f"no action mask: neither the episode's lineage ('{LINEAGE_KEY}.mask') nor {INFO_PATH} "
            f"features.{ACTION}.info.mask says which of the {CANONICAL_DIM} action dims are real; re-ingest the "
            "dataset (ingest writes the embodiment's mask) or add the mask to info.json"
        )
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (CANONICAL_DIM,):
        raise DataError(f"episode mask has shape {mask.shape}, expected ({CANONICAL_DIM},)")
    return mask


def _width(info: InfoJson, key: str) -> int:
    ft = info.features.get(key)
    return int(np.prod(ft.shape)) if ft is not None and ft.shape and None not in ft.shape else 0


def episode_action(line: dict[str, Any], info: InfoJson, native_dim: int) -> EpisodeAction:
    """The action an episode of a dataset (its episodes.jsonl `line`, its info.json) trains on; a DataError names the
    field when its command cannot be taken (no `action.native` for a native kind, or one wider than the block)."""
    mask = canonical_mask(line, info)
    kind = EpisodeLineage.of(line).action_kind_in(info)
    spaces = trainable_spaces(kind, has_native=ACTION_NATIVE in info.features, has_joint_map=False)
    if not spaces:
        return EpisodeAction(kind, None, mask)
    if spaces[0] is ActionSpace.canonical:
        return EpisodeAction(kind, ActionSpace.canonical, mask)
    width, state = _width(info, ACTION_NATIVE), _width(info, STATE_NATIVE)
    if not width:
        raise DataError(
            f"action kind native but {INFO_PATH} has no fixed-width features.{ACTION_NATIVE}: the command it names "
            "is not in the data"
        )
    if max(width, state) > native_dim:
        raise DataError(
            f"native command {width} wide and state {state} wide ({INFO_PATH} features.{ACTION_NATIVE}, "
            f"{STATE_NATIVE}): the model's native block holds {native_dim}; raise model.native_dim"
        )
    return EpisodeAction(kind, ActionSpace.native, mask, native_width=width, state_width=state)
