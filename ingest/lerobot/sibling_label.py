"""A signature sibling's name in words (`ingest.lerobot.routing`): `<subset>@<label>`, the label saying what its
episodes have that its subset's first dataset has not, so a person reads which part of a split source a dataset is.

Issue 86: the name was `<subset>@<diff>~<hash>` (`robomimic@state.native164~c062ad07`,
`rosbag_interbotix@-state.native_action.native6~09441e94`): a width and 8 hex digits, which say neither what differs
nor which part is which. The label, built from the two feature sets alone (so every episode of one signature gets one
label against one first dataset, whatever the order), is words joined by `+`:
- the natives' own namespace, when every native column of the part starts with one (`wx250.commands...`) that no
  native column of the first dataset starts with: that word alone stands for every native difference
  (`rosbag_interbotix@wx250`: the WidowX 250's commands beside a WidowX 200's joint states);
- else, per native (`state`, `action`, `outcome`) it adds or changes: `<role>-<words>`, the parts of its column
  names (split at `.`, indices and numbers left out) that no column of the first dataset's names, per column the last
  such part, the first two (`robomimic@state-cube_4` for a file with another object, `@state-extra_sensor` for
  `observation.extra_sensor.i` added), else its width when it differs (`state-164d`), else a
  part of the names it lacks (`state-no_cube_3`), else `state-reordered`; `no-<role>` for one it lacks;
- per camera it adds `cam-<name>`, it lacks `no-<name>`, of other sizes `<name>-<W>x<H>`; any other feature added
  `<name>`, lacking `no-<name>`, of another shape `<name>-<shape>`.
A validity mask follows its native and is never named. Two signatures can get one label (two files whose names differ
only in order, say); the one that comes second, in discovery order or on disk, gets `~<8 hex digits of its
signature>` after it, the only place a hash appears (`routing.Declared`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from schemas.canonical import ACTION_NATIVE, OUTCOME_NATIVE, STATE_NATIVE
from schemas.lerobot_features import FeatureSpec

ROLES = {STATE_NATIVE: "state", ACTION_NATIVE: "action", OUTCOME_NATIVE: "outcome"}  # each native, as a label says it
_INDEX = re.compile(r"\[\d+\]")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")
MAX_LABEL = 64


def label(have: Mapping[str, FeatureSpec], want: Mapping[str, FeatureSpec], masks: Iterable[str] = ()) -> str:
    """What `want` has that the first dataset's `have` has not, in words (see the module); `masks`: keys never named
    (each native's validity mask)."""
    skip = set(masks)
    have = {k: f for k, f in have.items() if k not in skip}
    want = {k: f for k, f in want.items() if k not in skip}
    changed = [k for k in sorted(set(have) & set(want)) if _differs(k, have[k], want[k])]
    added, lacking = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    natives = [k for k in added + changed + lacking if k in ROLES]
    ns = _namespace(want, have)
    words = [ns] if ns and natives else [_native_word(k, have, want) for k in natives]
    for k in added + changed + lacking:
        if k not in ROLES:
            words.append(_other_word(k, have.get(k), want.get(k)))
    text = _UNSAFE.sub("_", "+".join(words))[:MAX_LABEL].strip("_+-.")
    return text or "features"


def _differs(key: str, a: FeatureSpec, b: FeatureSpec) -> bool:
    """As `routing.signature` tells features apart: dtype and shape, and a native's column names."""
    if (a.dtype, tuple(a.shape)) != (b.dtype, tuple(b.shape)):
        return True
    return key.endswith(".native") and (a.flat_names() or []) != (b.flat_names() or [])


def _short(key: str) -> str:
    return key.removeprefix("observation.").removeprefix("images.")


def _names(features: Mapping[str, FeatureSpec], keys: Iterable[str]) -> list[str]:
    return [n for k in keys if k in features for n in features[k].flat_names() or []]


def _namespace(want: Mapping[str, FeatureSpec], have: Mapping[str, FeatureSpec]) -> str | None:
    """The first part of every native column name of `want`, when they share one and none of `have`'s starts so."""
    names = _names(want, ROLES)
    firsts = {n.split(".", 1)[0] for n in names}
    if not names or len(firsts) != 1 or not all("." in n for n in names):
        return None
    ns = firsts.pop()
    return None if ns in {n.split(".", 1)[0] for n in _names(have, ROLES)} else ns


def _parts(names: Iterable[str]) -> list[str]:
    """The parts of column names, split at `.`, without indices or numbers, each once in order of appearance."""
    seen: dict[str, None] = {}
    for name in names:
        for part in _INDEX.sub("", name).split("."):
            if part and not part.isdigit():
                seen.setdefault(part, None)
    return list(seen)


def _native_word(key: str, have: Mapping[str, FeatureSpec], want: Mapping[str, FeatureSpec]) -> str:
    role = ROLES[key]
    if key not in want:
        return f"no-{role}"
    theirs = _parts(_names(have, [key] if key in have else ROLES))
    mine = _parts(want[key].flat_names() or [])
    known = set(theirs)
    # per column the last of its parts the first dataset lacks, the most particular (`observation.extra_sensor.0`)
    newest = [new[-1] for n in want[key].flat_names() or [] if (new := [p for p in _parts([n]) if p not in known])]
    if newest:
        return f"{role}-{'-'.join(list(dict.fromkeys(newest))[:2])}"
    width = want[key].shape[0] if want[key].shape else 0
    if key not in have or tuple(have[key].shape) != tuple(want[key].shape):
        return f"{role}-{width}d"
    if gone := [p for p in theirs if p not in mine]:
        return f"{role}-no_{gone[0]}"
    return f"{role}-reordered"


def _other_word(key: str, have: FeatureSpec | None, want: FeatureSpec | None) -> str:
    name = _short(key)
    if want is None:
        return f"no-{name}"
    if have is None:
        return f"cam-{name}" if want.dtype == "video" else name
    if want.dtype == "video" and len(want.shape) >= 2:
        return f"{name}-{want.shape[1]}x{want.shape[0]}"
    return f"{name}-{'x'.join(str(d) for d in want.shape) or want.dtype}"
