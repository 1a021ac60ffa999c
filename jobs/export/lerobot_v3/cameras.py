"""The cameras of a manifest export across sources: `--cameras` resolved (keys, short names, the slots `primary` and
`wrist`, `none`), the default choice, and which camera of each dataset fills a slot (`plan.py` uses them)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from schemas.canonical import IMAGE_PREFIX, MAIN_CAMERA_ORDER, Camera
from schemas.export_layout import camera_source_column, intrinsics_column
from schemas.lerobot_features import video_keys


class PlanError(ValueError):
    """The selection cannot become one v3.0 dataset (names the manifest or dataset and the cause); raised here for
    cameras that cannot be resolved, and by `plan.py`."""


# Camera slots of a manifest across sources, each filled per dataset by the first of its canonical cameras listed (the
# roles adapters give a source's cameras from its makers' names: the shared vocabulary adapters/camera_roles.yaml,
# under the exact maps adapters/oxe/subsets.yaml, robomind/layouts.yaml, arrays/layouts.yaml and a `camera_map`).
# The roles of Octo's and OpenVLA's OXE mixtures: `primary` the main view, `wrist` the wrist camera
# (octo/data/oxe/oxe_dataset_configs.py `image_obs_keys`, bridge_dataset primary `image_0`, fractal primary `image`);
# `primary` in eidata's order of the view that shows the task best.
SLOTS: dict[str, tuple[str, ...]] = {
    "primary": MAIN_CAMERA_ORDER,
    "wrist": (Camera.wrist_right.value, Camera.wrist_left.value),
}


def resolve_cameras(wanted: list[str] | None, available: list[str], *, slots: bool = False) -> list[str] | None:
    """Video keys from keys or short names (`head` -> `observation.images.head`), with `slots` also the names of
    `SLOTS` a dataset does not use as a camera of its own; None = not chosen."""
    if wanted is None:
        return None
    if [w.lower() for w in wanted] == ["none"]:
        return []
    if any(w.lower() == "none" for w in wanted):
        raise PlanError(f"cameras {wanted}: 'none' (no video) cannot be named with cameras")
    out = []
    for w in wanted:
        key = w if w.startswith(IMAGE_PREFIX) else IMAGE_PREFIX + w
        if key not in available and not (slots and key.removeprefix(IMAGE_PREFIX) in SLOTS):
            known = sorted(available) + ([f"slots {sorted(SLOTS)}"] if slots else [])
            raise PlanError(f"camera {w!r} is not among {known}")
        if key in out:
            raise PlanError(f"camera {w!r} named twice")
        out.append(key)
    return out


def slot_cameras(src: Any, chosen: list[str]) -> dict[str, str | None]:
    """Which of `src`'s cameras each chosen key reads: itself where the dataset has it, a slot the first of its
    roles (`SLOTS`) that the dataset has and no other chosen key takes, None where it has none."""
    have = video_keys(src.features)
    taken = {k for k in chosen if k in have}
    out: dict[str, str | None] = {}
    for key in chosen:
        if key in have:
            out[key] = key
            continue
        roles = SLOTS.get(key.removeprefix(IMAGE_PREFIX), ())
        pick = next((c for r in roles if (c := IMAGE_PREFIX + r) in have and c not in taken), None)
        if pick is not None:
            taken.add(pick)
        out[key] = pick
    return out


def default_cameras(datasets: list[tuple[Any, int]]) -> list[str]:
    """The camera most episodes have and those all of them have, when every dataset has them; else the slot
    `primary`, and `wrist` when every dataset has a wrist camera besides its primary one. `datasets`: (a dataset,
    how many of the episodes are its), its cameras read once per dataset."""
    episodes: Counter[int] = Counter()
    for s, n in datasets:
        episodes[id(s)] += n
    have = {at: frozenset(video_keys(s.features)) for at, s in {id(s): s for s, _ in datasets}.items()}
    counts = Counter({k: 0 for cams in have.values() for k in cams})
    for at, n in episodes.items():
        counts.update(dict.fromkeys(have[at], n))
    if not counts:
        return []
    top = max(sorted(counts), key=lambda k: counts[k])  # most episodes; ties by name
    with_top = [cams for cams in have.values() if top in cams]
    common = sorted(frozenset.intersection(*with_top), key=lambda k: (k != top, k))
    if len(with_top) == len(have):
        return common
    slots = [IMAGE_PREFIX + "primary", IMAGE_PREFIX + "wrist"]
    alike = {id(s): s for s, _ in datasets}.values()
    return slots if all(None not in slot_cameras(s, slots).values() for s in alike) else slots[:1]


def slot_columns(columns: dict[str, Any], fills: dict[str, str | None]) -> dict[str, Any]:
    """Episode columns under the exported keys: a slot's intrinsics are its camera's, and it names that camera."""
    out = dict(columns)
    for key, cam in fills.items():
        if cam is not None and cam != key:
            out[intrinsics_column(key)] = out.pop(intrinsics_column(cam), None)
            out[camera_source_column(key)] = cam
    return out
