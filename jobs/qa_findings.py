"""Geometry QA per dataset: the episodes' `QARecord`s summarized, and a finding for every invariant that fails.

`summarize` pools the episodes of one dataset: fractions are frame-weighted means, histograms are summed, percentiles
and sizes are the median over episodes (robust to one odd episode), gripper min/max are the extremes and the
action/state errors the worst episode's (the delta action reproduces the next state exactly or the dataset is
inconsistent). `findings` compares the summary with a `QAConfig` and names the invariant, the measured value and the
threshold; `eidata validate` reports them as warnings (errors with `--strict`), the report shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
import yaml
from pydantic import BaseModel, Field, ValidationError

from adapters.storage.location import locate
from schemas.corpus import JOB_DIR
from schemas.qa import APPROACH_BINS, QAConfig, QARecord

log = logging.getLogger(__name__)
C = TypeVar("C", bound=BaseModel)

FRACTIONS = ("hands_in_front", "hands_in_image", "hands_ahead", "hands_below_eyes", "approach_down", "approach_side",
             "approach_up", "left_of_right")  # fmt: skip
MEDIANS = ("speed_p50", "speed_p95", "speed_p99", "acc_p50", "acc_p95", "acc_p99", "hand_length", "bone_length_cv",
           "gripper_p5", "gripper_p95", "speed_limit", "acc_limit")  # fmt: skip


class DatasetQA(BaseModel):
    """One dataset's pooled invariants: the `QARecord` fields, pooled as the module docstring says."""

    dataset: str
    episodes: int = Field(description="episodes with a QA record")
    record: QARecord


class Finding(BaseModel):
    """One failed invariant of one dataset."""

    code: str = Field(description="qa_<invariant>")
    message: str
    value: float
    threshold: float


def summarize(dataset: str, records: Iterable[QARecord | None]) -> DatasetQA | None:
    """The dataset's pooled QA; None when no episode carries a record (datasets written by other tools)."""
    recs = [r for r in records if r is not None]
    if not recs:
        return None
    out: dict[str, object] = {"frames": sum(r.frames or 0 for r in recs)}
    for name in FRACTIONS:
        pairs = [(getattr(r, name), r.frames or 0) for r in recs if getattr(r, name) is not None]
        if pairs and sum(w for _, w in pairs) > 0:
            out[name] = float(np.average([v for v, _ in pairs], weights=[w for _, w in pairs]))
    for name in MEDIANS:
        vals = [getattr(r, name) for r in recs if getattr(r, name) is not None]
        if vals:
            out[name] = float(np.median(vals))
    hists = [r.approach_hist for r in recs if r.approach_hist is not None and len(r.approach_hist) == APPROACH_BINS]
    if hists:
        out["approach_hist"] = np.sum(hists, axis=0).astype(int).tolist()
    for name, pick in (("gripper_min", min), ("gripper_max", max), ("action_pos_err", max), ("action_rot_err", max)):
        vals = [getattr(r, name) for r in recs if getattr(r, name) is not None]
        if vals:
            out[name] = float(pick(vals))
    return DatasetQA(dataset=dataset, episodes=len(recs), record=QARecord(**out))


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


# Invariants with one bound: (code, QARecord field, QAConfig field, "min" or "max", message). The message formats
# `v` (measured) and `t` (threshold); percentages for fractions.
BOUNDS: tuple[tuple[str, str, str, str, str], ...] = (
    ("hands_in_front", "hands_in_front", "min_in_front_fraction", "min",
     "hand keypoints are in front of the camera in {v:.0%} of frames (expected at least {t:.0%}): check the camera's"
     " axis convention (OpenCV +z or OpenGL -z forward)"),
    ("hands_in_image", "hands_in_image", "min_in_image_fraction", "min",
     "hand keypoints project inside the image in {v:.0%} of frames (expected at least {t:.0%}): check the intrinsics,"
     " the image size and the camera pose"),
    ("hands_ahead", "hands_ahead", "min_ahead_fraction", "min",
     "the wrists are ahead of the wearer in {v:.0%} of tracked frames (expected at least {t:.0%}): the heading is"
     " turned around (camera axis convention?)"),
    ("hands_below_eyes", "hands_below_eyes", "min_below_eyes_fraction", "min",
     "the wrists are below the eyes in {v:.0%} of tracked frames (expected at least {t:.0%}): check the world's up"
     " axis"),
    ("approach_up", "approach_up", "max_approach_up_fraction", "max",
     "the wrist approach axis (z) points up in {v:.0%} of frames (at most {t:.0%} expected): check the source's"
     " rotation convention"),
    ("bone_length_cv", "bone_length_cv", "max_bone_length_cv", "max",
     "bone lengths vary by {v:.0%} over frames (median std/mean; at most {t:.0%} expected): the keypoints are not a"
     " rigid skeleton"),
    ("gripper_max", "gripper_max", "min_gripper_opening", "min",
     "the gripper never opens past {v:.3g} (0 closed .. 1 open; expected at least {t:g}): is the source's unit a"
     " width in metres?"),
    ("action_pos_err", "action_pos_err", "max_action_pos_err_m", "max",
     "state t + the action's position delta misses state t+1 by {v:.3g} m (p95, worst episode; at most {t:g} m"
     " expected)"),
    ("action_rot_err", "action_rot_err", "max_action_rot_err_deg", "max",
     "state t composed with the action's rotation delta misses state t+1 by {v:.3g} deg (p95, worst episode; at most"
     " {t:g} deg expected)"),
    ("left_of_right", "left_of_right", "min_left_of_right_fraction", "min",
     "the left wrist is left of the right one in {v:.0%} of two-handed frames (expected at least {t:.0%}): hands"
     " swapped or the frame mirrored"),
)  # fmt: skip


