"""The knobs of every command, one validated model (issue 88 item 4): given as a TOML file (`eidata CMD --settings
FILE`), refused before work starts with the field named (an unknown key, a bad value). The command passes the
validated settings to the processes it starts (its Ray workers, its children) in `ENV`, as JSON; `current()` is what
this process runs with. A variable `EIDATA_<FIELD>` that used to set a field is refused by `load`, naming the field.
"""

from __future__ import annotations

import functools
import os
import tomllib

from pydantic import Field, ValidationError

from schemas.frozen import Frozen

ENV = "EIDATA_SETTINGS"  # the validated settings, as JSON, on their way to the processes a command starts
VOICE_ENV = "EIDATA_STORE_VOICE"  # a file the store's lines are appended to as well (a Ray worker's way to the driver)


class Settings(Frozen):
    """Every field a knob, its default and its doc; the bounds (max_*) are those of `adapters.hostile.bounds`."""

    max_json_bytes: int = Field(1 << 30, gt=0, description="a whole-file JSON document (json takes several times it)")
    max_sidecar_bytes: int = Field(16 << 20, gt=0, description="a per-clip sidecar (json/txt)")
    max_rows: int = Field(4_000_000, gt=0, description="per-frame rows no other count checks (10 h at 30 Hz: 1.08e6)")
    max_columns: int = Field(4096, gt=0, description="columns of one data table (LeRobot: one per feature)")
    store_progress_s: float = Field(15.0, ge=0, description="seconds between two 'still waiting' lines (0: none)")
    store_deadline_s: float = Field(120.0, ge=0, description="seconds a request to the store may wait (0: no limit)")
    lease_ttl_s: float = Field(300.0, gt=0, description="seconds until a killed job's bucket output is free again")
    scratch: str = Field("~/.cache/eidata/scratch", description="a bucket output's local scratch (shared on a cluster)")
    cache_bytes: int = Field(16 << 30, gt=0, description="local copies of objects a library opens by path (LRU)")


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
