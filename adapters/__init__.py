"""Source adapters, one module per source format, registered by name; each imported when first named (`registry`)."""

from adapters.registry import adapter_names, get_adapter

__all__ = ["adapter_names", "get_adapter"]
