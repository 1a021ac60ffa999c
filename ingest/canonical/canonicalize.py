"""`canonicalize(raw, spec)`: one `RawEpisode` in, zero or more `CanonicalEpisode`s out (DESIGN.md sections 3-4).

Steps: build the wrist poses the adapter declared in `RawEpisode.hands`, find the common time span and its gaps,
resample onto the 10 Hz grid (positions linearly, rotations by SLERP, gripper by hold, video by the frame at or
before), move source EEF poses to the canonical wrist (embodiment offsets), decouple a moving camera, build the 50-dim
state, recompute deltas for the action, check validity, cut the kept spans into episodes, and assign the quality tier.
Native vectors (every numeric state, signal and action stream, resampled linearly when float, else by hold; what is
too wide named in a tier reason) are kept beside the canonical ones; an episode whose canonical dims cannot be filled
is still written, natives and cameras (a camera without a canonical slot under its own name), with the first specific
cause as its first tier reason (`_no_canonical_dims`); only an episode with nothing at all raises, saying what was
looked for. A moving camera's trajectory among them (`camera.{x,y,z,rot6d_*}`,
ref_from_camera in OpenCV axes: x right, y down, looking along +z), and each camera keeps its intrinsics. Pure: no I/O
beyond the lazy camera reads the writer drives. No adapter is known by name here.

The output records are in `episode.py`, each hand's canonical state block and the action from it in `hand_state.py`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from adapters.base import CameraSource, HandSignals, RawEpisode, Stream
from ingest.canonical import resample as rs
from ingest.canonical.decouple import FORWARD_AXIS, as_opencv, decouple
from ingest.canonical.episode import CanonicalEpisode, ResampledCamera
from ingest.canonical.frames import pose_to_pos_rot6d
from ingest.canonical.hand_state import action_from_state, hand_block, streams_used, wrist_poses
from ingest.canonical.joint_space import joint_space_hands
from ingest.canonical.mano_hands import mano_hands
from ingest.canonical.qa import CameraView, measure
from ingest.canonical.quality import assess_quality
from ingest.canonical.validity import check_validity
from schemas.canonical import CANONICAL_DIM, IMAGE_PREFIX, NUM_KEYPOINTS, Camera, hand_dims
from schemas.canonicalize import CanonicalizeSpec, GapPolicy
from schemas.corpus import episode_uid
from schemas.lerobot import ActionSegment
from schemas.robots.eef_offsets import eef_offset_for
from schemas.robots.registry import Effector, Embodiment, EmbodimentRegistry, default_registry
from schemas.transform import RigidTransform

PIPELINE_VERSION = "eidata-canon-1"
MAX_NATIVE_STREAM_DIMS = 64  # wider per-step tensors (T, A, B, ...) (depth, full skeletons) stay out of `*.native`
# A per-step vector (T, D) is a source column (a 96-dim xvla state, 168-dim Isaac teleop hands): kept up to this
# width; wider ones (sentence embeddings, 512+) stay out. Either way what is left out is named in a tier reason.
MAX_NATIVE_VECTOR_DIMS = 256


def _task_text(raw: RawEpisode) -> str:
    for kind in ("instruction", "narration", "description", "summary"):
        for lang in raw.language:
            if lang.kind == kind and lang.text.strip():
                return lang.text.strip()
    return ""


def _too_wide(s: Stream) -> bool:
    return _width(s) > (MAX_NATIVE_VECTOR_DIMS if s.values.ndim <= 2 else MAX_NATIVE_STREAM_DIMS)


def _native(streams: dict[str, Stream], derived: set[str]) -> list[tuple[str, Stream]]:
    out = []
    for key in sorted(streams):
        s = streams[key]
        if key in derived or s.values.dtype.kind not in "fiub" or _too_wide(s) or not len(s):
            continue
        out.append((key, s))
    return out


def _left_out(raw: RawEpisode) -> None:
    """Numeric streams too wide for `*.native`, named in a tier reason (nothing is dropped without a word)."""
    derived = set(raw.metadata.get("derived_streams", []))
    wide = [
        f"{k} ({_width(s)} dims)"
        for k, s in sorted({**raw.signals, **raw.states, **raw.actions}.items())
        if k not in derived and s.values.dtype.kind in "fiub" and _too_wide(s)
    ]
    limits = f"vectors over {MAX_NATIVE_VECTOR_DIMS}, tensors over {MAX_NATIVE_STREAM_DIMS} dims"
    reason = f"not kept as natives ({limits}): "
    if wide and not any(r.startswith(reason) for r in raw.tier_reasons):
        raw.tier_reasons.append(reason + ", ".join(wide))


def _resample_native(items: list[tuple[str, Stream]], grid_abs: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
    if not items:
        return None, []
    cols, names = [], []
    for key, s in items:
        v = s.values.reshape(len(s), -1)
        fn = rs.resample_linear if v.dtype.kind == "f" else rs.resample_hold
        cols.append(fn(s.timestamps, v.astype(np.float64), grid_abs))
        comp = list(s.names or ())
        names += [f"{key}.{comp[i]}" if len(comp) == v.shape[1] else f"{key}.{i}" for i in range(v.shape[1])]
    return np.concatenate(cols, axis=1).astype(np.float32), names


def _cameras(raw: RawEpisode, spec: CanonicalizeSpec) -> dict[str, CameraSource]:
    """The cameras written: each in its canonical slot, a camera without one under its own name
    (`native_camera_name`) unless `spec.cameras` picks slots; never dropped without a word."""
    cams: dict[str, CameraSource] = {}
    for c in raw.cameras.values():
        if c.canonical is not None and (spec.cameras is None or c.canonical in spec.cameras) and len(c):
            cams[c.canonical.value] = c
    for c in raw.cameras.values():
        if c.canonical is None and spec.cameras is None and len(c):
            cams[native_camera_name(c.name, set(cams))] = c
    return cams


def native_camera_name(name: str, taken: set[str]) -> str:
    """A camera's own key in the canonical dataset: its source name without `observation.images.`, in
    `[a-z0-9_]`, never a vocabulary slot's name nor one already taken."""
    base = re.sub(r"[^a-z0-9_]+", "_", name.removeprefix(IMAGE_PREFIX).lower()).strip("_") or "camera"
    out = base if base not in {c.value for c in Camera} else f"native_{base}"
    k = 1
    while out in taken:
        k += 1
        out = f"{base}_{k}"
    return out


