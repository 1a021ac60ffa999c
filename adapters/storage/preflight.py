"""An output's check before any work: the bucket and the credential (`adapters.storage.urls.preflight`), then that the
store writes and honours the conditional create the commit protocol stands on (a store that ignored `If-None-Match`
would let two writers commit the same sequence number, silently)."""

from __future__ import annotations

import contextlib
import uuid

from adapters.storage.objects import put_if_absent
from adapters.storage.urls import StorageError, endpoint_of, filesystem, preflight
from schemas.storage import StorageOptions, is_remote


def preflight_output(url: str, options: StorageOptions | None = None) -> None:
    """Raise StorageError naming the URL and the first cause when `url` cannot take the commit protocol."""
    preflight(url, options, write=True)
    if not is_remote(url):
        return
    fs, path = filesystem(url, options)
    probe = f"{path}/.eidata/preflight/{uuid.uuid4().hex}"
    where = f"{url} (endpoint {endpoint_of(options)})"
    try:
        first = put_if_absent(fs, probe, b"probe")
        second = put_if_absent(fs, probe, b"probe again")
    except PermissionError as e:
        raise StorageError(f"{where}: the credential may not write ({e})") from None
    except OSError as e:
        raise StorageError(f"{where}: a test write failed ({e})") from None
    finally:
        with contextlib.suppress(OSError):  # a probe never written is no garbage
            fs.rm_file(probe)
    if not (first and not second):
        raise StorageError(
            f"{where}: the store does not honour conditional writes (If-None-Match), which exactly-once commits need"
        )
