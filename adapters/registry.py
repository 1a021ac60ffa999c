"""Adapters by name. `BUILTIN` is the one place a source of this package is registered (`"name": "module:Class"`),
imported when its name is first resolved: a job imports only the adapters its spec names (a no-op rerun of one source
does not pay for scipy, h5py and projectaria imports of the others). An adapter outside this package is named by its
import path, `package.module:Class`, and needs no line here (adapters/README.md, "Adding a source")."""

from __future__ import annotations

import importlib
from typing import Any

from adapters.base import AdapterOptions
from adapters.source_adapter import SourceAdapter
from schemas.spelling import unknown
from schemas.storage import StorageOptions

# name -> import path of its class (tests/adapters/test_registry.py checks each class carries its name)
BUILTIN: dict[str, str] = {
    "agibot": "adapters.agibot.adapter:AgibotAdapter",
    "agibot_genie": "adapters.agibot_genie.adapter:GenieAdapter",
    "arctic": "adapters.arctic.adapter:ArcticAdapter",
    "aria_mps": "adapters.aria_mps.adapter:AriaMpsAdapter",
    "arrays": "adapters.arrays.adapter:ArraysAdapter",
    "ego4d": "adapters.ego4d.adapter:Ego4DAdapter",
    "ego4d_goalstep": "adapters.ego4d_goalstep.adapter:GoalStepAdapter",
    "egodex": "adapters.egodex.adapter:EgoDexAdapter",
    "egoexo4d_egopose": "adapters.egoexo4d_egopose.adapter:EgoExo4DEgoPoseAdapter",
    "ego_video": "adapters.egovideo.adapter:EgoVideoAdapter",
    "epic_kitchens": "adapters.epic_kitchens.adapter:EpicKitchensAdapter",
    "hoi4d": "adapters.hoi4d.adapter:HOI4DAdapter",
    "holoassist": "adapters.holoassist.adapter:HoloAssistAdapter",
    "hot3d": "adapters.hot3d.adapter:Hot3DAdapter",
    "humanoid_everyday": "adapters.humanoid_everyday.adapter:HumanoidEverydayAdapter",
    "lerobot": "adapters.lerobot.adapter:LeRobotSource",
    "oakink2": "adapters.oakink2.adapter:OakInk2Adapter",
    "oxe": "adapters.oxe.adapter:OXEAdapter",
    "robomind": "adapters.robomind.adapter:RoboMINDAdapter",
    "rosbag": "adapters.rosbag.adapter:RosbagAdapter",
    "table_log": "adapters.table_log.adapter:TableLogAdapter",
    "taco": "adapters.taco.adapter:TacoAdapter",
    "vitra": "adapters.vitra.adapter:VitraAdapter",
    "zarr": "adapters.arrays.adapter:ZarrAdapter",
}


def adapter_names() -> list[str]:
    return sorted(BUILTIN)


def adapter_class(name: str) -> type[SourceAdapter]:
    """The class of built-in source `name`, or the `SourceAdapter` subclass at import path `package.module:Class`."""
    path = BUILTIN.get(name, name)
    if ":" not in path:
        raise KeyError(unknown("adapter", name, BUILTIN) + " (or an import path package.module:Class)")
    module, _, attr = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise KeyError(f"adapter {name!r}: cannot import it ({type(e).__name__}: {e})") from None
    if not (isinstance(cls, type) and issubclass(cls, SourceAdapter)):
        raise KeyError(f"adapter {name!r} is not a SourceAdapter subclass")
    return cls


def get_adapter(
    name: str, options: AdapterOptions | dict[str, Any] | None = None, storage: StorageOptions | None = None
) -> SourceAdapter:
    """The adapter `name` with its options, reading URLs with `storage` (None: the environment's credential)."""
    return adapter_class(name)(options, storage)