def _no_canonical_dims(
    raw: RawEpisode, sig: HandSignals, natives: list[tuple[str, Stream]], cams: dict[str, CameraSource]
) -> None:
    """Why an episode has no canonical dim, as its first tier reason: the first specific cause recorded (names that
    did not resolve, units that did not fit, an unknown robot), else the signals' note. Raises ValueError, with the
    same cause and what was looked for, when there is nothing at all to write."""
    cause = next(iter(raw.tier_reasons), None) or next(iter(sig.notes), None) or "the source declares no hand signal"
    if not natives and not cams:
        what = "no hand signals, no camera, no numeric state or action column"
        skipped = [k for k, s in [*raw.states.items(), *raw.actions.items()] if not len(s)]
        raise ValueError(
            f"{raw.ref.uid}: nothing to canonicalize ({what}{f'; empty: {skipped}' if skipped else ''}): {cause}"
        )
    kept = f"{sum(_width(s) for _, s in natives)} native dims and {len(cams)} camera(s) kept"
    reason = f"no canonical dims ({kept}): {cause}"
    if not raw.tier_reasons or not raw.tier_reasons[0].startswith("no canonical dims"):
        raw.tier_reasons.insert(0, reason)  # the recorded cause stays too, as its recorder wrote it


def _width(s: Stream) -> int:
    return int(np.prod(s.values.shape[1:])) if s.values.ndim > 1 else 1


