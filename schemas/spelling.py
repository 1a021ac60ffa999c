"""The one "did you mean" of the house (issue 86, item 4): a name the user typed, checked against the names that exist
where it is used (spec keys, adapter names, camera names, OXE builders, catalog columns, command-line options), and
the closest one offered, so a typo fails before any work instead of reaching the data."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's own default: 'bridge_datset' -> 'bridge_dataset' (0.96), 'cam_hihg' -> 'cam_high' (0.88), 'sourc' ->
# 'source' (0.91); unrelated names ('mylab_kitchen' beside the OXE table) stay below it
CUTOFF = 0.6


def closest(word: str, names: Iterable[str]) -> str | None:
    """The name of `names` closest to `word` (difflib's ratio, at least `CUTOFF`), or None."""
    found = difflib.get_close_matches(word, sorted(set(names)), n=1, cutoff=CUTOFF)
    return found[0] if found else None


def did_you_mean(word: str, names: Iterable[str], listing: str = "known", limit: int = 30) -> str:
    """`did you mean 'x'?` for the closest of `names`, else `<listing>: a, b, c` (the first `limit`, in the order
    given; "" when there are none): the tail of a message that names what was not found."""
    names = list(dict.fromkeys(names))  # in the caller's order (a model's fields as declared)
    near = closest(word, names)
    if near is not None:
        return f"did you mean {near!r}?"
    if not names:
        return ""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{listing}: {', '.join(names[:limit])}{more}"


def unknown(what: str, word: str, names: Iterable[str], listing: str = "known") -> str:
    """`unknown <what> 'word'; did you mean 'x'?` (or the names known)."""
    tail = did_you_mean(word, names, listing)
    return f"unknown {what} {word!r}" + (f"; {tail}" if tail else "")
