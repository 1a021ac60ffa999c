"""Which dataset an episode is written to: its subset's, or a sibling of its own signature, and why.

A LeRobot dataset has one feature set, fixed by its first committed episode (the writer refuses any other). An
episode whose features differ from its dataset's is written, never quarantined, to a sibling dataset of its own
signature; the catalog lists each as a dataset of the source (it lists every dataset folder), and the episode's
lineage and the job's summary say why:
- only its cameras' sizes differ (egocentric clips at 480x360 and at 640x360): `<subset>@<W>x<H>` (its cameras' sizes
  in key order, joined by `+`), lineage `camera_size_split`. Camera rates need nothing: every camera is written at the
  canonical fps. One dataset of one size instead is `canonicalize.image.size` (e.g. `640x360`, fit `pad`: aspect
  kept), decided before any commit;
- anything else (natives present or absent, another native width or other native names, other cameras): a dataset
  `<subset>@<label>`, the label saying in words what its episodes have that the first dataset has not
  (`label`: `rosbag_interbotix@wx250`, `robomimic@state-cube_4`), lineage `signature_split`.
  Every episode of one signature lands in one dataset: a sibling on disk of its signature is its dataset whatever its
  name (so an output written when the name was `<subset>@<diff>~<hash>` goes on in those folders), and a label
  already taken by another signature gets `~<8 hex digits of the signature>` after it, the one case a hash is shown
  (`Declared`). N recordings of K signatures are N episodes in K datasets.
Why not one dataset with the union of the features and a mask per native: LeRobot's consumers (lerobot-train's
normalisation, its dataset loader, policies' input features) take every feature of every frame as real, and a
stand-in value for a stream a recording never had (0, or NaN, which the writer refuses) would be learned as data
unless every consumer applied a mask it does not know of. Measured on the real folder of two Interbotix arms
(the real sample rosbag_interbotix, 4 recordings: a WidowX 200's 29 state + 1 command columns three times, a WidowX
250's 6 command columns): a union has 36 native columns, 6 of them stand-ins in every wx200 frame and 30 in every
wx250 frame, 9,330 of its 21,564 native cells (43 %) values no recorder sent; two datasets (30 and 6 columns) have
none. A stream missing only in part of a recording is another matter: the recording has it, so it keeps its columns
and its values over its window, and each native column has a validity mask beside it (`observation.state.
native_valid`, `action.native_valid`: float32 0/1 of the native's width and names, in info.json and the stats), 0
where its stream has no sample (the column there holds the nearest sample, as the writer refuses NaN); the lineage
names each such window (`ingest.canonical.span`, `native_windows`). The mask is written for every dataset with natives
(all 1 where every stream covers the episode), so it never splits a dataset by itself, and a mask follows its native
in a signature's name. Measured on the real ATS db3 (the real sample rosbag_ats/rosbags, three JointStates starting 0.4,
1.8 and 3.3 s in): the 12.4 s any of them covers (10.9 s written, the idle end the QA cuts said) instead of the 9.6 s
all three covered, the two later ones 0 in their first 13 and 28 frames; on a Franka recording with a controller
switch (larics/for_franka_ros @ c63d5d4, a ROS 1 bag with no licence, kept beside the repository): one episode over
the whole of /joint_states instead of a quarantine, each controller's JointState 1 over its own window (30 s, then
22 s) and 0 elsewhere.

Who asks, and when: `route` is asked once per episode, by the job's driver as it hands the episode to its committer,
in discovery order, against the features its subset's dataset `home` (`schemas.corpus.dataset_dir(source, subset)`) is
declared to have (`Declared`: its info.json's, else its first routed episode's). The worker stages every episode of a
subset in `home`'s staging area, and the writer of the dataset it is routed to commits it from there as it is: no
staged folder is moved (a sibling's commit journal names it `../<home>/.eidata/staging/<id>`; `home`'s recovery keeps
a folder such a journal names, `ingest.lerobot.recovery`). The worker cannot decide without changing which dataset an
episode lands in: a dataset's features are its first episode's in discovery order, and the workers run in parallel
and finish out of order, so while a worker stages an episode the one that fixes its dataset may not be read yet; the
driver takes results in discovery order and so declares each dataset's features before routing any later episode.

A signature sibling's name in words (`label`): `<subset>@<label>`, the label saying what its
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
signature>` after it, the only place a hash appears (`Declared`).
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from adapters.lerobot_format.files import load_info
from schemas.canonical import ACTION_NATIVE, NATIVE_VALID, OUTCOME_NATIVE, STATE_NATIVE
from schemas.lerobot import INFO_PATH
from schemas.lerobot_features import DEFAULT_FEATURE_DTYPES, FeatureSpec

Split = Literal["camera_size_split", "signature_split"]  # the lineage key (`schemas.corpus.EpisodeLineage`) naming why


@dataclass(frozen=True)
class Route:
    """The dataset an episode is written to; for a sibling of its subset's, the lineage key and the reason."""

    dataset: str
    split: Split | None = None  # None: its subset's own dataset
    why: str = ""


