"""Behaviour findings of one episode and the tier they route it to: which measured value demotes to `low`, which
quarantines (`rejected`), each a `schemas.qa.Finding` with the value and the threshold in a stable message a catalog
query can group by.

`findings` compares a `BehaviourRecord` with a `BehaviourConfig`; `episode_findings` keeps those ingest routes an
episode by, with the thresholds as ingest applies them (`ingest_config`); `route` lowers a tier by them (never raises
one) into a `Verdict` whose reasons have the form `ingest.qa.quality.assess_quality` gives its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.behaviour import BehaviourConfig
from schemas.behaviour_record import BehaviourRecord, Explained
from schemas.canonical import STATE_NAMES
from schemas.qa import Finding, Verdict
from schemas.tiers import QualityTier, reasons_of, tier_of

DATASET_CODES = frozenset({"qa_dead_dims"})  # judged by `eidata verdicts` over the dataset, not per episode
NAMED = 4  # columns a finding names; the rest counted


def dim_labels(dims: Sequence[int], names: Sequence[str]) -> str:
    """Columns by name with their index ('observation/state:gripper.gripper_open [7]'), the first `NAMED`; by index
    alone where the dataset gives no names."""
    shown = [f"{names[d]} [{d}]" if d < len(names) else f"[{d}]" for d in dims[:NAMED]]
    return ", ".join(shown) + (f" and {len(dims) - NAMED} more" if len(dims) > NAMED else "")


@dataclass(frozen=True)
class _Labels:
    """The columns a record's findings name, by name (`n` in the messages): canonical dims by `STATE_NAMES`, native
    columns by the names the record keeps beside their indices (by index alone in a record made before it kept them)."""

    r: BehaviourRecord

    @property
    def dead(self) -> str:
        return dim_labels(self.r.dead_dims or [], STATE_NAMES)

    @property
    def saturated(self) -> str:
        return dim_labels(self.r.saturated_dims or [], STATE_NAMES)

    @property
    def native_saturated(self) -> str:
        return dim_labels(self.r.native_saturated_dims or [], self._native(self.r.native_saturated_dims or []))

    def _native(self, dims: list[int]) -> list[str]:
        """Names indexed like the dataset's columns (only `dims`' are known): '' elsewhere."""
        names = self.r.native_saturated_signals or []
        if len(names) != len(dims):
            return []
        out = [""] * (max(dims) + 1 if dims else 0)
        for d, name in zip(dims, names, strict=True):
            out[d] = name
        return out


def _over(
    code: str, value: float | None, threshold: float, tier: QualityTier, text: str, below: bool = False, **more: object
) -> list[Finding]:
    if value is None or not (value < threshold if below else value > threshold):
        return []
    text = text.format(v=value, t=threshold, **more)
    return [Finding(code=code, tier=tier, value=float(value), threshold=float(threshold), message=text)]


# The bounds a record is held to, in the order its findings are listed (quarantining first): (code, the record's
# value, the config's threshold, the tier it routes to, the message, formatting `v` and `t`, the record `r` and the
# config `c`); the names `findings` derives (`degenerate`, `dead_dim_count`, `nonfinite_limit`, `zero`) first.
BOUNDS = (
    ("qa_nonfinite", "nonfinite", "nonfinite_limit", "rejected",
     "{v:.0f} NaN/Inf values in the natives (quarantine at {c.nonfinite_quarantine}+)"),
    ("qa_cam_frozen_fraction", "cam_frozen_fraction", "frozen_camera_fraction_quarantine", "rejected",
     "camera frozen over {v:.0%} of the moving frames > {t:.0%}"),
    ("qa_cam_degenerate", "degenerate", "degenerate_fraction_quarantine", "rejected",
     "near-black, near-white or flat frames {v:.0%} > {t:.0%}"),
    ("qa_jump_range_fraction", "jump_range_fraction", "jump_range_fraction_quarantine", "rejected",
     "a one-frame step of {v:.0%} of a joint's range > {t:.0%} (encoder wrap-around or teleport)"),
    ("qa_cam_frozen_s", "cam_frozen_s", "frozen_camera_s_low", "low",
     "camera frozen {v:.2f} s while the robot moves > {t:.2f} s"),
    ("qa_cam_degenerate", "degenerate", "degenerate_fraction_low", "low",
     "near-black, near-white or flat frames {v:.0%} > {t:.0%}"),
    ("qa_state_frozen_s", "state_frozen_s", "frozen_state_s_low", "low",
     "state frozen {v:.2f} s mid-episode > {t:.2f} s"),
    ("qa_dead_dims", "dead_dim_count", "zero", "low",
     "dead dims {n.dead}: in use by the dataset, motionless here while others move"),
    ("qa_saturated_fraction", "saturated_fraction", "saturated_fraction_low", "low",
     "a joint at its limit in {v:.0%} of frames > {t:.0%} ({n.saturated})"),
    ("qa_native_saturated_fraction", "native_saturated_fraction", "native_saturated_fraction_low", "low",
     "a native arm joint at its description's limit in {v:.0%} of frames > {t:.0%} ({n.native_saturated})"),
    ("qa_jump_sigma", "jump_sigma", "jump_sigma_low", "low",
     "a one-frame jump of {v:.0f} sigmas > {t:.0f} at frame {r.jump_frame}"),
    ("qa_jump_rad_s", "jump_rad_s", "max_joint_speed_rad_s", "low", "a joint stepped at {v:.1f} rad/s > {t:.1f} rad/s"),
    ("qa_jump_m_s", "jump_m_s", "max_step_speed_m_s", "low", "a point stepped at {v:.2f} m/s > {t:.2f} m/s"),
)  # fmt: skip
IDLE_BOUNDS = (  # only where idle ends are not trimmed (`idle_trim` off)
    ("qa_idle_start_s", "idle_start_s", "idle_s_low", "low", "idle start {v:.1f} s > {t:.1f} s"),
    ("qa_idle_end_s", "idle_end_s", "idle_s_low", "low", "idle end {v:.1f} s > {t:.1f} s"),
)
LAST_BOUNDS = (  # after the glitch and plateau findings
    (
        "qa_clamp_fraction",
        "clamp_fraction",
        "clamp_fraction_low",
        "low",
        "{r.clamp_signal} and its command both held at {r.clamp_value:.4g}, inside its limits and the extreme of both"
        " (a software limit narrower than the robot's), on {v:.0%} of the moving frames > {t:.0%}",
    ),
    (
        "qa_stream_frozen_s",
        "stream_frozen_s",
        "frozen_stream_s_low",
        "low",
        "stream {r.stream_frozen_signal} frozen"
        " {v:.2f} s mid-episode while its command moved (from frame {r.stream_frozen_frame}) > {t:.2f} s",
    ),
)


def findings(r: BehaviourRecord, c: BehaviourConfig) -> list[Finding]:
    """Every threshold the record crosses; quarantining findings first."""
    low = QualityTier.low
    degenerate = max(r.cam_dark_fraction or 0.0, r.cam_bright_fraction or 0.0, r.cam_flat_fraction or 0.0)
    derived: dict[str, float | None] = {
        "degenerate": degenerate if r.cam_dark_fraction is not None else None,
        "dead_dim_count": len(r.dead_dims) if r.dead_dims is not None else None,
        "nonfinite_limit": c.nonfinite_quarantine - 0.5,
        "zero": 0,
    }

    def rows(table: tuple[tuple[str, str, str, str, str], ...]) -> list[Finding]:
        out = []
        for code, value, threshold, tier, text in table:
            v = derived[value] if value in derived else getattr(r, value)
            t = derived[threshold] if threshold in derived else getattr(c, threshold)
            out += _over(code, v, t, QualityTier(tier), text, r=r, c=c, n=_Labels(r))  # type: ignore[arg-type]
        return out

    text = "state follows the action with correlation {v:.2f} < {t:.2f}"
    out = rows(BOUNDS) + _over("qa_tracking_corr", r.tracking_corr, c.tracking_corr_low, low, text, below=True)
    out += [] if c.idle_trim else rows(IDLE_BOUNDS)
    return out + _glitch(r, c) + _plateau(r, c) + rows(LAST_BOUNDS) + explained_notes(r)


# What each explanation says (`ingest.qa.explain`), after the check's name and the signal.
WHY_TEXT = {
    "range_end": "held at an end of its range, its command at or past that end",
    "unused": "its command did not move either: not used here",
    "contact": "its command pushed into the held value and never back across it, and the hold ended towards where"
    " it came from (contact)",
    "deadband": "its command stayed within the encoder's resolution of the held value (a servo's deadband)",
}


def explained_notes(r: BehaviourRecord) -> list[Finding]:
    """The holds the robot's own signals explain (`schemas.behaviour.Explained`), as notes that lower nothing: code
    `qa_explained_<why>`, tier high, value what the check measured (threshold 0: no bound applies)."""
    return [
        Finding(
            code=f"qa_explained_{e.why}",
            tier=QualityTier.high,
            value=e.value,
            threshold=0.0,
            message=f"{e.check} not lowered: {e.signal} {WHY_TEXT[e.why]} ({e.value:.3g})",
        )
        for e in Explained.of(r)
    ]


def _glitch(r: BehaviourRecord, c: BehaviourConfig) -> list[Finding]:
    """A glitch crosses both bounds: its unit's (rad, m, or a share of its trend's range) and the sigmas'."""
    if r.glitch_value is None or r.glitch_sigma is None or not r.glitch_sigma > c.glitch_sigma_low:
        return []
    unit = {"rad": " rad", "m": " m"}.get(r.glitch_unit or "span", "x its trend's range")
    return _over(
        "qa_glitch_value",
        r.glitch_value,
        c.glitch_bound(r.glitch_unit),
        QualityTier.low,
        f"{r.glitch_signal} left its trend by {{v:.2f}}{unit} for {r.glitch_s:.1f} s at frame {r.glitch_frame} and"
        f" came back: > {{t:.2f}}{unit} and {r.glitch_sigma:.0f} sigmas of its steps > {c.glitch_sigma_low:.0f}",
    )


