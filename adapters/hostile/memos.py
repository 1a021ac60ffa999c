"""What a parse process learnt about a source's files, given back to the process that forked it (review 10 §1.1, "not
paid"; issue 100 item 3). Every parse runs in a process forked for it (`hostile.sandbox`), so a memo filled there
dies with it and each episode of a file learns the same again: `sealed.sealed_h5` walked every object of a 50-demo
robomimic file (1,151 objects) once per episode, 42 ms of CPU each; an episode's parse process took 139 ms, 111 once
given back (`benchmarks/parse_memos.py`). A file's walk grows with its demos, so its episodes together pay the square.

A memo here is an insertion-ordered dict used as a set (`key in memo`, `memo[key] = None`): what the parse process
added after its fork (`marks`, `since`) goes back with its answer, and the parent adds it to its own (`learn`), so
its next fork starts knowing it. What comes back is trusted as the answer is: the same code, the same user (the fork
bounds resources, not privileges). Memos too cheap to carry stay per process: OXE's `load_builder` (0.23 ms a builder)
and the storage room's `_real_dir` (one `realpath`).
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import islice

_memos: dict[str, dict[Hashable, None]] = {}
_caps: dict[str, int] = {}


def memo(name: str, cap: int) -> dict[Hashable, None]:
    """This process's memo `name`, empty at first; past `cap` keys it starts again (its owner empties it the same)."""
    _caps[name] = cap
    return _memos.setdefault(name, {})


def marks() -> dict[str, int]:
    """Each memo's size now: what a parse process knew at its fork."""
    return {name: len(keys) for name, keys in _memos.items()}


def since(marks: dict[str, int]) -> dict[str, list[Hashable]]:
    """What each memo learnt since `marks` (all it holds where it was emptied since, past its cap)."""
    learnt = {}
    for name, keys in _memos.items():
        start = marks.get(name, 0)
        if new := list(islice(keys, start if len(keys) >= start else 0, None)):
            learnt[name] = new
    return learnt


def learn(learnt: dict[str, list[Hashable]]) -> None:
    """What a parse process learnt (`since`), added to this process's memos."""
    for name, new in learnt.items():
        keys = _memos.setdefault(name, {})
        if len(keys) + len(new) > _caps.get(name, len(keys) + len(new)):
            keys.clear()
        keys.update(dict.fromkeys(new))
