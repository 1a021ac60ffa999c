"""Source adapters: one module per source format, registered by name (see `adapters.registry`).

Importing the package registers every adapter below.
"""

from adapters import agibot, ego4d, egodex, egovideo, epic_kitchens, hot3d  # noqa: F401 - registration on import
from adapters import robomind as _robomind  # noqa: F401 - registration on import
from adapters.lerobot import source as _lerobot_source  # noqa: F401 - registration on import
from adapters.oxe import adapter as _oxe_adapter  # noqa: F401 - registration on import
from adapters.registry import adapter_names, get_adapter, register

__all__ = ["adapter_names", "get_adapter", "register"]
