"""Errors of the LeRobot writer: an episode's bad input (naming dataset, episode, feature and frame), or a dataset
that cannot be opened or written as asked (`DatasetError`; `WriterLockedError` when another writer holds it,
`WriterFailedError` when an earlier commit of this writer failed for a reason that was not the episode's)."""

from __future__ import annotations


class EpisodeError(ValueError):
    """Bad input for one episode. The episode is discarded; nothing of it stays on disk."""

    def __init__(
        self,
        message: str,
        *,
        dataset: str | None = None,
        episode: str | None = None,
        feature: str | None = None,
        frame: int | None = None,
    ) -> None:
        self.dataset, self.episode, self.feature, self.frame = dataset, episode, feature, frame
        self.reason = message
        where = [f"{k} {v}" for k, v in (("dataset", dataset), ("episode", episode)) if v is not None]
        where += [f"feature {feature!r}"] if feature is not None else []
        where += [f"frame {frame}"] if frame is not None else []
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class UnknownFeatureError(EpisodeError):
    """A frame carries a key the dataset does not declare, or lacks a declared one."""


class ShapeError(EpisodeError):
    """A value's shape differs from the declared feature shape."""


class DtypeError(EpisodeError):
    """A value's dtype cannot be stored losslessly as the declared dtype."""


class NonFiniteError(EpisodeError):
    """NaN or inf in a numeric feature."""


class StatsOverflowError(NonFiniteError):
    """A finite value whose magnitude makes its feature's statistics overflow in the feature's dtype
    (`adapters.lerobot_format.stats.stats_bound`): its std would be Infinity in `episodes_stats.jsonl`."""


class TimestampError(EpisodeError):
    """Timestamps that are not finite, not increasing, or off the 1/fps grid lerobot checks."""


class FrameSizeError(EpisodeError):
    """A camera frame of a different size than the camera's earlier frames or declared shape."""


class EmptyEpisodeError(EpisodeError):
    """An episode committed without any frame."""


class DatasetError(RuntimeError):
    """The dataset on disk cannot be opened or written as asked (locked, incompatible features, corrupt meta)."""


class WriterLockedError(DatasetError):
    """Another writer holds the dataset's lock. Callers that may wait for it catch this class, never the message."""

    def __init__(self, root: object, holder: str) -> None:
        self.root, self.holder = root, holder  # holder: the pid the lock file names, or "unknown"
        super().__init__(f"{root}: another writer (pid {holder}) holds this dataset")


class WriterFailedError(DatasetError):
    """An earlier commit of this writer failed for a reason that was not its episode's (`ingest.lerobot.writer`): no
    later episode is committed in its place. Reopen the dataset (a rerun) to go on."""

    def __init__(self, root: object, cause: str) -> None:
        self.root, self.cause = root, cause
        super().__init__(f"{root}: not committed: an earlier commit of this dataset failed ({cause}); rerun to resume")
