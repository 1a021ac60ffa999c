"""What a store opens on its own stays inside it (issue 58 item 3): `contained` checks the paths a ref names (the
`.zarr` folder, the `.hdf5` file), but a store holds references its library follows without a word: a Zarr folder's
chunk, metadata and array folders (zarr's `LocalStore` opens `data/x/0.0` through a symlink to any file the worker can
read: `sealed_folder`); an HDF5 file's external links, datasets with external raw storage (`H5Pset_external`) and
virtual datasets mapping onto other files (`sealed_h5`). Each is refused before a byte of the store's data is read,
with `ReachesOutside` naming the store, the reference and where it leads; the adapter flags the store's episodes as it
flags an unreadable file and its neighbours are read.

Refused, not contained: HDF5's own sandboxes (`HDF5_EXTFILE_PREFIX`, `HDF5_VDS_PREFIX`, the external-link prefix)
apply to relative names only, an absolute name is opened as given, and a virtual source is looked for in several
places in turn (the prefix, the file's folder, the working directory), so containing them means redoing HDF5's path
rules; no source eidata reads (robomimic, ALOHA, RoboMIND, EgoDex, AgiBot, Isaac Lab) uses any of the three. A virtual
dataset whose sources are all in its own file (source file ".") is kept; one whose source is another file is refused
even under the root, since that file would be an input no ref names (not in lineage, not under the ref's checks). A
symlink under a Zarr folder that resolves inside the same folder is kept.

`sealed_h5` walks every object of the file: 35-70 us a dataset, 0.14-0.3 s for 4,000 datasets (AgiBot Genie), paid
on each of a file's several opens (discovery, each episode). A file found sealed is remembered (a memo each parse
process gives back to its parent: `memos`) by the open descriptor's `fstat` (`_identity`: device, inode, size, mtime
and ctime of the handle HDF5 reads, so the file checked is the file read); a file rewritten in place changes its
ctime, which no user can set, so it is checked again (a residue: the kernel stamps times at its clock tick, a few ms,
so a file deleted and another of the same size written within one tick on the reused inode would pass as the first).
Object-store files are checked on every open.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import h5py

from adapters.hostile.memos import memo
from schemas.containment import ReachesOutside

__all__ = ["NestedTooDeep", "h5_objects", "sealed_folder", "sealed_h5"]

_INSIDE = (h5py.h5l.TYPE_HARD, h5py.h5l.TYPE_SOFT)
# groups nested in one HDF5 file: robomimic's deepest path is 4 (data/demo_0/obs/agentview_image), AgiBot's 5; HDF5's
# own H5Ovisit / H5Lvisit recurse in C once per level, and 20,000 nested groups (a 2.9 MB file) overflowed the
# worker's stack (SIGSEGV: review 7 i06, the job lost every episode of the source)
MAX_DEPTH = 64
_SEALED_MAX = 65536  # files remembered as sealed; past it the set starts again (a 56-byte key each)
_checked = memo("sealed_h5", _SEALED_MAX)  # (name, device, inode, size, mtime_ns, ctime_ns): `_identity`


def sealed_folder(folder: str | os.PathLike[str], name: str | None = None) -> None:
    """ReachesOutside for the first symlink under `folder` (any depth, files and folders alike, links not followed)
    that resolves outside `folder` once both are resolved; nothing when every entry stays inside. `name`: the
    folder as errors name it (`folder` may be a descriptor's `/proc/self/fd/N`)."""
    top = os.fspath(folder)
    shown = name or top
    real_top = os.path.realpath(top)
    todo = [top]
    while todo:
        here = todo.pop()
        with os.scandir(here) as entries:
            for e in entries:
                if e.is_symlink():
                    real = os.path.realpath(e.path)
                    if not (real == real_top or real.startswith(real_top + os.sep)):
                        raise ReachesOutside(shown, f"{os.path.relpath(e.path, top)} (a symlink)", real)
                elif e.is_dir(follow_symlinks=False):
                    todo.append(e.path)


def sealed_h5(f: h5py.File, name: str) -> None:
    """ReachesOutside for the first link of `f` that is not a hard or soft link (an external link, a user-defined
    one), or dataset with external raw storage or a virtual source in another file; `name`: the file as the error
    names it. Reads the file's metadata only; once per process for a local file unchanged since (`_identity`)."""
    key = _identity(f)
    if key is not None and key in _checked:
        return
    found: list[tuple[str, str]] = []

    def link(path: bytes, kind: int) -> None:
        text = path.decode("utf-8", "replace")
        target = f.get(text, getlink=True) if kind == h5py.h5l.TYPE_EXTERNAL else None
        where = f"{target.filename}:{target.path}" if target is not None else f"a link of type {kind}"
        found.append((f"{text} (an external link)", where))

    for path, kind, info in h5_objects(f.id, name):
        if kind not in _INSIDE:
            link(path, kind)
            break
        if info is not None and _dataset(f, path, info, found):
            break
    if found:
        raise ReachesOutside(name, *found[0])
    if key is not None:
        if len(_checked) >= _SEALED_MAX:
            _checked.clear()
        _checked[key] = None


class NestedTooDeep(ValueError):
    """An HDF5 file whose groups nest deeper than `MAX_DEPTH`: never walked by HDF5's recursive visits."""


def h5_objects(top: Any, name: str) -> Iterator[tuple[bytes, int, Any]]:
    """Every link under the group `top` (an h5py GroupID), as (path relative to it, link type, the object's
    `h5o.get_info` for a hard link, else None), each object once (hard links may form cycles), walked with a stack
    of our own rather than HDF5's recursion; NestedTooDeep naming the file `name` and the path past `MAX_DEPTH`."""
    seen: set[tuple[int, int]] = set()
    todo: list[tuple[bytes, Any, int]] = [(b"", top, 0)]
    while todo:
        prefix, gid, depth = todo.pop()
        entries: list[tuple[bytes, int]] = []
        gid.links.iterate(lambda n, i, out=entries: out.append((n, i.type)), info=True)
        for n, kind in entries:
            path = prefix + n
            if kind != h5py.h5l.TYPE_HARD:
                yield path, kind, None
                continue
            info = h5py.h5o.get_info(gid, n)
            if (info.fileno, info.addr) in seen:
                continue
            seen.add((info.fileno, info.addr))
            yield path, kind, info
            if info.type == h5py.h5o.TYPE_GROUP:
                if depth + 1 >= MAX_DEPTH:
                    shown = path.decode("utf-8", "replace")[:200]
                    raise NestedTooDeep(f"{name}: groups nested past {MAX_DEPTH} levels ({shown}...); not read")
                todo.append((path + b"/", h5py.h5o.open(gid, n), depth + 1))


def _identity(f: h5py.File) -> tuple[str, int, int, int, int, int] | None:
    """(name, device, inode, size, mtime_ns, ctime_ns) of the file HDF5 holds open (its POSIX driver's descriptor),
    None for a file read through another driver (a Python file object: an object-store file)."""
    if f.driver != "sec2":
        return None
    st = os.fstat(f.id.get_vfd_handle())
    return (f.filename, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _dataset(f: h5py.File, path: bytes, info: Any, found: list[tuple[str, str]]) -> int | None:
    if info.type != h5py.h5o.TYPE_DATASET:
        return None
    dcpl = h5py.h5d.open(f.id, path).get_create_plist()
    text = path.decode("utf-8", "replace")
    if dcpl.get_external_count():
        found.append((f"{text} (external raw storage)", dcpl.get_external(0)[0].decode("utf-8", "replace")))
    elif dcpl.get_layout() == h5py.h5d.VIRTUAL:
        other = [m.file_name for m in f[text].virtual_sources() if m.file_name != "."]
        if other:
            found.append((f"{text} (a virtual dataset)", other[0]))
    return 1 if found else None
