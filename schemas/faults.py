"""Whose fault is an error: the environment's (a full disk, an I/O error, a store that does not answer, a killed worker)
or the data's (everything else). The first kind passes or can be fixed by the operator, and must never cost an episode;
the second is the episode's own and quarantines it (issue 38).

`environment_fault(e)` walks the chain (`__cause__`, `__context__`, Ray's `RayTaskError.cause`: an adapter that wraps
an `OSError` keeps it there) for an `OSError` of `ENVIRONMENT_ERRNOS`, a `ConnectionError` or `TimeoutError` (an
unreachable S3 endpoint ends in `ConnectionRefusedError` under botocore's `EndpointConnectionError`), or a class of
`ENVIRONMENT_CLASSES` along the MRO; `faults.toml` lists them with why each is the environment's. Where only an
error's text is left (a discovery flag, an older run's quarantine row), `ENVIRONMENT_TEXT` finds the same causes by
what they print.
"""

from __future__ import annotations

import errno
import logging
import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from schemas.settings import VOICE_ENV

log = logging.getLogger(__name__)


class _Causes(BaseModel):
    """`faults.toml`: errno names, class names, and what else an error's text may name."""

    model_config = ConfigDict(extra="forbid")

    errnos: list[str]
    classes: list[str]
    text_classes: list[str]
    text_messages: list[str]


_CAUSES = _Causes.model_validate(tomllib.loads(Path(__file__).with_name("faults.toml").read_text(encoding="utf-8")))
ENVIRONMENT_ERRNOS = frozenset(getattr(errno, name) for name in _CAUSES.errnos if hasattr(errno, name))
ENVIRONMENT_CLASSES = frozenset(_CAUSES.classes)
_TEXT_CLASSES = ENVIRONMENT_CLASSES | set(_CAUSES.text_classes)
ENVIRONMENT_TEXT = "|".join(
    [
        r"\[Errno (?:" + "|".join(str(n) for n in sorted(ENVIRONMENT_ERRNOS)) + r")\]",
        r"\b(?:" + "|".join(sorted(_TEXT_CLASSES)) + r")\b",
        *_CAUSES.text_messages,
    ]
)

_MAX_CHAIN = 32  # causes followed at most (a chain is short; this only guards against a cycle)


def environment_fault(e: BaseException) -> str | None:
    """The first cause of the environment's kind in `e`'s chain, as `Class: message`; None: the data's."""
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


def reraise_environment(e: BaseException) -> None:
    """Raise `e` again when its cause is the environment's (`environment_fault`); called first in a command's own
    `except` that reports bad input or a file it cannot write, so a full disk is never said as bad input with exit 1:
    it reaches `jobs.cli.main`, which ends every command on the environment's faults with one line and exit 75
    (reliability review 6: curate and caption on a full disk exited 1)."""
    if environment_fault(e) is not None:
        raise e


def say(line: str, logger: logging.Logger = log) -> None:
    """A warning line about the environment (a store that waits, a retry): logged (on `logger`), and appended to
    `EIDATA_STORE_VOICE` when set, whence a Ray worker's line reaches the driver (`jobs.runtime.voice`)."""
    logger.warning("%s", line)
    voice = os.environ.get(VOICE_ENV)
    if voice:
        try:
            with open(voice, "a", encoding="utf-8") as f:
                f.write(f"{line} (pid {os.getpid()})\n")
        except OSError:
            pass  # the voice is a courtesy; the wait and the deadline do not depend on it
