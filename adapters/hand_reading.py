"""What the hand sources' adapters (people's hands, read from a maker's per-sequence files: the `HandSource`
subclasses) share around their own reading: their base class, where discovery looks (`bases`: the root, or one folder
below it), one episode's `Reading`, whose errors name the file, the episode and the field, and the raw episode of
people's hands (`human_episode`). What each source's files hold, and which of them are read, stays in its adapter.

Sources whose hands are MANO parameters only (ARCTIC, HOI4D, OakInk2, TACO): the option that names the licensed
model files and the error an episode raises without it. Canonicalization evaluates the parameters
(`ingest.canonical.mano`); without the model no hand keypoint can be made, so such an episode is quarantined naming
the option, never written handless.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import av
from pydantic import Field

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, RawEpisode, reraised
from adapters.hostile import bounds
from adapters.pickles import UnsafePickle
from adapters.source_adapter import OptionsT, SourceAdapter
from adapters.storage.location import Location
from schemas.tiers import QualityTier

T = TypeVar("T")
# what opening a video raises for a bad file: FFmpeg's errors, a file not there, no video stream, a size refused
VIDEO_ERRORS = (av.FFmpegError, OSError, IndexError, ValueError)


class HandSource(SourceAdapter[OptionsT]):
    """A source of people's hands: its `refs` under the located root, in their order (`SourceAdapter.discover` pulls
    the first `max_episodes`: a generator of refs stops being read there)."""

    @abstractmethod
    def refs(self, root: Location) -> Iterable[EpisodeRef]:
        """Every episode under `root` (a Location, read with this source's storage options), in discovery order."""


def natural_order(refs: Iterable[EpisodeRef]) -> list[EpisodeRef]:
    """`refs` in their natural order (`EpisodeRef.sort_key`)."""
    return sorted(refs, key=lambda r: r.sort_key)


def bases(root: Location) -> list[Location]:
    """The root, then its folders by name: where a source kept "at the root or one folder below it" is looked for."""
    return [root, *sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)]


def first(places: list[Location], rel: str) -> Location | None:
    """`rel` under the first of `places` that has it, None when none has."""
    return next((p / rel for p in places if (p / rel).exists()), None)


@dataclass(frozen=True)
class Reading:
    """One episode being read by `adapter`: `file` is what an error names when it names no other."""

    adapter: SourceAdapter
    episode: str
    file: Any = None

    @classmethod
    def of(cls, adapter: SourceAdapter, ref: EpisodeRef, file: Any = None) -> Reading:
        """The read of `ref` (the error its discovery found was raised before any read: `confined.flagged_first`)."""
        return cls(adapter, ref.raw_id, file)

    def fail(self, message: str, field: str, file: Any = None) -> AdapterError:
        """The adapter's error naming `file` (else this read's), the episode and `field` (none when empty)."""
        return self.adapter.error(
            message, file=self.file if file is None else file, episode=self.episode, field=field or None
        )

    def naming(self, path: Location, name: str) -> Callable[[str, str], AdapterError]:
        """A parser's `fail(message, field)`: the error naming `path`, the episode and the field (`name` if empty)."""
        return lambda message, field: self.fail(message, field or name, path)

    def text(self, folder: Location, name: str) -> tuple[bytes, Callable[[str, str], AdapterError]]:
        """The bytes of `folder / name`, and the `naming` fail a parser of them raises: a file missing that
        error."""
        path, fail = folder / name, self.naming(folder / name, name)
        if not path.is_file():
            raise fail("missing file", "")
        return bounds.read_bounded(path, None, name), fail

    def inside(self, root: Any, path: Any, field: str) -> Any:
        """`path` when it lies under `root` once resolved (a symlink out refused, `SourceAdapter.inside`)."""
        return self.adapter.inside(root, path, field=field, episode=self.episode)

    def mano_dir(self, source: str, file: Any) -> str:
        """The `mano_model_dir` option (`ManoOnlyOptions`) as a string, or the error naming it, `file` and the
        episode."""
        folder = getattr(self.adapter.options, "mano_model_dir", None)
        if folder is None:
            msg = f"{source}'s hands are MANO parameters only: set the adapter option mano_model_dir (MANO_*.npz)"
            raise self.fail(msg, "mano_model_dir", file)
        return str(folder)

    def parsed(self, path: Location, what: str, parse: Callable[[bytes], T], *, named: str = "") -> T:
        """`parse` of the file's bytes, read whole (`bounds.read_bounded`, labelled `what`); a
        pickle refused, or bytes that do not parse, the error "unreadable <named or what>" naming the file."""
        try:
            return parse(bounds.read_bounded(path, None, what))
        except (UnsafePickle, ValueError, EOFError) as e:
            raise self.fail(f"unreadable {named or what}: {e}", "", path) from e

    def unreadable(
        self, what: str, field: str, file: Any, errors: tuple[type[Exception], ...] = (OSError, ValueError)
    ) -> AbstractContextManager[None]:
        """One of `errors` raised in the block (a file that does not parse; a video that does not open:
        `VIDEO_ERRORS`) is this episode's error "unreadable <what>" on `field`, naming `file`."""
        return reraised(errors, lambda e: self.fail(f"unreadable {what}: {e}", field, file))


def human_episode(ref: EpisodeRef, native_fps: float, **fields: Any) -> RawEpisode:
    """A raw episode of people's hands as these sources are: no robot, embodiment `human`, tier `high`."""
    return RawEpisode(
        ref=ref, robot_type=None, embodiment="human", tier=QualityTier.high, native_fps=native_fps, **fields
    )


class ManoOnlyOptions(AdapterOptions):
    mano_model_dir: Path | None = Field(
        None, description="folder with MANO_LEFT.npz / MANO_RIGHT.npz: this source's hands are MANO parameters only"
    )
