"""The space a LeRobot export's `action` leaves in (`schemas.actions.ActionSpace`, the user's `--action-space`; the
three spaces are described in jobs/export/README.md). `joints` finds its columns as ingest does
(`ingest.canonical.joint_columns.Resolver`) over the natives' `<stream>.<component>` names, each split into a stream
and a component at every dot.

Timing (`schemas.actions.CONVENTIONS["lerobot"]`, commanded): row t of `action.native` is the command the recorder
sent at t (resampled to 10 Hz at ingest), which is what lerobot's `record_loop` writes at t: the rows leave as they
are. An episode whose command in the space takes one value per dim over its frames (its stats) has none.

lerobot holds one shape per feature per dataset (0.6.1 `datasets/feature_utils.py` `get_hf_features_from_features`:
a 1-D feature is a `datasets.Sequence(length=shape[0])`; `LeRobotDatasetMetadata.features` is the one `info.json`),
so episodes whose `action` widths or meanings differ cannot share a dataset unpadded: `key` says which can.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adapters.base import Stream
from ingest.canonical.joint_columns import ACTION_STREAMS, STATE_STREAMS, JointSpaceError, Resolver
from schemas.actions import ActionKind, ActionSpace
from schemas.canonical import ACTION, ACTION_NATIVE, STATE, STATE_NATIVE
from schemas.robots.joint_space import ArmMap, JointMap, JointSpaceOptions, JointSpaceSpec, name_key
from schemas.robots.registry import JOINT_SPACE


class NoActionInSpace(ValueError):
    """A dataset or episode has no action in the chosen space (the message says why)."""


@dataclass(frozen=True)
class SpaceOf:
    """How one dataset's `action` and `observation.state` leave in a space."""

    space: ActionSpace
    columns: dict[str, str] = field(default_factory=dict)  # exported key -> the corpus column it is read from
    select: dict[str, tuple[int, ...]] = field(default_factory=dict)  # exported key -> that column's dims taken
    names: tuple[str, ...] | None = None  # the action's names (None: the canonical ones)
    width: int = 50

    @property
    def key(self) -> tuple[Any, ...]:
        """Datasets of equal keys share one exported dataset: the same space, width, names and columns."""
        return self.space, self.width, self.names, tuple(sorted(self.select.items()))

    def said(self) -> str:
        return f"{self.space.value} [{self.width}]"


def episode_kind(line: Mapping[str, Any], features: Mapping[str, Any]) -> ActionKind:
    """The episode's action kind: its lineage's (`action_kind`), else canonical where its mask fills a dim, else
    native where its dataset keeps a command (a corpus before issue 55), else none."""
    lineage = line.get("eidata") or {}
    if lineage.get("action_kind"):
        return ActionKind(lineage["action_kind"])
    if any(lineage.get("mask") or ((features.get(ACTION) or {}).get("info") or {}).get("mask") or []):
        return ActionKind.canonical
    return ActionKind.native if ACTION_NATIVE in features else ActionKind.none


def default_space(kinds: list[ActionKind]) -> ActionSpace:
    """`--action-space` unset: native where no episode has a canonical dim and one has a command (robots without a
    description), else canonical."""
    if ActionKind.canonical not in kinds and ActionKind.native in kinds:
        return ActionSpace.native
    return ActionSpace.canonical


def space_of(features: Mapping[str, Any], embodiment: str | None, space: ActionSpace) -> SpaceOf:
    """How a dataset with `features` of `embodiment` leaves in `space`; `NoActionInSpace` where it cannot."""
    if space is ActionSpace.canonical:
        return SpaceOf(space)
    if ACTION_NATIVE not in features:
        raise NoActionInSpace(f"no {ACTION_NATIVE} (the recording kept no command)")
    if space is ActionSpace.native:
        columns = {ACTION: ACTION_NATIVE} | ({STATE: STATE_NATIVE} if STATE_NATIVE in features else {})
        names = features[ACTION_NATIVE].get("names")
        width = int(np.prod(features[ACTION_NATIVE]["shape"]))
        return SpaceOf(space, columns, {}, tuple(names) if names else None, width)
    spec = JOINT_SPACE.get(embodiment or "")
    if spec is None:
        raise NoActionInSpace(
            f"embodiment {embodiment!r} has no joint-space description (schemas/robots/joint_space.yaml)"
        )
    if STATE_NATIVE not in features:
        raise NoActionInSpace(f"no {STATE_NATIVE} (the joint positions)")
    names, action = joint_dims(spec, features[ACTION_NATIVE].get("names") or [], ACTION_STREAMS, "action")
    _, state = joint_dims(spec, features[STATE_NATIVE].get("names") or [], STATE_STREAMS, "state")
    return SpaceOf(
        space, {ACTION: ACTION_NATIVE, STATE: STATE_NATIVE}, {ACTION: action, STATE: state}, names, len(names)
    )


