"""Adapters by name. Each adapter module registers its class with `@register`; the package's own adapters are imported
on first use by name (`BUILTIN`), so a job imports only the adapters its spec names (a no-op rerun of one source
does not pay for scipy, h5py and projectaria imports of the others).

An adapter that lives outside this package (a team's own source) is named by its import path, `package.module:Class`:
the module is imported where the name is resolved (the job's driver and every Ray worker), so nothing here changes.
"""

from __future__ import annotations

import importlib
from typing import Any

from adapters.base import AdapterOptions, SourceAdapter

_ADAPTERS: dict[str, type[SourceAdapter]] = {}

# name -> the module whose import registers it (tests/adapters/test_registry.py checks each module registers its name)
BUILTIN: dict[str, str] = {
    "agibot": "adapters.agibot.adapter",
    "ego4d": "adapters.ego4d.adapter",
    "egodex": "adapters.egodex.adapter",
    "ego_video": "adapters.egovideo.adapter",
    "epic_kitchens": "adapters.epic_kitchens.adapter",
    "hot3d": "adapters.hot3d.adapter",
    "lerobot": "adapters.lerobot.adapter",
    "oxe": "adapters.oxe.adapter",
    "robomind": "adapters.robomind.adapter",
}


def register(cls: type[SourceAdapter]) -> type[SourceAdapter]:
    name = cls.name
    if name in _ADAPTERS and _ADAPTERS[name] is not cls:
        raise ValueError(f"adapter name {name!r} is taken by {_ADAPTERS[name].__qualname__}")
    _ADAPTERS[name] = cls
    return cls


def adapter_names() -> list[str]:
    return sorted(set(_ADAPTERS) | set(BUILTIN))


def adapter_class(name: str) -> type[SourceAdapter]:
    """The class registered as `name`, or the `SourceAdapter` subclass at import path `package.module:Class`."""
    if name in _ADAPTERS:
        return _ADAPTERS[name]
    if name in BUILTIN:
        importlib.import_module(BUILTIN[name])  # registers it
        return _ADAPTERS[name]
    if ":" not in name:
        raise KeyError(f"unknown adapter {name!r}; known: {adapter_names()}")
    module, _, attr = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise KeyError(f"adapter {name!r}: cannot import it ({type(e).__name__}: {e})") from None
    if not (isinstance(cls, type) and issubclass(cls, SourceAdapter)):
        raise KeyError(f"adapter {name!r} is not a SourceAdapter subclass")
    return cls


def get_adapter(name: str, options: AdapterOptions | dict[str, Any] | None = None) -> SourceAdapter:
    return adapter_class(name)(options)
