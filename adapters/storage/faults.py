"""Whose fault is an error: the environment's (a full disk, an I/O error, a store that does not answer, a killed worker)
or the data's (everything else). The first kind passes or can be fixed by the operator, and must never cost an episode;
the second is the episode's own and quarantines it (issue 38).

`environment_fault(e)` walks the exception and what it was raised from or while handling (`__cause__`, `__context__`:
an adapter that wraps an `OSError` in its own error keeps it there; Ray's `RayTaskError.cause`) and names the first
cause of the environment kind, or answers None. The kinds, checked on real errors
(tests/adapters/storage/test_faults.py):

- an `OSError` whose errno is one of `ENVIRONMENT_ERRNOS`: what the kernel says of the disk, the memory, the network
  or the permissions. pyarrow (`[Errno 28] Error writing bytes to file`), PyAV (`av.error.OSError` errno 28) and plain
  writes on a full tmpfs all carry errno 28; a corrupt file never carries one of these (PyAV: `InvalidDataError`,
  h5py: `OSError` with errno None, pyarrow: `ArrowInvalid`);
- Python's `ConnectionError` and `TimeoutError` (an unreachable S3 endpoint ends in `ConnectionRefusedError` under
  botocore's `EndpointConnectionError` and aiohttp's `ClientConnectorError`);
- the clients' own classes for a store that does not answer, and Ray's for a worker, an actor or a node that died,
  named in `ENVIRONMENT_CLASSES` and matched by class name along the MRO, so nothing here imports botocore, aiohttp
  or Ray.

Where only an error's text is left (a discovery flag an adapter wrote, a quarantine row of an older run),
`ENVIRONMENT_TEXT` (a regular expression) finds the same causes by what they print: `[Errno 28]`, a class name,
botocore's "Could not connect to the endpoint URL".
"""

from __future__ import annotations

import errno

ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ENOSPC",  # no space left on device
        "EDQUOT",  # disk quota exceeded
        "EIO",  # input/output error (a failing disk, s3fs's unknown store error)
        "EREMOTEIO",  # remote I/O error (s3fs: the store's InternalError)
        "EROFS",  # read-only file system
        "EACCES",  # permission denied: the operator's to fix, not the episode's
        "EPERM",
        "ENOMEM",
        "EMFILE",  # too many open files (the process)
        "ENFILE",  # too many open files (the system)
        "EAGAIN",
        "EBUSY",
        "ESTALE",  # stale NFS file handle
        "ETIMEDOUT",
        "ECONNREFUSED",
        "ECONNRESET",
        "ECONNABORTED",
        "EPIPE",
        "EHOSTUNREACH",
        "EHOSTDOWN",
        "ENETUNREACH",
        "ENETDOWN",
        "ENETRESET",
        "ENOLINK",
    )
    if hasattr(errno, name)
)

ENVIRONMENT_CLASSES = frozenset(
    {
        # botocore (exceptions.py): its ConnectionError is the base of EndpointConnectionError, ConnectTimeoutError,
        # ProxyConnectionError and SSLError; HTTPClientError of ReadTimeoutError and ConnectionClosedError
        "ConnectionError",
        "HTTPClientError",
        # aiohttp (gcsfs, aiobotocore): ClientConnectionError is the base of ClientConnectorError, ClientOSError,
        # ServerDisconnectedError and ServerTimeoutError; ClientPayloadError is a body cut short
        "ClientConnectionError",
        "ClientPayloadError",
        # fsspec's timeout of an async call, urllib3's cut-short body
        "FSTimeoutError",
        "IncompleteRead",
        # Ray (ray/exceptions.py): a worker, an actor, a node or an object lost with them
        "WorkerCrashedError",
        "ActorDiedError",
        "ActorUnavailableError",
        "NodeDiedError",
        "LocalRayletDiedError",
        "ObjectLostError",
        "OutOfMemoryError",  # Ray's memory monitor killed the task (Python's own is MemoryError)
        "RaySystemError",
    }
)

# the same causes as text: an errno as Python prints it, a class name, botocore's messages (botocore/exceptions.py)
_TEXT_CLASSES = ENVIRONMENT_CLASSES | {
    "TimeoutError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "ConnectionAbortedError",
    "BrokenPipeError",
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ClientConnectorError",
}
ENVIRONMENT_TEXT = "|".join(
    [
        r"\[Errno (?:" + "|".join(str(n) for n in sorted(ENVIRONMENT_ERRNOS)) + r")\]",
        r"\b(?:" + "|".join(sorted(_TEXT_CLASSES)) + r")\b",
        "Could not connect to the endpoint URL",
        "Connect timeout on endpoint URL",
        "Read timeout on endpoint URL",
        "Connection was closed before we received a valid response",
    ]
)

_MAX_CHAIN = 32  # causes followed at most (a chain is short; this only guards against a cycle)


def environment_fault(e: BaseException) -> str | None:
    """The first cause of the environment's kind in `e`'s chain, as `Class: message`; None when the error is the
    data's."""
    seen: set[int] = set()
    cause: BaseException | None = e
    while cause is not None and id(cause) not in seen and len(seen) < _MAX_CHAIN:
        seen.add(id(cause))
        if _is_environment(cause):
            return describe(cause)
        ray_cause = getattr(cause, "cause", None)  # Ray's RayTaskError keeps the task's own error there
        cause = cause.__cause__ or (ray_cause if isinstance(ray_cause, BaseException) else None) or cause.__context__
    return None


def _is_environment(e: BaseException) -> bool:
    if isinstance(e, ConnectionError | TimeoutError):
        return True
    if isinstance(e, OSError) and e.errno in ENVIRONMENT_ERRNOS:
        return True
    return any(c.__name__ in ENVIRONMENT_CLASSES for c in type(e).__mro__)


def describe(e: BaseException) -> str:
    """`Class: message`, on one line and cut at 500 characters (a Ray error carries a whole traceback)."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:500]}" if text else type(e).__name__
