"""The adapter registry: the package's adapters are imported on first use by name, each class carrying the name the
table gives it, and importing the package or a job spec loads none of them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adapters.registry import BUILTIN, adapter_class, adapter_names


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_each_builtin_class_carries_its_name(name: str) -> None:
    cls = adapter_class(name)
    assert cls.name == name and f"{cls.__module__}:{cls.__qualname__}" == BUILTIN[name]


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"unknown adapter 'nope'; known: agibot, agibot_genie, arctic"):
        adapter_class("nope")


def test_a_misspelt_name_is_refused_with_the_closest_one() -> None:
    with pytest.raises(KeyError, match=r"unknown adapter 'lerobbot'; did you mean 'lerobot'\?"):
        adapter_class("lerobbot")


def test_names_list_every_builtin_before_any_import() -> None:
    assert adapter_names() == sorted(BUILTIN)


def test_a_spec_import_loads_no_adapter_and_resolving_one_loads_only_it() -> None:
    code = (
        "import sys, jobs.spec\n"
        "from adapters.registry import BUILTIN, adapter_class\n"
        "modules = [path.partition(':')[0] for path in BUILTIN.values()]\n"
        "before = sorted(m for m in modules if m in sys.modules)\n"
        "adapter_class('egodex')\n"
        "after = sorted(m for m in modules if m in sys.modules)\n"
        "print(before, after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] ['adapters.egodex.adapter']"