def _streams(names: list[str]) -> tuple[dict[str, Stream], dict[tuple[str, int], int]]:
    """The native columns as the streams they may have come from (`<stream>.<component>`, split at every dot, for a
    component may hold dots: `action.shoulder_pan.pos`), and each (stream, index) -> the column's index."""
    parts: dict[str, list[tuple[int, str]]] = {}
    for i, n in enumerate(names):
        bits = n.split(".")
        for k in range(1, len(bits)):
            parts.setdefault(".".join(bits[:k]), []).append((i, ".".join(bits[k:])))
    streams = {
        key: Stream(np.zeros(1), np.zeros((1, len(cols))), names=tuple(c for _, c in cols))
        for key, cols in parts.items()
    }
    where = {(key, j): i for key, cols in parts.items() for j, (i, _) in enumerate(cols)}
    return streams, where


def _arm_joints(arm: ArmMap) -> list[tuple[tuple[JointMap, ...], str | None, tuple]]:
    """The arm's joint groups to find: (joints, GR00T modality slice, numbering groups), arm then its effector."""
    out: list[tuple[tuple[JointMap, ...], str | None, tuple]] = []
    numbering = ((*arm.joints, arm.gripper.joint), arm.joints) if arm.gripper else (arm.joints,)
    out.append((arm.joints, arm.modality_arm, numbering))
    if arm.gripper is not None:
        out.append(((arm.gripper.joint,), None, ()))
    if arm.hand is not None:
        out.append((arm.hand.joints(), arm.modality_hand, ()))
    return out


def joint_dims(
    spec: JointSpaceSpec, names: list[str], first: tuple[str, ...], group: str
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The description's joint names and, per joint, the index of its native column among `names`; every joint of
    every arm, gripper and hand must be found, else `NoActionInSpace` naming those missing."""
    streams, where = _streams(list(names))
    res = Resolver(streams, first, group, JointSpaceOptions())
    out_names: list[str] = []
    dims: list[int] = []
    missing: list[str] = []
    for arm in spec.arms:
        for joints, modality, numbering in _arm_joints(arm):
            try:
                cols, miss = res.find(joints, arm.prefixes, modality, arm.motor_ids, numbering)
            except (JointSpaceError, ValueError) as err:
                raise NoActionInSpace(f"{group} joints of the {arm.side} arm: {err}") from err
            missing += [f"{arm.side}: {m}" for m in miss]
            for j, c in zip(joints, cols, strict=True):
                if c is not None:
                    one = len(spec.arms) == 1 or name_key(j.urdf).startswith(arm.side)  # else named by its side
                    out_names.append(j.urdf if one else f"{arm.side}_{j.urdf}")
                    dims.append(where[(c.stream, c.index)])
    if missing:
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        raise NoActionInSpace(f"{group} joints {missing[:6]} not among its native columns ({shown})")
    return tuple(out_names), tuple(dims)


def space_features(
    features: Mapping[str, Any], of: SpaceOf
) -> tuple[dict[str, Any], dict[str, str], dict[str, tuple[int, ...]], str | None]:
    """`features` with `action` (and `observation.state`) as `of` exports them, the columns they are read from and
    the dims taken (`consumer_layout`), and the line that says so (None for the canonical space)."""
    if of.space is ActionSpace.canonical:
        return dict(features), {}, {}, None
    out = dict(features)
    for key, column in of.columns.items():
        spec = copy.deepcopy(dict(features[column]))
        dims = of.select.get(key)
        if dims is not None:
            spec["shape"] = [len(dims)]
            spec["names"] = list(of.names or ())
        spec["info"] = {"from": column, "action_space": of.space.value} | ({"dims": list(dims)} if dims else {})
        out[key] = spec
    shown = ", ".join(map(str, (of.names or ())[:3])) + (", ..." if len(of.names or ()) > 3 else "")
    said = " and ".join(f"{k} from {v}" for k, v in of.columns.items())
    note = f"action space {of.space.value}: {said} ({of.width} dims: {shown}), at 10 Hz"
    return out, dict(of.columns), dict(of.select), note


def episode_lacks(ref: Any, of: SpaceOf, kind: ActionKind) -> str | None:
    """Why one episode (a `plan.EpisodeRef`) has no action in `of`'s space, or None where it has one."""
    if of.space is ActionSpace.canonical:
        native = kind is ActionKind.native
        return (
            "no canonical dim: its command is its action (action_kind native; --action-space native)"
            if native
            else None
        )
    if kind is ActionKind.none:
        return "no action at all (catalog action_kind none)"
    if (moves := ref.moves(of.columns[ACTION])) is not None:
        dims = list(of.select.get(ACTION) or range(len(moves)))
        if not np.any(moves[dims]):
            return f"its {of.space.value} command takes one value per dim over its frames"
    return None
