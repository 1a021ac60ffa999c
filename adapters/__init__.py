"""Source adapters: one module per source format, registered by name (see `adapters.registry`).

Importing the package imports no adapter: an adapter's module is imported when its name is first resolved
(`adapters.registry.BUILTIN`), so a job loads only the sources its spec names.
"""

from adapters.registry import adapter_names, get_adapter

__all__ = ["adapter_names", "get_adapter"]
