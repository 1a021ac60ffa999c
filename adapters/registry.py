"""Adapters by name. Each adapter module registers its class with `@register`; `adapters/__init__.py` imports them."""

from __future__ import annotations

from typing import Any

from adapters.base import AdapterOptions, SourceAdapter

_ADAPTERS: dict[str, type[SourceAdapter]] = {}


def register(cls: type[SourceAdapter]) -> type[SourceAdapter]:
    name = cls.name
    if name in _ADAPTERS and _ADAPTERS[name] is not cls:
        raise ValueError(f"adapter name {name!r} is taken by {_ADAPTERS[name].__qualname__}")
    _ADAPTERS[name] = cls
    return cls


def adapter_names() -> list[str]:
    return sorted(_ADAPTERS)


def get_adapter(name: str, options: AdapterOptions | dict[str, Any] | None = None) -> SourceAdapter:
    try:
        cls = _ADAPTERS[name]
    except KeyError:
        raise KeyError(f"unknown adapter {name!r}; known: {adapter_names()}") from None
    return cls(options)