def _segments(raw: RawEpisode, native_fps: float | None, start_s: float, n: int, fps: int) -> list[ActionSegment]:
    out = []
    for seg in raw.action_config or []:
        if not native_fps:
            break
        a = max(0, round((seg.start_frame / native_fps - start_s) * fps))
        b = min(n, round((seg.end_frame / native_fps - start_s) * fps))
        if b > a:
            extra = {k: v for k, v in (seg.model_extra or {}).items()}
            out.append(ActionSegment(start_frame=a, end_frame=b, action_text=seg.action_text, **extra))
    return out


def canonicalize(
    raw: RawEpisode,
    spec: CanonicalizeSpec | None = None,
    registry: EmbodimentRegistry | None = None,
    *,
    source: str | None = None,
) -> list[CanonicalEpisode]:
    """Every kept span of `raw` as a canonical episode; an empty list when nothing valid remains (see `rejection`).

    `source` is the name the episodes are filed under (a job's source name; default: the adapter's)."""
    spec = spec or CanonicalizeSpec()
    source = source or raw.ref.source
    emb = (registry or default_registry()).get(raw.embodiment)
    # joint angles -> wrists by FK; declared MANO parameters -> keypoints
    sig = joint_space_hands(raw, emb) if raw.hands.empty else mano_hands(raw)
    wrists = {hand: w for hand, track in sig.hands.items() if (w := wrist_poses(track)) is not None}
    cams = _cameras(raw, spec)
    derived = set(raw.metadata.get("derived_streams", []))
    natives = _native({**raw.signals, **raw.states}, derived) + _native(raw.actions, derived)
    used = streams_used(sig, wrists) or [Stream(c.timestamps, np.zeros(len(c))) for c in cams.values()]
    if sig.empty and sig.camera is None and (natives or not cams):  # video-only sources: nothing was lost
        _no_canonical_dims(raw, sig, natives, cams)
    _left_out(raw)
    if not used:  # natives only: their own time base (a dataset without cameras whose dims cannot be filled)
        used = [s for _, s in natives]
    t0, t1 = rs.common_span([s.timestamps for s in used] + [c.timestamps for c in cams.values()])
    gaps = sorted({g for s in used for g in rs.find_gaps(s.timestamps, spec.max_gap_s)})
    spans = [(t0, t1)]
    if gaps and spec.gap_policy is GapPolicy.split:
        spans = rs.segments_without_gaps(t0, t1, gaps, spec.min_episode_s)
    episodes: list[CanonicalEpisode] = []
    for k, (a, b) in enumerate(spans):
        suffix = f"#span{k}" if len(spans) > 1 else ""
        episodes += _canonicalize_span(raw, source, sig, wrists, emb, cams, spec, a, b, gaps, suffix)
    return episodes