def route(home: str, features: Mapping[str, FeatureSpec], have: Mapping[str, FeatureSpec] | None = None) -> Route:
    """Where an episode of `features` is written when its subset's dataset `home` (`schemas.corpus.dataset_dir`) has
    the features `have` (None: not known, or no dataset yet): `home` when it has none or the same signature, else its
    size sibling, else its signature sibling (see the module)."""
    if have is None or signature(have) == signature(features):
        return Route(home)
    target = size_sibling(home, have, features)
    if target is not None:
        why = (
            f"cameras {_sizes(features)} where {home} has {_sizes(have)} (its first episode's): "
            f"written to {target}, one dataset per camera size"
        )
        return Route(target, "camera_size_split", why)
    return signature_route(home, have, features, signature_sibling(home, have, features))


def signature_route(
    home: str, have: Mapping[str, FeatureSpec], features: Mapping[str, FeatureSpec], target: str, note: str = ""
) -> Route:
    """The route of an episode of `features` to the signature sibling `target` of `home` (which has `have`)."""
    why = (
        f"features differ from {home}'s (its first episode's): {feature_diff(have, features)}; written to "
        f"{target}, one dataset per signature{note}"
    )
    return Route(target, "signature_split", why)


@dataclass
class Declared:
    """The features each subset's dataset under `output` is declared to have: its info.json's when it exists, else
    those of the first episode routed to it (its writer creates it with them). Kept by whoever asks `route` for a
    job's episodes, in discovery order (see the module)."""

    output: Path
    features: dict[str, dict[str, FeatureSpec]] = field(default_factory=dict)
    siblings: dict[str, dict[str, str]] = field(default_factory=dict)  # home -> {its sibling: `digest` of its features}

    def route(self, home: str, features: Mapping[str, FeatureSpec]) -> Route:
        """`route(home, features, ...)` against what `home` is declared to have, declaring it when nothing is; a
        signature sibling named by the sibling of that signature already there, else by its label, `~<digest>` added
        when the label names another signature's (see the module)."""
        if home not in self.features:
            info = Path(self.output) / home / INFO_PATH
            self.features[home] = _user_features(info) if info.is_file() else _user_features(None, features)
        have = self.features[home]
        to = route(home, features, have)
        if to.split != "signature_split":
            return to
        known, mine = self._siblings(home), digest(features)
        same = sorted(name for name, d in known.items() if d == mine)
        target = same[0] if same else to.dataset if to.dataset not in known else f"{to.dataset}~{mine}"
        known[target] = mine
        if target == to.dataset:
            return to
        note = "" if same else f" ({to.dataset} holds another signature: the hash of this one added)"
        return signature_route(home, have, features, target, note)

    def _siblings(self, home: str) -> dict[str, str]:
        """`home`'s siblings on disk (`<home>@*` with an info.json), each with the digest of its features."""
        if home not in self.siblings:
            base = Path(self.output) / home
            pattern = f"{glob.escape(base.name)}@*/{INFO_PATH}"
            self.siblings[home] = {
                home + info.parent.parent.name[len(base.name) :]: digest(_user_features(info))
                for info in sorted(base.parent.glob(pattern))
            }
        return self.siblings[home]


