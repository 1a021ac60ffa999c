"""Behaviour findings of one episode and the tier they route it to: which measured value demotes to `low`, which
quarantines (`rejected`), each a `schemas.qa.Finding` with the value and the threshold in a stable message a catalog
query can group by (the bounds and messages: behaviour_bounds.toml).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

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


# The bounds a record is held to, in the order its findings are listed (each: code, the record's value, the config's
# threshold, the tier, the message, the setting behind the threshold): ingest/qa/behaviour_bounds.toml
_TABLES = tomllib.loads(resources.files("ingest.qa").joinpath("behaviour_bounds.toml").read_text(encoding="utf-8"))
BOUNDS, IDLE_BOUNDS, LAST_BOUNDS = (
    tuple(
        (b["code"], b["value"], b["threshold"], b["tier"], b["message"], b.get("setting", b["threshold"]))
        for b in _TABLES[k]
    )
    for k in ("first", "idle", "last")
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
        # idle longer than a moving episode's cut ends keep together (`idle_keep_s` each): a 0.5 s span of a hand
        # moving under 1 % of its range (the real Aria wrist rows of the first MPS version) is too short to be idle
        "idle_held": r.idle_fraction if (r.idle_start_s or 0.0) + (r.idle_end_s or 0.0) > 2 * c.idle_keep_s else None,
    }

    def rows(table: tuple[tuple[str, str, str, str, str, str], ...]) -> list[Finding]:
        out = []
        for code, value, threshold, tier, text, setting in table:
            v = derived[value] if value in derived else getattr(r, value)
            t = derived[threshold] if threshold in derived else getattr(c, threshold)
            key = c.key(setting) if setting in type(c).model_fields else ""
            out += _over(code, v, t, QualityTier(tier), text, r=r, c=c, n=_Labels(r), key=key)  # type: ignore[arg-type]
        return out

    text = "state follows the action with correlation {v:.2f} < {t:.2f}"
    out = rows(BOUNDS) + _over("qa_tracking_corr", r.tracking_corr, c.tracking_corr_low, low, text, below=True)
    out += [] if c.idle_trim else rows(IDLE_BOUNDS)
    return out + _glitch(r, c) + _plateau(r, c) + rows(LAST_BOUNDS) + explained_notes(r)


WHY_TEXT: dict[str, str] = _TABLES["why"]  # what each explanation (`ingest.qa.explain`) says, after check and signal


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
    """The tier lowered by every finding (never raised), and one reason per finding that lowers, of the form
    `ingest.qa.quality.assess_quality` gives its own (a note of tier high, an explained hold, is kept in the findings,
    not in the reasons)."""
    verdicts = [f.verdict() for f in found if f.tier != QualityTier.high]
    out = tier_of(tier, [f.tier for f in found])  # a note of tier high lowers nothing either way
    return Verdict(tier=out, reasons=reasons_of(verdicts), findings=found, verdicts=verdicts)
