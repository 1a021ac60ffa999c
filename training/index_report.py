"""What the index of a manifest split used and left out, and why: counted while it is built, logged, written to the
run folder (`index.json`) and closing `eidata train`'s summary; the episodes per action kind, and those trained on
their native command per width."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class IndexReport:
    episodes: int = 0
    samples: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_examples: dict[str, list[str]] = field(default_factory=dict)
    without_text: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # episodes by action kind (`schemas.actions.ActionKind`)
    native_widths: Counter[int] = field(default_factory=Counter)  # episodes trained on their native command, by width
    demoted: int = 0  # episodes without an action whose manifest tier was above actionless (routed as actionless)
    inexact_future: int = 0  # anchors without a latent frame exactly at the chunk's end (`exact_future`)
    cameras: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str, uid: str) -> None:
        self.skipped[reason] += 1
        if len(examples := self.skipped_examples.setdefault(reason, [])) < 3:
            examples.append(uid)

    @property
    def native_trained(self) -> int:
        return sum(self.native_widths.values())

    def widths(self) -> str:
        """The native commands trained on, per width: `34 dims: 2 episodes, 7 dims: 81 episodes`."""
        return ", ".join(f"{w} dims: {n} episodes" for w, n in sorted(self.native_widths.items(), reverse=True))

    @property
    def left_out(self) -> int:
        return sum(self.skipped.values())

    def to_json(self) -> dict[str, Any]:
        """The run folder's record of what the split used and what it left out, and why (`index.json`)."""
        return {
            "episodes": self.episodes,
            "samples": self.samples,
            "left_out": self.left_out,
            "left_out_by_reason": {
                r: {"episodes": n, "e.g.": self.skipped_examples[r]} for r, n in self.skipped.items()
            },
            "without_text": self.without_text,
            "action_kinds": dict(self.kinds),
            "native_widths": {str(w): n for w, n in sorted(self.native_widths.items())},
            "demoted_to_actionless": self.demoted,
            "inexact_future": self.inexact_future,
            "cameras": dict(self.cameras),
        }

    def summary(self) -> str:
        parts = [f"{self.episodes} episodes, {self.samples} samples", f"cameras {dict(self.cameras)}"]
        if self.without_text:
            parts.append(f"{self.without_text} without a text file (null text)")
        if self.inexact_future:
            parts.append(f"{self.inexact_future} anchors without a latent frame at the chunk's end (no future latent)")
        if self.kinds:
            parts.append("action kinds " + ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items())))
        if self.native_widths:
            parts.append(f"{self.native_trained} trained on native actions ({self.widths()})")
        if self.demoted:
            parts.append(f"{self.demoted} without an action but tiered above actionless (routed as actionless)")
        for reason, n in sorted(self.skipped.items()):
            parts.append(f"skipped {n}: {reason} (e.g. {', '.join(self.skipped_examples[reason])})")
        return "; ".join(parts)