def _plateau(r: BehaviourRecord, c: BehaviourConfig) -> list[Finding]:
    if r.plateau_value is None:
        return []
    return _over(
        "qa_plateau_fraction",
        r.plateau_fraction,
        c.plateau_fraction_low,
        QualityTier.low,
        f"{r.plateau_signal} held {r.plateau_value:.4g} exactly, inside its limits, while its command moved, on"
        " {v:.0%} of the moving frames > {t:.0%}" + f" (first at frame {r.plateau_frame})",
    )


def ingest_config(config: BehaviourConfig) -> BehaviourConfig:
    """The thresholds as ingest applies them to its record: the canonical wrists' jump bound and the native median
    tracking bound (`canonical_jump_sigma_low`, `native_tracking_corr_low`)."""
    return config.model_copy(
        update={"jump_sigma_low": config.canonical_jump_sigma_low, "tracking_corr_low": config.native_tracking_corr_low}
    )


def episode_findings(rec: BehaviourRecord, config: BehaviourConfig) -> list[Finding]:
    """The findings ingest routes one episode by (the dataset-judged dead dims left to `eidata verdicts`)."""
    return [f for f in findings(rec, ingest_config(config)) if f.code not in DATASET_CODES]


def route(tier: QualityTier, found: list[Finding]) -> Verdict:
    """The tier lowered by every finding, and one reason per finding that lowers (a note of tier high, an explained
    hold, is kept in the findings, not in the reasons)."""
    verdicts = [f.verdict() for f in found if f.tier != QualityTier.high]
    out = tier_of(tier, [f.tier for f in found])  # a note of tier high lowers nothing either way
    return Verdict(tier=out, reasons=reasons_of(verdicts), findings=found, verdicts=verdicts)
