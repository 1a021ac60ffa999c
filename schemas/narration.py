"""The narration grammar of egocentric text (Ego4D's narration passes): `#C C picks the cup`, `#O man X`, `#unsure`.

`#C` marks the camera wearer and `#O` another person; `#unsure` flags a narrator's doubt. Kept here, beside the other
contracts, because two rooms read it: the Ego4D adapter (dropping unsure narrations) and the caption normalizer.
"""

from __future__ import annotations

import re
from typing import Any

_TAG = re.compile(r"^\s*#([A-Za-z])\b\s*")
_UNSURE = re.compile(r"#unsure\b", re.IGNORECASE)


def parse_narration(text: str) -> dict[str, Any]:
    """`#C C picks the #unsure` -> subject "C", unsure True, clean "C picks the". The raw text is never altered."""
    tag = _TAG.match(text)
    clean = _UNSURE.sub(" ", text[tag.end() :] if tag else text)
    return {
        "subject": tag.group(1).upper() if tag else None,
        "unsure": bool(_UNSURE.search(text)),
        "clean": " ".join(clean.split()),
    }