def findings(summary: DatasetQA, config: QAConfig) -> list[Finding]:
    """Every invariant the dataset fails, each naming the measured value and the threshold."""
    r, c = summary.record, config
    out: list[Finding] = []

    def fail(code: str, value: float, threshold: float, message: str) -> None:
        out.append(Finding(code=f"qa_{code}", message=message, value=value, threshold=threshold))

    for code, field, limit, kind, message in BOUNDS:
        v, t = getattr(r, field), getattr(c, limit)
        if v is not None and (v < t if kind == "min" else v > t):
            fail(code, v, t, message.format(v=v, t=t))
    for name, limit, ratio, unit in (
        ("speed", r.speed_limit, c.max_speed_ratio, "m/s"),
        ("acc", r.acc_limit, c.max_acc_ratio, "m/s^2"),
    ):
        p99 = getattr(r, f"{name}_p99")
        if p99 is not None and limit and p99 > ratio * limit:
            what = "speed" if name == "speed" else "acceleration"
            fail(
                f"wrist_{what}",
                p99,
                ratio * limit,
                f"p99 wrist {what} {p99:.3g} {unit} exceeds the embodiment's limit {limit:.3g} {unit}"
                + (f" x {ratio:g}" if ratio != 1 else "")
                + ": check the position unit and the clock",
            )
    lo, hi = c.hand_length_m
    if r.hand_length is not None and not lo <= r.hand_length <= hi:
        fail(
            "hand_length",
            r.hand_length,
            lo if r.hand_length < lo else hi,
            f"median wrist -> middle fingertip length {r.hand_length:.3f} m is outside the human range "
            f"[{lo:.2f}, {hi:.2f}] m: check the keypoint unit and skeleton",
        )
    tol = c.gripper_tolerance
    if r.gripper_min is not None and r.gripper_max is not None and (r.gripper_min < -tol or r.gripper_max > 1 + tol):
        bad = r.gripper_min if r.gripper_min < -tol else r.gripper_max
        fail(
            "gripper_range",
            bad,
            -tol if bad < 0 else 1 + tol,
            f"gripper opening spans [{r.gripper_min:.3g}, {r.gripper_max:.3g}], outside 0..1: the source's scale "
            "is not converted",
        )
    return out


def overview(summary: DatasetQA) -> str:
    """One line of the dataset's main invariants, for validate's info line and the report."""
    r = summary.record
    parts = [f"{summary.episodes} episodes, {r.frames} frames"]
    if r.hands_in_front is not None:
        parts.append(
            f"hands in front of the camera {_pct(r.hands_in_front)}, in the image "
            f"{_pct(r.hands_in_image or 0.0)}, ahead of the wearer {_pct(r.hands_ahead or 0.0)}, below the "
            f"eyes {_pct(r.hands_below_eyes or 0.0)}"
        )
    if r.approach_down is not None:
        parts.append(
            f"approach down/side/up {_pct(r.approach_down)}/{_pct(r.approach_side or 0)}/{_pct(r.approach_up or 0)}"
        )
    if r.speed_p99 is not None:
        parts.append(f"wrist speed p50/p99 {r.speed_p50:.2g}/{r.speed_p99:.2g} m/s (limit {r.speed_limit:.2g})")
    if r.hand_length is not None:
        parts.append(f"hand length {r.hand_length:.3f} m")
    if r.gripper_min is not None:
        parts.append(f"gripper {r.gripper_min:.2g}..{r.gripper_max:.2g}")
    if r.action_pos_err is not None:
        parts.append(f"action->next state error {r.action_pos_err:.2g} m / {r.action_rot_err:.2g} deg")
    if r.left_of_right is not None:
        parts.append(f"left hand on the left {_pct(r.left_of_right)}")
    if len(parts) == 1:
        parts.append("no invariant applies (no wrist, hand keypoints or gripper)")
    return "; ".join(parts)


def _corpus_section(path: Path, section: str, model: type[C]) -> C:
    """`canonicalize.<section>` of the resolved spec the ingest job left in its corpus (`<corpus>/job/spec.yaml`,
    found above `path`), else the model's defaults."""
    path = locate(path)  # a Path or a UPath: a dataset in a bucket looks for its corpus's spec in the bucket
    for folder in [path, *path.parents]:
        spec = folder / JOB_DIR / "spec.yaml"
        if spec.is_file():
            try:
                found = ((yaml.safe_load(spec.read_text()) or {}).get("canonicalize") or {}).get(section)
                return model.model_validate(found or {})
            except (yaml.YAMLError, ValidationError, OSError, AttributeError) as err:
                log.warning("%s: canonicalize.%s not read (%s); using the default thresholds", spec, section, err)
                return model()
    return model()


def corpus_qa_config(path: Path) -> QAConfig:
    """The geometry QA thresholds a dataset was ingested with (`canonicalize.qa` of its corpus's spec)."""
    return _corpus_section(path, "qa", QAConfig)
