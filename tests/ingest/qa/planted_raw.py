"""Planted defects in copies of the real GR00T PickNPlace raw episodes, as the lerobot adapter reads them.

`planted(raw, planter, ...)` applies one of `tests.fixtures.behaviour_defects` to the raw episode's native state
(the 8 `state.*` streams in sorted order, 44 joints), action and decoded ego camera, and returns a new `RawEpisode`
whose camera serves the planted frames from memory. Canonicalization, the behaviour phase and the writer then run
on it as on any raw episode: the defect is found where ingest finds it (natives, FK wrists, the frames the writer
encodes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

import tests.fixtures.behaviour_defects as plant
from adapters.base import CameraSource, RawEpisode, Stream
from adapters.cameras import fit_rgb
from adapters.registry import get_adapter
from ingest.canonical.store import dataset_features
from ingest.episode import CanonicalEpisode
from ingest.lerobot.writer import LeRobotWriter
from ingest.qa.phase import BehaviourRejected
from schemas.canonical import CANONICAL_FPS
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import dataset_dir
from schemas.image_size import FrameFit
from schemas.robots.registry import EmbodimentRegistry
from tests.fixtures.behaviour_defects import Episode, Planted
from tests.fixtures.episodes import write_episode
from tests.fixtures.offline import prepare
from tests.ingest.qa.gr00t_sample import SAMPLE as GR00T
from tests.realdata import realdata

CAMERA = "observation.images.ego_view"


class ArrayCamera(CameraSource):
    """A camera whose frames are held in memory: a planted copy of a real camera's decoded frames."""

    def __init__(self, like: CameraSource, frames: np.ndarray, timestamps: np.ndarray) -> None:
        super().__init__(like.name, like.canonical, timestamps, frames.shape[1], frames.shape[2], like.intrinsics)
        self.data = frames

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        for i in range(len(self.data)) if indices is None else indices:
            yield i, fit_rgb(self.data[i], fit)


def episode_of(raw: RawEpisode) -> Episode:
    """The raw episode's native state, action and decoded ego camera as one planter input."""
    state = np.concatenate([raw.states[k].values for k in sorted(raw.states)], axis=1).astype(np.float64)
    action = np.concatenate([raw.actions[k].values for k in sorted(raw.actions)], axis=1).astype(np.float64)
    frames = np.stack([f for _, f in raw.cameras[CAMERA].frames()])
    return Episode(state, action, frames, float(raw.native_fps or 20.0))


def _split(streams: dict[str, Stream], values: np.ndarray, t: np.ndarray) -> dict[str, Stream]:
    out, at = {}, 0
    for k in sorted(streams):
        w = streams[k].values.shape[1]
        out[k] = replace(streams[k], timestamps=t, values=values[:, at : at + w].astype(streams[k].values.dtype))
        at += w
    return out


def with_episode(raw: RawEpisode, ep: Episode) -> RawEpisode:
    """A copy of `raw` carrying `ep`'s arrays (a planted length change stretches the scalar signals by nearest
    index, which carry no defect)."""
    n = len(ep.state)
    t = np.arange(n) / ep.fps
    n0 = len(next(iter(raw.states.values())))
    idx = np.round(np.linspace(0, n0 - 1, n)).astype(int)
    signals = {k: replace(s, timestamps=t, values=s.values[idx]) for k, s in raw.signals.items()}
    outcomes = {k: replace(s, timestamps=t, values=s.values[idx]) for k, s in raw.outcomes.items()}
    camera = ArrayCamera(raw.cameras[CAMERA], ep.frames, t)
    return replace(
        raw,
        states=_split(raw.states, ep.state, t),
        actions=_split(raw.actions, ep.action, t),
        signals=signals,
        outcomes=outcomes,
        cameras={CAMERA: camera},
    )


def planted(
    raw: RawEpisode, planter: Callable[..., Planted], *args: object, **kw: object
) -> tuple[RawEpisode, Planted]:
    p = planter(episode_of(raw), *args, **kw)
    return with_episode(raw, p.episode), p


def ingest(
    raw: RawEpisode, spec: CanonicalizeSpec, dataset: Path, registry: EmbodimentRegistry | None = None
) -> tuple[list[CanonicalEpisode], str | None]:
    """Canonicalize `raw` and write its episodes into `dataset` as the ingest worker does (`registry`: the shipped
    robots and a job spec's declared one, `jobs.ingest.worker.Attempt.registry`); (episodes written, their cameras
    judged; the quarantine reason or None)."""
    result = prepare(raw, spec, registry)
    if not result.episodes:
        return [], result.rejection_message()
    written = []
    for ep in result.episodes:
        features = dataset_features(ep, registry)
        try:
            with LeRobotWriter.create_or_open(
                dataset, fps=CANONICAL_FPS, features=features, robot_type=ep.embodiment
            ) as w:
                _, judged = write_episode(w, ep)
        except BehaviourRejected as err:
            return written, str(err)
        written.append(judged)
    return written, None


ELBOW = 25  # the right elbow among the 44 joints of the 8 state streams in sorted order (right_arm 22..28)


def gr00t_raws() -> list[RawEpisode]:
    """The 5 real GR00T PickNPlace raw episodes, as the lerobot adapter reads them."""
    adapter = get_adapter("lerobot")
    return [adapter.read(r) for r in sorted(adapter.discover(realdata(GR00T)), key=lambda r: r.raw_id)]


def renamed(raw: RawEpisode, raw_id: str) -> RawEpisode:
    return replace(raw, ref=raw.ref.model_copy(update={"raw_id": raw_id}))


def write_planted_corpus(root: Path, spec: CanonicalizeSpec) -> None:
    """A corpus of the 5 real GR00T episodes plus planted copies, each written as ingest writes it: a dead right
    elbow and a copy of episode 0 (sorting after it). Built once per session with the default spec:
    `tests/jobs/conftest.py` (`planted_corpus`)."""
    raws = gr00t_raws()
    extra = [
        renamed(planted(raws[3], plant.dead_joint, ELBOW)[0], "planted_dead_elbow"),
        renamed(planted(raws[0], plant.duplicate)[0], "planted_zz_copy_of_0"),
    ]
    write_raws(root, spec, [*raws, *extra])


def add_frozen_camera(root: Path, spec: CanonicalizeSpec) -> None:
    """Add to a planted corpus, after its episodes, a copy of episode 1 with a 2 s camera freeze."""
    raw = gr00t_raws()[1]
    write_raws(root, spec, [renamed(planted(raw, plant.frozen_camera, seconds=2.0)[0], "planted_frozen_camera")])


def write_raws(root: Path, spec: CanonicalizeSpec, raws: list[RawEpisode]) -> None:
    """Each raw episode written into `root` as ingest writes it, one clean episode each, in the order given."""
    for raw in raws:
        eps, rejected = ingest(raw, spec, root / dataset_dir("lerobot", raw.ref.subset))
        assert rejected is None and len(eps) == 1, rejected
