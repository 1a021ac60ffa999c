"""Which order a Genie Sim export wrote its end-effector quaternions in, decided from the file's own numbers.

Genie Sim's writers disagree: the current ROS-bag extractor (AgibotTech/genie_sim `source/data_collection/server/
recording/extract_ros_bag.py` @ 2a1854e) stores `state/end/orientation` as `mat2quat(world_to_robot @ ee_world)`,
and `mat2quat` in `common/base_utils/transform_utils.py` (fork zmf2022/genie_sim @ 82884b0) is scipy's `as_quat`:
(x, y, z, w); an earlier extractor (`Ros_Extrater`, geniesim.plugins) wrote the TF rotation as `[w, x, y, z]`
("for internal use, the quaternion is in the wxyz format"). Nothing in the file names the order, so it is measured.

The current extractor also writes the same end pose in the arm base frame (`state/end/arm_position`,
`state/end/arm_orientation`: `inv(arm_base_pose) @ ee_world`). Both are one rigid pose seen from two frames that are
fixed to each other while the waist holds still, so under the right reading
- `R_base(t) · R_arm(t)^T` is one constant rotation (its spread over the episode is ~0), and
- that rotation maps the arm-frame positions onto the base-frame ones (Kabsch on the positions, which involve no
  quaternion at all, gives the same rotation).
Under the wrong reading neither holds while the hand turns or moves. `evidence` measures both for each reading;
`decide` picks the reading that passes when the other fails, else None (the caller refuses with the numbers). The two
frames stay fixed to each other only while the waist holds still: `still_rows` picks the longest such run.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.agibot_genie.files import AlignedJoints

QuatOrder = Literal["xyzw", "wxyz"]
ORDERS: tuple[QuatOrder, ...] = ("xyzw", "wxyz")
CONSISTENT_RAD = 0.02  # spread / Kabsch gap below this: the reading is consistent (float32 storage: ~1e-6 rad)
INCONSISTENT_RAD = 0.2  # the other reading must be at least this far off for the evidence to decide
MIN_SPREAD_M = 0.005  # positions must span this (RMS along their 2nd principal axis) for Kabsch to be defined


WAIST_STILL = 1e-4  # rad or m: a waist joint moving less than this from the run's first row holds still


def still_rows(waist: np.ndarray | None, min_rows: int = 10) -> slice:
    """The longest run of rows in which no waist joint moved (all rows when there is no waist stream, or when no run
    reaches `min_rows`: the evidence then says whether the frames stayed fixed)."""
    if waist is None or len(waist) < 2:
        return slice(None)
    w = waist.reshape(len(waist), -1).astype(np.float64)
    best, start = (0, 0), 0
    for i in range(1, len(w) + 1):
        if i == len(w) or np.abs(w[i] - w[start]).max() > WAIST_STILL:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = i
    return slice(*best) if best[1] - best[0] >= min_rows else slice(None)


def to_xyzw(quat: np.ndarray, order: QuatOrder) -> np.ndarray:
    """(..., 4) quaternions in `order` -> (x, y, z, w)."""
    q = np.asarray(quat, dtype=np.float64)
    return q if order == "xyzw" else q[..., [1, 2, 3, 0]]


def _rotations(quat: np.ndarray, order: QuatOrder) -> Rotation | None:
    q = to_xyzw(quat.reshape(-1, 4), order)
    norms = np.linalg.norm(q, axis=1)
    if not np.all(np.isfinite(q)) or np.any(norms < 1e-6):
        return None
    return Rotation.from_quat(q / norms[:, None])


def _kabsch(src: np.ndarray, dst: np.ndarray) -> Rotation | None:
    """The rotation R with dst - mean(dst) ~ R (src - mean(src)); None when src does not span a plane."""
    a, b = src - src.mean(axis=0), dst - dst.mean(axis=0)
    if np.linalg.svd(a, compute_uv=False)[1] / np.sqrt(len(a)) < MIN_SPREAD_M:
        return None
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    return Rotation.from_matrix(u @ np.diag([1.0, 1.0, d]) @ vt)


def evidence(
    pos_base: np.ndarray, quat_base: np.ndarray, pos_arm: np.ndarray, quat_arm: np.ndarray
) -> dict[str, dict[str, float | None]]:
    """Per reading: `spread_rad` (largest angle of R_base·R_arm^T from its mean) and `kabsch_rad` (angle between that
    mean and the rotation the positions imply; None when the hand barely moved). Inputs (T, 2, 3) / (T, 2, 4): both
    arms are pooled, each with its own relative rotation."""
    out: dict[str, dict[str, float | None]] = {}
    for order in ORDERS:
        spread, gap = 0.0, None
        for arm in range(pos_base.shape[1]):
            rb, ra = _rotations(quat_base[:, arm], order), _rotations(quat_arm[:, arm], order)
            if rb is None or ra is None:
                spread = float("inf")
                continue
            rel = rb * ra.inv()
            mean = rel.mean()
            spread = max(spread, float(np.max((mean.inv() * rel).magnitude())))
            fit = _kabsch(pos_arm[:, arm].astype(np.float64), pos_base[:, arm].astype(np.float64))
            if fit is not None:
                gap = max(gap or 0.0, float((fit.inv() * mean).magnitude()))
        out[order] = {"spread_rad": spread, "kabsch_rad": gap}
    return out


def decide(found: dict[str, dict[str, float | None]]) -> QuatOrder | None:
    """The reading that is consistent while the other is not; None when the numbers do not tell them apart."""

    def score(order: str) -> float:
        e = found[order]
        return max(float(e["spread_rad"] or 0.0), float(e["kabsch_rad"] or 0.0))

    good = [o for o in ORDERS if score(o) < CONSISTENT_RAD]
    if len(good) == 1 and all(score(o) > INCONSISTENT_RAD for o in ORDERS if o != good[0]):
        return good[0]
    return None


def quaternion_order(h5: AlignedJoints, simulation: bool, option: str, fail: Any) -> tuple[QuatOrder, dict]:
    """The order of `state/end/orientation`: the `quaternion` option, else measured against `state/end/arm_*`, else
    xyzw for a real-robot export; `fail(message, field)` raises when the file cannot settle it."""
    cols = h5.columns
    for key, shape in (("state/end/position", (2, 3)), ("state/end/orientation", (2, 4))):
        if key not in cols:
            raise fail(f"no {key}: no end poses, and no FK description of the G1 arms to build them", key)
        if cols[key].shape[1:] != shape:
            raise fail(f"shape {cols[key].shape}, expected (T, {shape[0]}, {shape[1]})", key)
    if option != "auto":
        return option, {"from": "option quaternion"}  # type: ignore[return-value]
    arm = ("state/end/arm_position", "state/end/arm_orientation")
    if all(k in cols and cols[k].shape[1:] == cols[k.replace("arm_", "")].shape[1:] for k in arm):
        rows = still_rows(cols.get("state/waist/position"))
        found = evidence(*(cols[k][rows] for k in ("state/end/position", "state/end/orientation", *arm)))
        chosen = decide(found)
        if chosen is None:
            msg = (
                "quaternion order of state/end/orientation undecided: the same pose in the arm base (state/end/arm_*)"
                f" is consistent under neither or both readings {_fmt(found)}; set option quaternion"
            )
            raise fail(msg, "state/end/orientation")
        used = [rows.start or 0, rows.stop if rows.stop is not None else h5.rows]
        return chosen, {"from": "state/end vs state/end/arm_* (agibot_genie/quat.py)", "rows": used, **found}
    if not simulation:  # real A2D platform: AgiBot World's own convention (adapters/agibot/proprio.py)
        return "xyzw", {"from": "real-robot export: AgiBot World's xyzw"}
    msg = (
        "quaternion order of state/end/orientation cannot be settled from this file: Genie Sim's extractors wrote xyzw"
        " (current) or wxyz (earlier), and there is no state/end/arm_position / arm_orientation to measure it against;"
        " set option quaternion"
    )
    raise fail(msg, "state/end/orientation")


def _fmt(found: dict[str, dict[str, float | None]]) -> str:
    return "; ".join(f"{o}: spread {v['spread_rad']:.3g} rad, kabsch {v['kabsch_rad']} rad" for o, v in found.items())
