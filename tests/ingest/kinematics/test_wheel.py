"""The descriptions ship in the wheel: build one from the package folders it needs, unpack it elsewhere, and load
every description from there (importlib.resources, not the checkout)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(300)
def test_every_description_loads_from_a_built_wheel(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(REPO / "pyproject.toml", src)
    shutil.copy(REPO / "README.md", src)
    for package in ("schemas", "ingest"):
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("eidata-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(
        Path(n).stem for n in names if n.startswith("schemas/robots/descriptions/") and n.endswith(".urdf")
    )
    assert shipped == sorted(p.stem for p in (REPO / "schemas" / "robots" / "descriptions").glob("*.urdf"))
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import numpy as np, ingest.kinematics as k\n"
        f"assert k.robots_dir().is_relative_to({str(site)!r}), k.robots_dir()\n"
        "for p in sorted(k.robots_dir().glob('*.urdf')):\n"
        "    m = k.load_model(p.stem); m.forward(np.zeros((1, m.dof)), m.links)\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.stdout.strip() == "ok", run.stderr[-2000:]
