"""The file a door hands a library, declared to the per-file boundary (`adapters.isolated`, issue 58 item 2).

The boundary learns which file a parse failed in from the opens it sees: Python's audit event "open" covers every file
Python opens, but not one a C library opens itself from the path it is given (pyarrow a parquet file, HDF5 an `.h5`,
FFmpeg a video through PyAV), nor an object on a store (fsspec opens it through the network). The doors adapters hand
such files through declare them instead, with an audit event of their own (`EVENT`: the file's path, or its URL for
an object; whether the library failed inside): `location.readable` (every library's file, local or object: HDF5 by
`open_h5`, parquet, PyAV, tar) declares the file when it hands it over and again when the library's parse fails
inside, so the boundary takes that file for the culprit even if Python opened another meanwhile; an object's own
`open` (`UPath.read_text`, `read_bytes`, `open`: sidecars, meta files) declares it when opened, as Python's event
does a local file. A file the boundary has refused is refused at the door as at Python's open (`isolated.Unparsed`).

An audit event, not a call into the boundary: the doors stay below it (adapters.isolated imports adapters.storage,
never the reverse), and with no boundary watching, declaring costs a `sys.audit` call (well under a microsecond).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

EVENT = "eidata.open"  # args: (the file's path or URL, whether the library failed inside)


def declare(where: str) -> None:
    """`where` opened now: raises the boundary's refusal when it was refused earlier in the same discovery."""
    sys.audit(EVENT, where, False)


@contextmanager
def declared(where: str) -> Iterator[None]:
    """The block hands `where` to a library: declared on entry, and again, as the one that failed, when the block
    raises (the original error goes on unchanged)."""
    declare(where)
    try:
        yield
    except BaseException:
        sys.audit(EVENT, where, True)
        raise
