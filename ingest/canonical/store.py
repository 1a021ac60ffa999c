"""Writing canonical episodes: the dataset's feature set and one `CanonicalEpisode` through the LeRobot writer.

A camera with intrinsics gets them in its feature info (`schemas.canonical.INTRINSICS_KEY`, pixels of the stored
video), as the dataset's first episode has them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.canonical.hand_state import untracked_zero
from ingest.episode import PIPELINE_VERSION, CanonicalEpisode, JudgedEpisode
from ingest.lerobot.staging import EpisodeBuilder, StagedEpisode
from ingest.lerobot.video import VideoCodec
from ingest.lerobot.writer import stage_episode
from schemas.canonical import (
    ACTION,
    ACTION_NATIVE,
    CANONICAL_FPS,
    HAND_KEYPOINTS,
    HAND_VALID,
    INTERPOLATED,
    NATIVE_VALID,
    OUTCOME_NATIVE,
    STATE,
    STATE_NATIVE,
    camera_model_info,
    image_key,
    intrinsics_info,
    scale_intrinsics,
)
from schemas.corpus import LINEAGE_KEY, EpisodeLineage, tier_fields
from schemas.lerobot import InfoJson
from schemas.lerobot_features import FeatureSpec, default_features
from schemas.robots.registry import EmbodimentRegistry, default_registry
from schemas.tiers import QualityTier


def dataset_features(ep: CanonicalEpisode, registry: EmbodimentRegistry | None = None) -> dict[str, FeatureSpec]:
    """The feature set of the dataset `ep` belongs to (one per source/subset), as the first episode defines it."""
    emb = (registry or default_registry()).get(ep.embodiment)
    cams = {name: cam.shape for name, cam in ep.cameras.items()}
    features = emb.features(
        cams,
        ep.natives.state_names or None,
        ep.natives.action_names or None,
        interpolated_flag=True,
        hand_valid=True,
        mask=ep.mask,
        native_valid=True,
        native_outcome_names=ep.natives.outcome_names or None,
    )
    for name, cam in ep.cameras.items():  # each camera's intrinsics ride in its feature info (pixels of its video)
        ft = features.get(image_key(name))
        if ft is not None and cam.intrinsics is not None:
            K = scale_intrinsics(cam.intrinsics, cam.shape, ft.shape[:2])
            ft.info = {**(ft.info or {}), **intrinsics_info(K)}
        if ft is not None and (lens := cam.camera_model) is not None:  # a fisheye's model, never a pinhole K
            ft.info = {**(ft.info or {}), **camera_model_info(lens.resized(ft.shape[:2]))}
    return features


def lineage(ep: JudgedEpisode, reading: str | None = None) -> EpisodeLineage:
    """What `episodes.jsonl` keeps about an episode beyond lerobot's keys: the catalog is rebuilt from it; `reading`:
    the fingerprint of how its source was read (`schemas.reading`), given by the job."""
    return EpisodeLineage(
        episode_uid=ep.uid,
        raw_uid=ep.raw_uid,
        source=ep.source,
        subset=ep.subset,
        raw_id=ep.raw_id,
        raw_path=ep.raw_path,
        raw_fps=ep.native_fps,
        **({"source_findings": ep.source_findings} if ep.source_findings else {}),
        **({"native_discrete": ep.natives.discrete} if ep.natives.discrete else {}),
        **({"native_accumulated": ep.natives.accumulated} if ep.natives.accumulated else {}),
        **({"row_clock": ep.row_clock} if ep.row_clock is not None else {}),
        **({"hand_notes": ep.notes} if ep.notes else {}),
        **({"native_windows": ep.native_windows} if ep.native_windows else {}),
        **({"clock": ep.clock} if ep.clock is not None else {}),
        **({"camera_models": models} if (models := _camera_models(ep)) else {}),
        span_s=[round(ep.span_s[0], 6), round(ep.span_s[1], 6)],
        embodiment=ep.embodiment,
        **tier_fields(QualityTier.high, ep.verdicts),  # the verdicts kept, the tier and sentences computed from them
        success=ep.success,
        mask=ep.mask.astype(int).tolist(),
        action_kind=ep.action_kind,
        interpolated_frames=int(ep.interpolated.sum()),
        validity=ep.validity,
        pipeline_version=PIPELINE_VERSION,
        **({"reading": reading} if reading is not None else {}),
        **({"joint_units": ep.joint_units.model_dump()} if ep.joint_units is not None else {}),  # an extra key
        **({"source_annotation": ep.annotation.model_dump()} if ep.annotation is not None else {}),
        qa=ep.qa,
        behaviour=ep.behaviour,
        # every threshold as set, defaults included (a default may change in a later version; `to_json` drops unset)
        qa_config=ep.qa_config.model_dump(),
        behaviour_config=ep.camera_checks.config.model_dump(),
    )


def _camera_models(ep: CanonicalEpisode) -> dict[str, dict[str, Any]]:
    """Each camera's lens model exactly as its source gave it (native pixels, coefficients untouched)."""
    return {
        image_key(name): cam.source.camera_model.model_dump()
        for name, cam in ep.cameras.items()
        if cam.source.camera_model is not None
    }


