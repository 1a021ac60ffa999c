"""A source that went away while it was read: the environment's, not the episode's (reliability review 6, N52).

`ENOENT` is a data errno (`faults.toml`): a file an episode names that is not there is that episode's defect, but only
while the source is still there. Moving a source folder away during a job (an NFS remount, a re-sync) made every
episode read afterwards a permanent data quarantine, exit 0, which no rerun redid. So after a read failed, `vanished`
asks whether the source changed under the reader: its root is gone, or not one of the episode's discovered files
exists any more (discovery lists what it finds; an adapter may name a sidecar it expected but did not see, never all
of its files, so a sidecar missing from the start stays the episode's defect). A good read costs nothing.

`all_seen=True`, for an adapter whose refs name only files discovery saw (`SourceAdapter.refs_seen`, LeRobot): any of
them missing is the source's change, asked before the read too. Review 7 f6: a LeRobot dataset's `videos/` moved away
for a moment after discovery, 40 of 40 episodes were written without their cameras, exit 0, and the rerun called them
done.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.storage.location import Where, locate
from schemas.storage import StorageOptions

MAX_CHECKED = 64  # files of one episode looked at, at most (a folder of per-frame images names thousands)


def vanished(
    root: Where, paths: Sequence[str], options: StorageOptions | None = None, *, all_seen: bool = False
) -> str | None:
    """Why the source changed since discovery (its root gone, or every checked file of the episode gone, or with
    `all_seen` any of them), or None when it is still as discovery saw it; an error while looking (a store that does
    not answer) propagates: it is the environment's by `faults.environment_fault`."""
    loc = locate(root, options)
    if not loc.exists():
        return f"the source root {root} is gone since discovery (moved, unmounted or deleted); rerun once it is back"
    checked = paths[:MAX_CHECKED]
    gone = [p for p in checked if not locate(p, options).exists()]
    if checked and len(gone) == len(checked):
        return (
            f"none of the episode's {len(checked)} discovered files exists any more (first: {checked[0]}): the source "
            "changed under the reader; rerun once it is back"
        )
    if all_seen and gone:
        return (
            f"{len(gone)} of the episode's {len(checked)} files discovery found are gone since (first: {gone[0]}): "
            "the source changed under the reader; rerun once it is back"
        )
    return None
