"""Source adapters: one module per source format, registered by name (see `adapters.registry`)."""

from adapters.registry import adapter_names, get_adapter, register

__all__ = ["adapter_names", "get_adapter", "register"]