def _user_features(info: Path | None, features: Mapping[str, FeatureSpec] | None = None) -> dict[str, FeatureSpec]:
    """A dataset's features but the defaults every dataset has: its info.json's (`info`), else `features`."""
    have = load_info(info).features if info is not None else features or {}
    return {k: f for k, f in have.items() if k not in DEFAULT_FEATURE_DTYPES}


def digest(features: Mapping[str, FeatureSpec]) -> str:
    """8 hex digits of a feature set's whole signature (the hash in a signature sibling's name when its label is
    taken; the names written before issue 86 carry it too)."""
    return hashlib.sha256(json.dumps(signature(features), sort_keys=True).encode()).hexdigest()[:8]


def signature(features: Mapping[str, FeatureSpec]) -> dict[str, tuple[str, tuple[int | None, ...], str]]:
    """What a dataset's feature set is, per key: dtype, shape and, for a native vector, its column names (two
    recordings' natives of one width from other topics are other data)."""
    return {
        k: (f.dtype, tuple(f.shape), json.dumps(f.names) if k.endswith(".native") else "")
        for k, f in sorted(features.items())
    }


def _sizes(features: Mapping[str, FeatureSpec]) -> str:
    """The cameras' sizes, `WxH` each in key order, joined by `+`."""
    return "+".join(f"{f.shape[1]}x{f.shape[0]}" for _, f in sorted(features.items()) if f.dtype == "video")


def size_sibling(dataset: str, have: Mapping[str, FeatureSpec], want: Mapping[str, FeatureSpec]) -> str | None:
    """The dataset an episode of features `want` goes to when `dataset` has `have` (the size policy, see the
    module): `<dataset>@<W>x<H>` when they differ only in the sizes of their cameras, else None (the same features,
    or other differences: `signature_sibling`)."""
    if set(have) != set(want) or any(have[k].dtype != want[k].dtype for k in have):
        return None
    changed = [k for k in have if signature({k: have[k]}) != signature({k: want[k]})]
    if not changed or any(have[k].dtype != "video" for k in changed):
        return None
    return f"{dataset}@{_sizes(want)}"


MASKS = frozenset(NATIVE_VALID.values())  # each native's validity mask, of its native's width and names


def feature_diff(have: Mapping[str, FeatureSpec], want: Mapping[str, FeatureSpec]) -> str:
    """What `want` has that `have` does not, in words: features added, lacking, of another shape or other names."""
    a, b = signature(have), signature(want)
    parts = [f"adds {k} {list(want[k].shape)}" for k in sorted(set(b) - set(a))]
    parts += [f"lacks {k}" for k in sorted(set(a) - set(b))]
    for k in sorted(set(a) & set(b)):
        if a[k][:2] != b[k][:2]:
            was = f"{have[k].dtype} {list(have[k].shape)}"
            parts.append(f"{k} {want[k].dtype} {list(want[k].shape)} where it has {was}")
        elif a[k] != b[k]:
            gone = [n for n in _flat_names(have[k]) if n not in _flat_names(want[k])]
            parts.append(f"{k} names other columns ({len(gone)} of its {have[k].shape[0]} not among them: {gone[:3]})")
    return "; ".join(parts)


def _flat_names(f: FeatureSpec) -> list[str]:
    names = f.names
    if isinstance(names, dict):
        names = next(iter(names.values()), [])
    return [str(n) for n in names or []]


def signature_sibling(dataset: str, have: Mapping[str, FeatureSpec], want: Mapping[str, FeatureSpec]) -> str:
    """`<dataset>@<label>` for an episode of features `want` when `dataset` has `have`: the label says what `want`
    has that `have` has not (`label`; a mask follows its native and is not named). Unique per
    signature only once `Declared` has seen the siblings (see the module)."""
    return f"{dataset}@{label(have, want, MASKS)}"


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
