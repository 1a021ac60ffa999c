"""How a builder's `features.json` differs from its subset row, and what that costs the hand.

A row (`adapters/oxe/subsets.yaml`) states the fields of its subset's layout (the TFDS catalog's feature structure or
the maker's builder). A shard downloaded under the row's name may differ: a field missing, an extra one, a state
narrower or wider than the row says. Every field is still read (an extra one natively, a reshaped one whole, without
the row's slices), but nothing is lost silently:

- `LayoutDiff.message` names each missing, extra and reshaped field: one source finding per builder
  (`layout_differs`, `adapters.oxe.adapter`) and the episode's `metadata["layout_diff"]`;
- `LayoutDiff.hand_loss` names the fields the row reads its wrist or gripper from (its wrist parts, its rotation, its
  gripper columns, its `joint_fk` columns) that the shard lacks or reshapes: the episode gets a verdict of tier low
  (`LAYOUT_HAND_LOST`) saying so, so no episode is tier high without the wrist its row promises.

A row that configures no stream (a natives row) states no layout: nothing is compared."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.oxe.builder import RLDS_FLAGS, STEP_SIGNALS, STEPS, Builder
from adapters.oxe.subsets import WRIST_PARTS, OXESubset, StreamSpec
from schemas.tiers import QualityTier, TierVerdict

LAYOUT_DIFFERS = "layout_differs"  # the source finding's code
LAYOUT_HAND_LOST = "source_layout_hand_lost"  # the verdict's code
# the state slices and columns `adapters.oxe.hands` reads the hand from (wrist position, rotation, gripper)
HAND_PARTS = frozenset(
    {*WRIST_PARTS, "eef_quat", "eef_axis_angle", "eef_euler_zxy", "eef_rpy", "eef_euler", "tcp_euler"}
)
GRIPPER_NAMES = frozenset(
    {"gripper_width", "gripper_opening_width", "gripper_open", "gripper_closed", "gripper_position"}
)


@dataclass(frozen=True)
class LayoutDiff:
    """The fields a builder lacks, adds or reshapes against its row (flattened keys as features.json names them)."""

    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    reshaped: tuple[tuple[str, tuple[int | None, ...], tuple[int, ...]], ...] = ()  # key, shard's shape, row's
    hand_loss: tuple[str, ...] = ()  # hand fields among missing or reshaped

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.reshaped)

    @property
    def message(self) -> str:
        said = []
        if self.missing:
            said.append(f"missing {', '.join(self.missing)}")
        if self.extra:
            said.append(f"extra {', '.join(self.extra)} (read natively)")
        if self.reshaped:
            shapes = ", ".join(f"{k} {list(got)} (row {list(want)})" for k, got, want in self.reshaped)
            said.append(f"reshaped {shapes} (read whole, without the row's slices)")
        return "; ".join(said)

    def verdicts(self, subset: str) -> tuple[TierVerdict, ...]:
        """Tier low where the row's wrist or gripper fields are missing or reshaped; nothing otherwise."""
        if not self.hand_loss:
            return ()
        why = (
            f"the wrist or gripper of subset {subset} cannot be read as its row says: "
            f"{', '.join(self.hand_loss)} missing or reshaped in this builder"
        )
        return (TierVerdict(tier=QualityTier.low, reason=why, code=LAYOUT_HAND_LOST),)

    def as_metadata(self) -> dict[str, object]:
        return {
            "missing": list(self.missing),
            "extra": list(self.extra),
            "reshaped": {k: {"shard": list(got), "row": list(want)} for k, got, want in self.reshaped},
            "hand_loss": list(self.hand_loss),
        }


def _hand_keys(cfg: OXESubset) -> set[str]:
    """The step keys the row reads its hand from."""
    keys = {
        s.key
        for s in cfg.states
        if any(p.name in HAND_PARTS or set(p.names or ()) & GRIPPER_NAMES for p in s.parts)
        or set(s.names or ()) & GRIPPER_NAMES
        or s.key.rsplit("/", 1)[-1] in GRIPPER_NAMES
    }
    if cfg.joint_fk is not None:
        keys |= {c.partition(":")[0] for c in (*cfg.joint_fk.joints, *cfg.joint_fk.gripper)}
    return keys


def _specs(cfg: OXESubset) -> dict[str, StreamSpec]:
    return {s.key: s for s in (*cfg.states, *cfg.actions)}


def layout_diff(cfg: OXESubset, builder: Builder) -> LayoutDiff:
    """What `builder`'s features.json lacks, adds and reshapes against `cfg` (empty for a row stating no layout)."""
    specs = _specs(cfg)
    if not specs and not cfg.cameras:
        return LayoutDiff()
    stated = {*specs, *(c.key for c in cfg.cameras), *(t.key for t in cfg.language), *(s.key for s in cfg.skipped)}
    stated_meta = {m.key for m in cfg.episode_metadata}
    if cfg.success_key is not None:
        stated_meta.add(cfg.success_key)
    have = {f.rel for f in builder.features.values() if f.in_steps}
    have_meta = {f.key for f in builder.features.values() if not f.in_steps}
    missing = sorted(STEPS + k for k in stated - have) + sorted(stated_meta - have_meta)
    ignored = {*RLDS_FLAGS, *STEP_SIGNALS}
    extra = sorted(STEPS + k for k in have - stated - ignored)
    extra += sorted(have_meta - stated_meta) if stated_meta else []  # a row listing no metadata states none
    reshaped = []
    for f in builder.features.values():
        spec = specs.get(f.rel) if f.in_steps else None
        if spec is not None and f.kind == "tensor" and tuple(f.shape) != tuple(spec.shape):
            reshaped.append((STEPS + f.rel, tuple(f.shape), tuple(spec.shape)))
    hand = _hand_keys(cfg)
    lost = sorted(STEPS + k for k in hand if k not in have or any(r[0] == STEPS + k for r in reshaped))
    return LayoutDiff(tuple(missing), tuple(extra), tuple(sorted(reshaped)), tuple(lost))