def episode_frames(ep: CanonicalEpisode, features: dict[str, Any]) -> Iterator[dict[str, np.ndarray]]:
    """Frames for `EpisodeBuilder.add_frame`: numeric rows zipped with each camera's resampled frames."""
    cams = {image_key(name): cam.frames() for name, cam in ep.cameras.items() if image_key(name) in features}
    tracked = ep.hand_valid
    state, action = untracked_zero(ep.state, tracked), untracked_zero(ep.action, tracked)  # an untracked hand: 0
    keypoints = untracked_zero(ep.keypoints, tracked)
    natives = (
        (STATE_NATIVE, ep.natives.state, ep.natives.state_valid),
        (ACTION_NATIVE, ep.natives.action, ep.natives.action_valid),
        (OUTCOME_NATIVE, ep.natives.outcome, ep.natives.outcome_valid),
    )
    for i in range(ep.num_frames):
        frame: dict[str, Any] = {
            STATE: state[i],
            ACTION: action[i],
            HAND_KEYPOINTS: keypoints[i],
            INTERPOLATED: np.bool_(ep.interpolated[i]),
        }
        if HAND_VALID in features:
            frame[HAND_VALID] = tracked[i]
        for key, values, valid in natives:
            if key in features and values is not None:
                frame[key] = values[i]
            if NATIVE_VALID[key] in features and valid is not None:
                frame[NATIVE_VALID[key]] = valid[i]
        for key, it in cams.items():
            frame[key] = next(it)
        yield frame


class FrameSink(Protocol):
    """What measures the camera frames as the writer encodes them, so none is decoded twice (the judging step's
    thumbnails, `ingest.qa.phase.FrameTap`): `add` sees each frame as it passes."""

    def add(self, camera: str, frame: np.ndarray) -> None: ...


def stage_canonical(
    dataset_root: Path,
    ep: CanonicalEpisode,
    codec: VideoCodec,
    *,
    frames: FrameSink | None,
    registry: EmbodimentRegistry | None = None,
) -> StagedEpisode:
    """Stage `ep` into `dataset_root`'s staging area without the dataset's lock (a parallel worker's half of a
    write; the single writer commits). The dataset need not exist yet: features from `ep`, the canonical rate. Its
    lineage is not written yet: `with_lineage`, once its cameras are judged."""
    info = InfoJson(fps=CANONICAL_FPS, features={**dataset_features(ep, registry), **default_features()})
    builder = stage_episode(
        dataset_root, info, codec, task=ep.task or "unspecified", label=ep.uid, expected_frames=ep.num_frames
    )
    return fill(builder, ep, frames=frames)


def fill(builder: EpisodeBuilder, ep: CanonicalEpisode, *, frames: FrameSink | None) -> StagedEpisode:
    """Feed every frame of `ep` with its segments; any error discards the staged episode. `frames` sees each camera
    frame as it passes: a caller says which (`ingest.steps.encode`) or None, never forgets it."""
    try:
        for frame in episode_frames(ep, {k: None for k in builder.feature_keys}):
            builder.add_frame(frame)
            if frames is not None:
                for key in ep.cameras:
                    if image_key(key) in frame:
                        frames.add(image_key(key), frame[image_key(key)])
        if ep.action_config:
            builder.action_config = [s.model_dump() for s in ep.action_config]
        return builder.finish()
    except BaseException:
        builder.abort()
        raise


def with_lineage(staged: StagedEpisode, kept: EpisodeLineage) -> StagedEpisode:
    """`staged` with the lineage the commit writes into `episodes.jsonl` (`lineage` of its episode judged, cameras
    included)."""
    return staged.model_copy(update={"extra": {**staged.extra, LINEAGE_KEY: kept.to_json()}})
