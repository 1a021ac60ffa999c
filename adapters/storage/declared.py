"""The file a door hands a library, declared to the per-file boundary (`adapters.hostile.isolated`, issue 58 item 2).

Python's audit event "open" covers every file Python opens, but not one a C library opens itself from a path (pyarrow,
HDF5, FFmpeg through PyAV), nor an object on a store (fsspec opens it through the network). The doors adapters hand
such files through declare them with an audit event of their own (`EVENT`): `location.readable` when it hands the file
over and again when the library's parse fails inside (so the boundary takes that file for the culprit even if Python
opened another meanwhile); an object's own `open` when opened. A file the boundary refused is refused at the door too.

An audit event, not a call into the boundary: the doors stay below it (adapters.hostile.isolated imports
adapters.storage, never the reverse), and with no boundary watching, declaring costs a `sys.audit` call (well under a
microsecond).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.storage.atomic import undo_on_error
from schemas.storage import EVENT


def declare(where: str) -> None:
    """`where` opened now: raises the boundary's refusal when it was refused earlier in the same discovery."""
    sys.audit(EVENT, where, False)


@contextmanager
def declared(where: str) -> Iterator[None]:
    """`where` handed to a library: declared on entry, and again as the one that failed if the block raises."""
    declare(where)
    with undo_on_error(lambda: sys.audit(EVENT, where, True)):
        yield
