"""The knobs of every command, one validated model (issue 88 item 4): given as a TOML file (`eidata CMD --settings
FILE`), refused before work starts with the field named (an unknown key, a bad value). The command passes the
validated settings to the processes it starts (its Ray workers, its children) in `ENV`, as JSON; `current()` is what
this process runs with. A variable `EIDATA_<FIELD>` that used to set a field is refused by `load`, naming the field.

The bounds (max_*) are checked where a file is read (`adapters.hostile.bounds`, `adapters.lerobot_format.files`) through
one bound and one refusal, `limit` and `TooLarge`, and every whole file through one read, `read_within`.
"""

from __future__ import annotations

import functools
import os
import tomllib
from typing import IO

from pydantic import Field, ValidationError

from schemas.frozen import Frozen

ENV = "EIDATA_SETTINGS"  # the validated settings, as JSON, on their way to the processes a command starts
VOICE_ENV = "EIDATA_STORE_VOICE"  # a file the store's lines are appended to as well (a Ray worker's way to the driver)


class Settings(Frozen):
    """Every field a knob, its default and its doc; the bounds (max_*): `limit`."""

    max_json_bytes: int = Field(1 << 30, gt=0, description="a whole-file JSON document (json takes several times it)")
    max_sidecar_bytes: int = Field(16 << 20, gt=0, description="a per-clip sidecar (json/txt)")
    max_rows: int = Field(4_000_000, gt=0, description="per-frame rows no other count checks (10 h at 30 Hz: 1.08e6)")
    max_columns: int = Field(4096, gt=0, description="columns of one data table (LeRobot: one per feature)")
    store_progress_s: float = Field(15.0, ge=0, description="seconds between two 'still waiting' lines (0: none)")
    store_deadline_s: float = Field(120.0, ge=0, description="seconds a request to the store may wait (0: no limit)")
    lease_ttl_s: float = Field(300.0, gt=0, description="seconds until a killed job's bucket output is free again")
    scratch: str = Field("~/.cache/eidata/scratch", description="a bucket output's local scratch (shared on a cluster)")
    cache_bytes: int = Field(16 << 30, gt=0, description="local copies of objects a library opens by path (LRU)")


class Limit(int):
    """A configured bound: its value, and the setting that gives it (`max_rows`), which a refusal names."""

    setting: str

    def __new__(cls, value: int, setting: str) -> Limit:
        out = super().__new__(cls, value)
        out.setting = setting
        return out

    def __getnewargs__(self) -> tuple[int, str]:  # type: ignore[override]  # pickled whole (a Ray worker's error)
        return int(self), self.setting


class TooLarge(ValueError):
    """A size a file declares past what its real size or a configured limit allows; nothing was allocated."""

    def __init__(self, what: str, declared: float, bound: float, why: str, seen: str = "declared") -> None:
        self.what, self.declared, self.bound = what, declared, bound
        named = f", the setting {bound.setting} (--settings FILE)" if isinstance(bound, Limit) else ""
        super().__init__(f"{what}: {_num(declared)} {seen}, more than {why} ({_num(bound)}){named}; not read")


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e18 else f"{x:.6g}"


def limit(name: str) -> Limit:
    """The configured bound `name` (JSON_BYTES, SIDECAR_BYTES, ROWS, COLUMNS): the setting `max_<name>`."""
    setting = f"max_{name.lower()}"
    return Limit(getattr(current(), setting), setting)


def check(what: str, declared: float, bound: float, why: str) -> None:
    """TooLarge unless `declared` <= `bound`."""
    if not declared <= bound:  # NaN fails too
        raise TooLarge(what, declared, bound, why)


def read_within(f: IO[bytes], size: int, bound: int, what: str) -> bytes:
    """The whole of the open file `f` whose size is `size`, TooLarge when that or what it holds once read passes
    `bound` (the read stops at `bound` + 1 should it grow)."""
    check(f"{what} size in bytes", size, bound, "the limit")
    # sized by the file, not the bound: `read(n)` reserves n bytes at once, which the parse process's limit counts
    # (`RLIMIT_AS`: adapters.hostile.limits); what the file grew by meanwhile comes a MiB at a time
    data = f.read(size + 1)
    while len(data) <= bound and (more := f.read(min(1 << 20, bound + 1 - len(data)))):
        data += more
    check(f"{what} size in bytes", len(data), bound, "the limit")
    return data


def _invalid(where: str, e: ValidationError) -> ValueError:
    said = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']} (got {x['input']!r})" for x in e.errors())
    return ValueError(f"{where}: {said}")


@functools.cache
def _parsed(text: str) -> Settings:
    try:
        return Settings.model_validate_json(text or "{}")
    except ValidationError as e:
        raise _invalid(ENV, e) from None


def current() -> Settings:
    """The settings this process runs with: those its command passed on (`ENV`), else the defaults."""
    return _parsed(os.environ.get(ENV, ""))


def load(text: str | None, where: str = "") -> Settings:
    """The settings of the TOML `text` (the file `where`, read by `jobs.cli`; None: `current()`), refused naming the
    field; also refused: a variable `EIDATA_<FIELD>` of the environment (such fields are settings now)."""
    if old := [f"EIDATA_{n.upper()} (now {n})" for n in Settings.model_fields if f"EIDATA_{n.upper()}" in os.environ]:
        raise ValueError(f"{', '.join(old)}: no longer read; give the setting in a file (--settings FILE)")
    if text is None:
        return current()
    try:
        return Settings.model_validate(tomllib.loads(text))
    except ValidationError as e:
        raise _invalid(where, e) from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{where}: {e}") from None


def use(settings: Settings) -> None:
    """`settings` for this process and every process it starts from now on."""
    os.environ[ENV] = settings.model_dump_json(exclude_defaults=True)
