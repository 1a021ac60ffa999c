"""Source adapters: one module per source format, registered by name (see `adapters.registry`).

Importing the package registers nothing: an adapter's module is imported when its name is first resolved
(`adapters.registry.BUILTIN`), so a job loads only the sources its spec names.
"""

from adapters.registry import adapter_names, get_adapter, register

__all__ = ["adapter_names", "get_adapter", "register"]
