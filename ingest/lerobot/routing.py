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
  (`ingest.lerobot.sibling_label`: `rosbag_interbotix@wx250`, `robomimic@state-cube_4`), lineage `signature_split`.
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
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from adapters.lerobot_format.files import load_info
from ingest.lerobot.sibling_label import label
from schemas.canonical import NATIVE_VALID
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
    has that `have` has not (`ingest.lerobot.sibling_label`; a mask follows its native and is not named). Unique per
    signature only once `Declared` has seen the siblings (see the module)."""
    return f"{dataset}@{label(have, want, MASKS)}"
