"""The device bundles: what `unpack` extracts is importable with modes kept, a missing bundle names the carry to add,
pruning drops what no device run imports, and the tracked tree leaves room for each bundle in one call."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from benchmarks import _device_wheels as kit

REPO = Path(__file__).resolve().parents[2]


def _bundle(path: Path, files: dict[str, tuple[bytes, int]]) -> Path:
    path.mkdir(parents=True)
    with tarfile.open(path / "site.tar.xz", "w:xz") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return path


def test_unpack_makes_a_package_importable_and_keeps_the_executable_bit(tmp_path: Path) -> None:
    bundle = _bundle(
        tmp_path / "b",
        {
            "kitpkg/__init__.py": (b"VALUE = 42\n", 0o644),
            "kitpkg/bin/server": (b"#!/bin/sh\necho up\n", 0o755),  # Ray's raylet and gcs_server are such files
        },
    )
    site = kit.unpack(bundle, tmp_path / "site")
    assert (site / "kitpkg/bin/server").stat().st_mode & 0o111
    out = subprocess.run(
        [sys.executable, "-c", "import kitpkg; print(kitpkg.VALUE)"],
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "42"


def test_a_bundle_that_did_not_travel_names_the_carry(tmp_path: Path) -> None:
    with pytest.raises(kit.KitError, match=r"name .*ray in the device call's carry"):
        kit.unpack(tmp_path / ".gpu/ray", tmp_path / "site")


def test_unpack_refuses_a_path_outside_the_site(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "evil", {"../outside.py": (b"x = 1\n", 0o644)})
    with pytest.raises(tarfile.OutsideDestinationError):
        kit.unpack(bundle, tmp_path / "site")
    assert not (tmp_path / "outside.py").exists()


def test_prune_drops_the_java_jar_and_source_maps_only(tmp_path: Path) -> None:
    site = tmp_path / "site"
    keep = ["ray/_raylet.py", "ray/data/dataset.py", "ray/dashboard/client/build/static/js/main.js"]
    drop = ["ray/jars/ray_dist.jar", "ray/rllib/algo.py", "ray/dashboard/client/build/static/js/main.js.map"]
    for name in keep + drop:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(b"x" * 100)
    assert kit.prune(site) == 300
    assert all((site / n).exists() for n in keep) and not any((site / n).exists() for n in drop)


def test_each_packed_bundle_fits_a_call_beside_the_tree() -> None:
    """The tree grows with every commit: when a packed bundle (make it with `pack`) no longer fits beside it, this
    says so before a device call is refused."""
    room = kit.CARRY_LIMIT - kit.MARGIN - kit.tracked_bytes(REPO)
    assert room > 30 * 2**20, f"the tracked tree leaves only {room / 2**20:.1f} MiB of a device call's 64 MiB"
    for manifest in sorted((REPO / kit.KIT).glob("*/manifest.json")):
        size = json.loads(manifest.read_text())["bytes"]
        assert size <= room, f"{manifest.parent.name} is {size / 2**20:.1f} MiB, {room / 2**20:.1f} MiB left"


def test_every_bundle_carries_pydantic_so_either_call_alone_imports_the_config_models() -> None:
    assert all(set(kit.PYDANTIC) <= set(dists) for dists in kit.BUNDLES.values())
