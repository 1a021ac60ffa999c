"""Git LFS pointer files: what a dataset cloned without `git lfs` holds instead of its parquet, mp4, HDF5, JSON or Zarr
chunk files. Every door a reader opens a file through refuses one, naming it (`refuse_pointer`: `adapters.storage.
location.readable`, `bounds.read_bounded`, `adapters.lerobot_format.files`' `read_json` and `read_jsonl`, the Zarr
chunks `adapters.arrays.stores` reads), where it would otherwise read as "not valid JSON" or a codec's error.

The pointer format is Git LFS's own spec (git-lfs/git-lfs `docs/spec.md`, "The Pointer"): a small UTF-8 text file
whose first line is `version https://git-lfs.github.com/spec/v1` (`https://hawser.github.com/spec/v1` in early
clients), followed by sorted `key value` lines, `oid sha256:<hex>` and `size <bytes>` among them. Git LFS itself
never treats a blob of 1024 bytes or more as a pointer, so neither do we.
"""

from __future__ import annotations

POINTER_VERSIONS = (b"version https://git-lfs.github.com/spec/v1", b"version https://hawser.github.com/spec/v1")
MAX_POINTER_BYTES = 1024


def pointer_size(head: bytes) -> int | None:
    """The size of the object the bytes `head` (a whole file, or its first MAX_POINTER_BYTES) stand for when they are
    a Git LFS pointer (-1: size unstated), else None."""
    if len(head) >= MAX_POINTER_BYTES or not head.startswith(POINTER_VERSIONS):
        return None
    for line in head.splitlines()[1:]:
        key, _, value = line.partition(b" ")
        if key == b"size" and value.strip().isdigit():
            return int(value)
    return -1


def pointer_message(size: int) -> str:
    of = f" for a {size:,}-byte object" if size >= 0 else ""
    return f"Git LFS pointer file{of}, not the data: run `git lfs pull` in the dataset's repository"


class LfsPointer(OSError, ValueError):
    """A file a reader was about to read that is a Git LFS pointer, not the data it stands for (`path` names it).
    Both an OSError (a file that cannot be read: every reader's unreadable-file path takes it, as it took the library's
    own error before) and a ValueError (the data's fault, never the environment's: it has no errno), as Python's own
    `io.UnsupportedOperation` is both."""

    def __init__(self, path: object, size: int) -> None:
        self.path, self.size = str(path), size
        super().__init__(f"{path}: {pointer_message(size)}")


def refuse_pointer(path: object, head: bytes) -> None:
    """LfsPointer naming `path` when `head` (its bytes, or its first MAX_POINTER_BYTES) is a Git LFS pointer."""
    size = pointer_size(head)
    if size is not None:
        raise LfsPointer(path, size)