def _canonicalize_span(
    raw: RawEpisode,
    source: str,
    sig: HandSignals,
    wrists: dict[int, Stream],
    emb: Embodiment,
    cams: dict[str, CameraSource],
    spec: CanonicalizeSpec,
    t_start: float,
    t_end: float,
    gaps: list[tuple[float, float]],
    suffix: str,
) -> list[CanonicalEpisode]:
    grid = rs.make_grid(t_start, t_end, spec.fps)
    grid_abs = t_start + grid
    n = len(grid)
    info: dict[str, Any] = {"notes": list(sig.notes), "pipeline_version": PIPELINE_VERSION}
    if "joint_units" in raw.metadata:  # the joint unit read and its fit (ingest.canonical.joint_units), to the lineage
        info["joint_units"] = raw.metadata["joint_units"]
    if "source_annotation" in raw.metadata:  # an adapter's annotation of the episode (an Ego4D Goal-Step goal)
        info["source_annotation"] = raw.metadata["source_annotation"]
    state = np.zeros((n, CANONICAL_DIM))
    avail = np.zeros(CANONICAL_DIM, dtype=bool)
    keypoints = np.zeros((n, 2, NUM_KEYPOINTS, 3))
    poses: dict[int, np.ndarray] = {}
    action: np.ndarray | None = None
    if sig.canonical:
        st, ac, kp = sig.canonical
        state = rs.resample_linear(st.timestamps, st.values.astype(np.float64), grid_abs)
        # a dim is real when any of its values is (NaN frames stay visible to validity instead of masking the dim)
        avail = np.nanmax(np.where(np.isfinite(state), np.abs(state), 0.0), axis=0) > 0
        if ac is not None:
            action = rs.resample_linear(ac.timestamps, ac.values.astype(np.float64), grid_abs)
        if kp is not None:
            keypoints = rs.resample_linear(kp.timestamps, kp.values.astype(np.float64), grid_abs)
    else:
        ref = None
        if sig.camera is not None:
            cam_poses = rs.resample_poses(sig.camera.timestamps, sig.camera.values.astype(np.float64), grid_abs)
            conv = sig.camera_convention  # the heading is where the camera looks: its forward axis is the source's
            _, ref_from_cam, ref = decouple(cam_poses, cam_poses, sig.up_world, FORWARD_AXIS[conv])
            info["camera_trajectory"] = pose_to_pos_rot6d(as_opencv(ref_from_cam, conv)).astype(np.float32)
        offset, why = (
            eef_offset_for(emb.name, raw.ref.subset, raw.ref.source)
            if sig.apply_offset and not sig.empty
            else (RigidTransform.identity(), "no source EEF pose to move (canonical already, or none): no offset")
        )
        info["eef_offset"] = why
        for hand in (0, 1):
            block, hav, kp, p = hand_block(sig, wrists, hand, grid_abs, offset, ref)
            state[:, hand_dims(hand, slice(0, 25))] = block
            avail[hand_dims(hand, slice(0, 25))] = hav
            keypoints[:, hand] = kp
            if p is not None:
                poses[hand] = p
    mask = emb.mask() & avail
    state[:, ~mask] = 0.0  # only dims outside the mask: NaN inside it is left for validity to flag
    if action is None:
        action = action_from_state(state, poses)
    action[:, ~mask] = 0.0

    interp = np.zeros(n, dtype=bool)
    for s in streams_used(sig, wrists):
        interp |= rs.interpolated_mask(s.timestamps, grid_abs, spec.interpolation_tolerance_s)
    if gaps and spec.gap_policy is GapPolicy.invalidate:
        # nothing was measured there: make the frames non-finite so validity drops (or masks) them like any glitch
        in_gap = rs.gap_mask(grid_abs, gaps)
        state[np.ix_(in_gap, mask)] = np.nan
        action[np.ix_(in_gap, mask)] = np.nan

    confidence = None
    if any(h.confidence is not None for h in sig.hands.values()):
        confidence = np.ones((n, 2))
        for hand, h in sig.hands.items():
            if h.confidence is not None:
                confidence[:, hand] = rs.resample_linear(h.confidence.timestamps, h.confidence.values, grid_abs)
    human = emb.effector is Effector.human
    report = check_validity(
        state.astype(np.float32),
        mask=mask,
        timestamps=grid,
        embodiment=emb.name,
        config=spec.validity,
        action=action.astype(np.float32),
        keypoints=keypoints if human else None,
        confidence=confidence,
        human=human,
    )
    info["validity"] = dict(report.reasons)
    if report.rejected:
        raw.tier_reasons.append(f"span [{t_start:.2f}, {t_end:.2f}] s rejected: {report.rejected}")
        return []

    derived = set(raw.metadata.get("derived_streams", []))
    native_states = raw.states if sig.native_state_keys is None else {k: raw.states[k] for k in sig.native_state_keys}
    native_states = {**{k: v for k, v in raw.signals.items() if k not in native_states}, **native_states}
    st_native, st_names = _resample_native(_native(native_states, derived), grid_abs)
    ac_native, ac_names = _resample_native(_native(raw.actions, derived), grid_abs)
    traj = info.pop("camera_trajectory", None)  # ref_from_camera, OpenCV axes: stored natives and the QA's view
    if traj is not None:
        cam_names = [f"camera.{c}" for c in ("x", "y", "z", *(f"rot6d_{i}" for i in range(6)))]
        st_native = traj if st_native is None else np.concatenate([st_native, traj], axis=1)
        st_names += cam_names
    cameras = {
        name: ResampledCamera(
            c,
            rs.nearest_at_or_before(c.timestamps, grid_abs),
            spec.image.resolve(source, name).plan((c.height, c.width)),
        )
        for name, c in cams.items()
    }
    task = _task_text(raw)
    posed = _posed_camera(raw, sig) if traj is not None else None
    limits = spec.validity.limits_for(emb.name)
    episodes = []
    keep = report.keep if report.keep else [(0, n)]
    for j, (a, b) in enumerate(keep):
        m = b - a
        sub_t0 = t_start + a / spec.fps
        tier, reasons = assess_quality(
            raw.tier,
            success=raw.success,
            has_action=bool(mask.any()),
            state=state[a:b].astype(np.float32),
            mask=mask,
            validity=report,
            config=spec.quality,
            fps=spec.fps,
        )
        tag = suffix + (f"#keep{j}" if len(keep) > 1 else "")
        ep = CanonicalEpisode(
            uid=episode_uid(source, raw.ref.subset, raw.ref.raw_id) + tag,
            source=source,
            subset=raw.ref.subset,
            raw_id=raw.ref.raw_id + tag,
            raw_path=raw.ref.paths[0] if raw.ref.paths else "",
            embodiment=emb.name,
            mask=mask,
            timestamps=(np.arange(m) / spec.fps),
            state=state[a:b].astype(np.float32),
            action=action[a:b].astype(np.float32),
            keypoints=keypoints[a:b].astype(np.float32),
            interpolated=interp[a:b],
            task=task,
            tier=tier,
            tier_reasons=[*raw.tier_reasons, *reasons],
            native_fps=raw.native_fps,
            success=raw.success,
            cameras={k: ResampledCamera(c.source, c.indices[a:b], c.fit) for k, c in cameras.items()},
            state_native=None if st_native is None else st_native[a:b],
            state_native_names=st_names,
            action_native=None if ac_native is None else ac_native[a:b],
            action_native_names=ac_names,
            action_config=_segments(raw, raw.native_fps, sub_t0, m, spec.fps) or None,
            span_s=(sub_t0, sub_t0 + (m - 1) / spec.fps),
            info=info,
        )
        # Geometry QA on the arrays just built (one pass, no I/O): the camera is the stored trajectory with the
        # intrinsics of the camera it poses, as stored (resized, padded or cropped like its frames).
        view = None
        if posed is not None and traj is not None:
            stored = next((c for c in cameras.values() if c.source is posed), ResampledCamera(posed, np.zeros(0, int)))
            K, (h, w) = stored.intrinsics, stored.shape
            view = CameraView.from_trajectory(K, w, h, traj[a:b])
        ep.qa = measure(
            ep.state,
            ep.action,
            ep.keypoints,
            mask,
            fps=spec.fps,
            limits=limits,
            config=spec.qa,
            camera=view,
            keypoint_slots=None if human else emb.keypoint_slots(mask),
        )
        episodes.append(ep)
    return episodes


def _posed_camera(raw: RawEpisode, sig: HandSignals) -> CameraSource | None:
    """The camera whose poses `sig.camera` are (the same stream in `raw.camera_poses`), when it has intrinsics."""
    for name, poses in raw.camera_poses.items():
        cam = raw.cameras.get(name)
        if poses is sig.camera and cam is not None and cam.intrinsics is not None:
            return cam
    return None
