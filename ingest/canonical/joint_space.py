"""Joint-space episodes -> the hand signals canonicalization builds poses from, by forward kinematics.

`joint_space_signals(raw, embodiment)` reads the episode's native joint vectors (by name, GR00T modality slice or an
explicit map; `schemas.robots.joint_space`), converts them to radians, and computes for the whole episode at once (one
batched FK call per description, never per frame):

- per arm, the wrist pose: `canonical_from_base @ base_from_link @ link_from_wrist`, the link the embodiment names
  moved to the canonical wrist frame (flange point, z = approach, y = the closing axis of parallel fingers), as an
  `se3_4x4` stream the resampler SLERPs like any recorded EEF pose (no EEF offset is applied again);
- a parallel gripper's opening 0..1 from its joint, linear between the maker's closed and open values;
- a dexterous hand's five fingertips and MANO-21-style keypoints (the links `schemas/robots/hands.yaml` names) in the
  wrist frame by the hand's own kinematics, NaN for what the hand lacks (out of the mask; canonicalize moves the
  keypoints into the frame human keypoints are stored in and records the slot mask, `Embodiment.keypoint_slots`);
- the commanded wrist pose from the action's absolute joint targets, by the same FK: its distance to the next
  recorded state goes to the notes (`command_tracking`), while the canonical action stays the state delta every EEF
  source gets (`hand_state.action_from_state`), so state t + action t is state t+1 exactly.

A gripper is read from its state column, else from its action column (the command, `joint_gripper`). Natives stay
as they were. What cannot be resolved is a `JointSpaceError` naming the dataset, the field and the missing joints:
`canonicalize` keeps the natives, fills no canonical dim and records the reason (joint space is never a demotion),
unless the robot refuses (`JointSpaceSpec.unresolved`, a declared robot): then `JointSpaceRefused` quarantines the
episode. Nothing is written back to the raw episode (`EvaluatedHands`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adapters.base import HandSignals, HandTrack, RawEpisode, Stream
from ingest.canonical.joint_columns import (
    ACTION_STREAMS,
    STATE_STREAMS,
    Column,
    JointSpaceError,
    NativeLimits,
    Resolver,
    arm_prefixes,
    calibration_name,
    numbering_groups,
)
from ingest.canonical.joint_gripper import read_gripper
from ingest.canonical.joint_numbering import NumberingError
from ingest.canonical.joint_units import CalibrationMissing, UnitDecision, infer_units, to_radians
from ingest.frames import compose, offset_matrix, se3_inverse
from schemas.actions import NotCanonical
from schemas.robots.hands import FINGERS
from schemas.robots.joint_space import (
    NUMBERED_ARM,
    ArmMap,
    JointSpaceOptions,
    JointSpaceSpec,
    JointUnit,
    JointUnitsRecord,
    name_key,
)
from schemas.robots.registry import UNKNOWN_EMBODIMENT, Effector, Embodiment


@dataclass(frozen=True)
class EvaluatedHands:
    """The hands canonicalization builds poses from (FK of joint angles, declared MANO parameters evaluated, or the
    adapter's as declared) and what their evaluation found, returned instead of written on the raw episode."""

    signals: HandSignals
    joint_units: JointUnitsRecord | None = None  # the unit the arm joints were read in, to the lineage
    native_limits: NativeLimits = field(default_factory=dict)  # for the behaviour QA's saturation check
    reasons: tuple[str, ...] = ()  # tier reasons, after the raw episode's own
    cause: NotCanonical | None = None  # why no hand was built, where `reasons` say so

    @property
    def code(self) -> str:
        """The code its reasons are said under: the cause's, else that of the joint space's notes."""
        return self.cause.value if self.cause is not None else "canonical_hands"


def _wrist_poses(spec: JointSpaceSpec, named: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """side -> (n,4,4) canonical wrist poses, one batched FK call for every arm."""
    from ingest.kinematics import load_model

    model = load_model(spec.description)
    q = model.assemble(named, n)
    links = [a.link for a in spec.arms]
    poses = model.forward(q, links, base=spec.base_link)  # (n, arms, 4, 4) float64
    canon = offset_matrix(spec.canonical_from_base)
    out = {}
    for k, a in enumerate(spec.arms):
        base_from_link = compose(offset_matrix(a.base_from_arm), poses[:, k])
        out[a.side] = compose(canon, compose(base_from_link, offset_matrix(a.link_from_wrist)))
    return out


def _hand_points(spec: JointSpaceSpec, arm: ArmMap, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) hand joint angles (rad, the dataset's order) -> ((n, 5, 3) fingertips, (n, 21, 3) MANO-21 keypoints),
    both in the canonical wrist frame, NaN for a finger / keypoint link the hand lacks (`hands.yaml`). One batched FK
    call of the hand's description: a tip keypoint is the same FK value as its fingertip (hands.yaml ties the links)."""
    from ingest.kinematics import load_model

    assert arm.hand is not None
    hand = arm.hand.spec()
    model = load_model(hand.description)
    qh = model.assemble({j: q[:, i] for i, j in enumerate(hand.native_order)}, len(q))
    tips = [hand.fingertips[f] for f in FINGERS]
    links = sorted({t for t in (*tips, *hand.keypoints) if t is not None})
    pos = model.forward(qh, links, base=hand.base_link)[..., :3, 3]  # (n, k, 3) in the hand base frame
    wrist_from_base = _wrist_from_hand_base(spec, arm, hand.mount_on(spec.description).mount_link)
    pos = pos @ wrist_from_base[:3, :3].T + wrist_from_base[:3, 3]
    nan = np.full((len(q), 3), np.nan)
    out_tips, out_kp = (
        np.stack([nan if link is None else pos[:, links.index(link)] for link in named], axis=1)
        for named in (tips, hand.keypoints)
    )
    return out_tips, out_kp


def _wrist_from_hand_base(spec: JointSpaceSpec, arm: ArmMap, mount_link: str) -> np.ndarray:
    """The fixed transform from the hand's base (= `mount_link` of the arm description) to the canonical wrist."""
    from ingest.kinematics import load_model

    model = load_model(spec.description)
    probe = np.stack([np.zeros(model.dof), np.clip(np.full(model.dof, 0.3), model.lower, model.upper)])
    poses = model.forward(probe, [arm.link, mount_link])
    link_from_mount = se3_inverse(poses[:, 0]) @ poses[:, 1]
    if not np.allclose(link_from_mount[0], link_from_mount[1], atol=1e-9):
        raise JointSpaceError(f"{spec.description}: {mount_link} is not rigidly attached to {arm.link}")
    return se3_inverse(offset_matrix(arm.link_from_wrist)) @ link_from_mount[0]


@dataclass
class _Arm:
    arm: ArmMap
    cols: list[Column]
    ts: np.ndarray
    raw: np.ndarray  # (T, dof) as recorded
    q: np.ndarray | None = None  # (T, dof) rad, once the unit is settled

    names: list[str] = field(default_factory=list)  # per column, the name its calibration is found under


def _read_arms(res: Resolver, spec: JointSpaceSpec, where: str) -> list[_Arm]:
    arms, missing = [], []
    for arm in spec.arms:
        try:
            prefixes, groups = arm_prefixes(arm, res.opts), numbering_groups(arm)
            cols, miss = res.find(arm.joints, prefixes, arm.modality_arm, arm.motor_ids, groups)
        except NumberingError as err:
            raise JointSpaceError(f"{where}: {err}") from err
        missing += [f"{arm.side}: {m}" for m in miss]
        if not miss:
            ts, raw = res.values([c for c in cols if c is not None])
            two = len(spec.arms) > 1
            names = [
                calibration_name(c.name, j.urdf, arm.side, two, res.opts)  # type: ignore[union-attr]
                for c, j in zip(cols, arm.joints, strict=True)
            ]
            arms.append(_Arm(arm, cols, ts, raw, names=names))  # type: ignore[arg-type]
    if missing:
        have = [n for _, _, names in res.table for n in names][:40]
        raise JointSpaceError(
            f"{where}: joints {missing} not found by name, modality slice or joint_map; native "
            f"names: {have}{_unsided(res, spec)}"
        )
    if len({len(a.ts) for a in arms}) > 1 or any(not np.array_equal(a.ts, arms[0].ts) for a in arms):
        raise JointSpaceError(f"{where}: the arms' joints are on different clocks")
    return arms


def _unsided(res: Resolver, spec: JointSpaceSpec) -> str:
    """A hint when the names carry numbered arm prefixes (arm1_, arm2_) no side was given for."""
    if len(spec.arms) < 2:
        return ""
    found = sorted({m.group(1) for _, _, names in res.table for n in names if (m := NUMBERED_ARM.match(n))})
    given = {name_key(p) for p in res.opts.sides}
    unknown = [p for p in found if name_key(p) not in given]
    if not unknown:
        return ""
    return f"; arm prefixes {unknown} have no side: set joint_space.sides (e.g. {{{unknown[0]}: left}})"


def _zero(arm: ArmMap, opts: JointSpaceOptions) -> np.ndarray:
    """(dof,) the description's angle at each joint's recorded 0 (`JointSpaceOptions.joint_zero`; mostly 0)."""
    return np.array([opts.joint_zero.get(j.urdf, 0.0) for j in arm.joints])


def _decide(spec: JointSpaceSpec, arms: list[_Arm], opts: JointSpaceOptions) -> UnitDecision:
    """The unit of the arms' values, by their fit to the description's joint limits (`joint_units`), the limits
    moved to the dataset's zero."""
    from ingest.kinematics import load_model

    model = load_model(spec.description)
    col = {n: i for i, n in enumerate(model.joint_names)}
    idx = [col[j.urdf] for a in arms for j in a.arm.joints]
    values = np.concatenate([a.raw for a in arms], axis=1)
    names = [n for a in arms for n in a.names]
    zero = np.concatenate([_zero(a.arm, opts) for a in arms])
    return infer_units(values, names, model.lower[idx] - zero, model.upper[idx] - zero, opts, spec.units)


def _native_limits(
    res: Resolver, spec: JointSpaceSpec, arms: list[_Arm], unit: JointUnit | None
) -> dict[str, tuple[float, float]]:
    """Each arm joint's native state column (named as `ingest.canonical.natives.resample_natives` names it) -> the
    description's limits in the decided unit, for the behaviour QA's saturation check: radians or degrees as the
    URDF gives them; lerobot's -100..100 clamps at +-100, the calibrated range ends (motors_bus.py, see
    `joint_units`); none for ticks or an undecided unit (their range needs the calibration or a unit)."""
    from ingest.kinematics import load_model

    if unit not in ("rad", "deg", "range_m100_100"):
        return {}
    model = load_model(spec.description)
    at = {n: i for i, n in enumerate(model.joint_names)}
    out = {}
    for a in arms:
        for c, j in zip(a.cols, a.arm.joints, strict=True):
            zero = res.opts.joint_zero.get(j.urdf, 0.0)
            lo, hi = float(model.lower[at[j.urdf]]) - zero, float(model.upper[at[j.urdf]]) - zero
            if unit == "deg":
                lo, hi = float(np.degrees(lo)), float(np.degrees(hi))
            elif unit == "range_m100_100":
                lo, hi = -100.0, 100.0
            if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
                s = res.streams[c.stream]
                comp = list(s.names or ())
                if s.values.ndim == 1:  # a scalar column is its own native column
                    out[c.stream] = (lo, hi)
                else:
                    wide = len(comp) == s.values.shape[1]
                    out[f"{c.stream}.{comp[c.index] if wide else c.index}"] = (lo, hi)
    return out


def _fk(spec: JointSpaceSpec, arms: list[_Arm]) -> dict[str, np.ndarray]:
    n = len(arms[0].ts)
    urdf = [j.urdf for a in arms for j in a.arm.joints]
    q = {id(a): a.q for a in arms if a.q is not None}
    if len(set(urdf)) == len(urdf):  # one description holding both arms (GR1, G1, piper_dual): one batched call
        return _wrist_poses(spec, {j.urdf: q[id(a)][:, i] for a in arms for i, j in enumerate(a.arm.joints)}, n)
    # Two arms placed on one single-arm description (ALOHA, fr3_dual) share its joint names: one call per
    # arm, or the last arm's values would drive both.
    out: dict[str, np.ndarray] = {}
    for a in arms:
        one = spec.model_copy(update={"arms": (a.arm,)})
        out |= _wrist_poses(one, {j.urdf: q[id(a)][:, i] for i, j in enumerate(a.arm.joints)}, n)
    return out


def joint_space_signals(raw: RawEpisode, spec: JointSpaceSpec) -> EvaluatedHands:
    """The hand signals of a joint-space episode (see the module docstring), with the unit decision, the native arm
    joints' limits in it and the unit's reasons; JointSpaceError names what is missing (with the decision and the
    limits once the unit was measured)."""
    opts = raw.joint_space or JointSpaceOptions()
    dataset = raw.metadata.get("dataset", raw.ref.subset)
    where = f"dataset {dataset}, episode {raw.ref.raw_id}, field observation.state"
    states = Resolver(raw.states, STATE_STREAMS, "state", opts)
    arms = _read_arms(states, spec, where)
    decision = _decide(spec, arms, opts)
    record, limits = decision.record(), _native_limits(states, spec, arms, decision.unit)
    try:
        sig = _fk_signals(raw, spec, states, arms, decision, where)
    except (JointSpaceError, CalibrationMissing) as err:  # a joint the unit's calibration lacks (a gripper's)
        cause = err.cause if isinstance(err, JointSpaceError) else NotCanonical.joint_units
        raise JointSpaceError(str(err), record, limits, cause) from err
    reasons = tuple(n for n in sig.notes if n.startswith("joint units:") or n.startswith("joint_space.units"))
    return EvaluatedHands(sig, record, limits, reasons)


def _fk_signals(
    raw: RawEpisode, spec: JointSpaceSpec, states: Resolver, arms: list[_Arm], decision: UnitDecision, where: str
) -> HandSignals:
    """The wrists, grippers and hands by FK in the decided unit; JointSpaceError when the unit gives no angles."""
    opts = states.opts
    if not decision.fk:
        raise JointSpaceError(f"{where}: {decision.reason()}", cause=NotCanonical.joint_units)
    units = decision.unit
    assert units is not None
    for a in arms:
        a.q = to_radians(a.raw, a.names, units, opts) + _zero(a.arm, opts)
    poses = _fk(spec, arms)
    tracks: dict[int, HandTrack] = {}
    notes = [
        f"joint space: wrists by forward kinematics of {spec.description} ({units}); {spec.source}",
        decision.summary(),
        *decision.notes,
        *states.notes,
    ]
    if opts.sides:
        notes.append(f"arm sides {opts.sides} from {opts.sides_from or 'the joint_space.sides option'}")
    if opts.joint_zero:
        notes.append(f"joint zeros moved to the description's (rad added after the unit): {opts.joint_zero}")
    for a in arms:
        ts = a.ts
        track = HandTrack(rotation=Stream(ts, poses[a.arm.side], unit="se3_4x4", frame="robot_base"))
        if opts.gripper_unread:  # the dataset's word: wrists without the gripper (said also where none is modelled)
            notes.append(f"{a.arm.side} gripper not read by forward kinematics: {opts.gripper_unread}")
        elif a.arm.gripper is not None:
            try:
                grip, commanded, note = read_gripper(raw, states, a.arm, units, opts, where)
            except JointSpaceError as err:  # a robot shipped with this gripper or another effector: wrists kept
                if not a.arm.gripper.optional:
                    raise
                notes.append(f"{a.arm.side} gripper not recorded (the robot may carry another effector): {err}")
                grip, commanded, note = None, False, None
            track.gripper, track.gripper_command = (None, grip) if commanded else (grip, None)
            notes += [note] if note else []
        if a.arm.hand is not None:
            track.fingertips, track.keypoints = _hand(states, spec, a.arm, where)
        tracks[0 if a.arm.side == "left" else 1] = track
    notes += _command_tracking(raw, spec, units, opts, arms, poses)
    return HandSignals(hands=tracks, frame="robot_base", apply_offset=False, notes=notes)


def _hand(res: Resolver, spec: JointSpaceSpec, arm: ArmMap, where: str) -> tuple[Stream, Stream]:
    """(fingertips, MANO-21 keypoints) streams of one dexterous hand, both in the wrist frame (`frame="wrist"`)."""
    assert arm.hand is not None
    hand = arm.hand.spec()
    cols, missing = res.find(arm.hand.joints(), arm_prefixes(arm, res.opts), arm.modality_hand)
    if missing:
        raise JointSpaceError(f"{where}: {arm.side} hand joints {missing} not found")
    ts, v = res.values([c for c in cols if c is not None])
    if hand.native_unit == "inspire_0_1":  # 1 = open, 0 = closed, linear in between (hands.yaml ranges)
        r = [hand.ranges[j] for j in hand.native_order]
        v = np.array([x.closed for x in r]) + v * np.array([x.open - x.closed for x in r])
    tips, keypoints = _hand_points(spec, arm, v)
    return Stream(ts, tips, unit="m", frame="wrist"), Stream(ts, keypoints, unit="m", frame="wrist")


def _command_tracking(
    raw: RawEpisode,
    spec: JointSpaceSpec,
    units: JointUnit,
    opts: JointSpaceOptions,
    arms: list[_Arm],
    state_poses: dict[str, np.ndarray],
) -> list[str]:
    """The wrist the action's joint targets command, by FK, against the next recorded state (a note)."""
    if not raw.actions:
        return ["joint space: no action stream; canonical actions are state deltas"]
    res = Resolver(raw.actions, ACTION_STREAMS, "action", opts)
    try:
        cmd = _read_arms(res, spec, "action")
        for a in cmd:  # the action shares the state's recorder, hence its unit
            a.q = to_radians(a.raw, a.names, units, opts) + _zero(a.arm, opts)
    except (JointSpaceError, CalibrationMissing) as err:
        return [f"joint space: action joints not read ({err}); canonical actions are state deltas"]
    if len(cmd[0].ts) != len(arms[0].ts) or len(cmd[0].ts) < 2:
        return ["joint space: action and state lengths differ; canonical actions are state deltas"]
    cmd_poses = _fk(spec, cmd)
    errs = [np.linalg.norm(cmd_poses[s][:-1, :3, 3] - state_poses[s][1:, :3, 3], axis=1) for s in cmd_poses]
    e = np.concatenate(errs)
    return [
        f"joint space: command_tracking median {np.median(e) * 1000:.1f} mm, p95 {np.percentile(e, 95) * 1000:.1f} mm"
        " (commanded wrist by FK of the action vs the next state); canonical actions are state deltas"
    ]


def joint_space_hands(raw: RawEpisode, emb: Embodiment) -> EvaluatedHands:
    """The hands of an episode that declares none: the FK hand signals of a joint-space embodiment, else `raw.hands`
    (empty) with the reason (a robot that records joints but has no description, or joints that do not resolve:
    natives only, no canonical dim, never a guess)."""
    if emb.joint_space is None:
        if raw.states and emb.effector not in (Effector.human, Effector.unknown) and emb.name != UNKNOWN_EMBODIMENT:
            why = f"no kinematic description for robot_type {raw.robot_type!r} (embodiment {emb.name!r} has none)"
            return EvaluatedHands(raw.hands, reasons=(f"{why}: natives only",), cause=NotCanonical.no_description)
        return EvaluatedHands(raw.hands)
    try:
        return joint_space_signals(raw, emb.joint_space)
    except JointSpaceError as err:
        if emb.joint_space.unresolved == "refuse":  # a declared robot: its columns are the user's word
            raise JointSpaceRefused(f"{emb.name} ({emb.joint_space.source}): {err}") from err
        said = (f"joint space ({emb.name}): {err}",)
        return EvaluatedHands(raw.hands, err.joint_units, err.native_limits, said, err.cause)


class JointSpaceRefused(ValueError):
    """A robot whose joint space refuses what does not resolve (one the job spec declares): the episode is
    quarantined with this message, naming the dataset, episode and field, never kept as natives only."""
