"""The Python packages a lent GPU machine lacks, packed here so that they travel with the working tree.

A device machine reaches no package index; its image holds PyTorch and most of the scientific stack but not what
eidata adds (`/work/.library/device/KINDS.md`, "Python packages already there", read 2026-11-17: no pydantic, PyAV,
Ray, DuckDB or universal_pathlib). A call carries at most 64 MiB, the tracked tree included, and Ray's wheel alone is
79 MB, so the packages travel as two bundles, one per device call, each a tar.xz of wheel contents:

- `ray`: Ray (its Java jar, RLlib, Serve, LLM and the dashboard's source maps left out; native binaries stripped of
  symbols: 79 MB -> about 20 MB) and its needs; with pydantic, enough for the training-step benchmarks.
- `media`: PyAV, DuckDB, universal_pathlib, diffusers, crc32c, tfrecord, lz4 (`adapters.hostile.bounds`) and
  pydantic: the latents benchmarks' decode and catalog, and what the CUDA tests' fixtures import.

Unpacked in the same warm machine, the two make the whole `eidata latents` path importable. Versions are the ones
installed in this venv, so the device runs what the suite tested. Wheels are CPython 3.12 (the image's Python is
3.12.3) for manylinux x86-64.

    .venv/bin/python -m benchmarks._device_wheels pack            # here: writes .gpu/ray and .gpu/media
    python3 -m benchmarks._device_wheels unpack .gpu/ray          # there: into .gpu/site (stdlib only)

`unpack` prints the `PYTHONPATH` to export. BENCHMARKS.md ("GPU runs") gives the device calls.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KIT = Path(".gpu")  # ignored by git (.gitignore), named in the device call's `carry`
SITE = KIT / "site"
CARRY_LIMIT = 64 * 2**20  # the device tool's limit on what travels: tracked tree + carried paths
MARGIN = 2 * 2**20  # untracked files, git metadata rounding
PYDANTIC = ("pydantic", "pydantic-core", "annotated-types", "typing-inspection")
BUNDLES: dict[str, tuple[str, ...]] = {
    # ray 2.60's own requirements the image lacks (jsonschema and its three); the rest (msgpack, protobuf, aiohttp,
    # click, filelock, requests, pyyaml, packaging) the image has
    "ray": ("ray", "jsonschema", "jsonschema-specifications", "referencing", "rpds-py", *PYDANTIC),
    # crc32c and tfrecord: the OXE adapter, which tests/jobs/conftest.py's demo corpus loads; diffusers: the Wan VAE
    # test (pure Python; its needs are in the image)
    "media": ("av", "duckdb", "universal-pathlib", "pathlib-abc", "crc32c", "tfrecord", "diffusers", "lz4", *PYDANTIC),
}
SDIST_ONLY = {"tfrecord"}  # 1.14.6 has no wheel on the index (1.14.2-1.14.4 do); pure Python, so built here
# what no benchmark or test run on the device imports: 44 MB of Ray's 114 MB unpacked
PRUNE = (
    "ray/jars",
    "ray/rllib",
    "ray/serve",
    "ray/llm",
    "ray/tests",
    "ray/dashboard/client/build/static/js/*.map",
)
PLATFORMS = (
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_31_x86_64",
    "manylinux_2_34_x86_64",
    "manylinux_2_35_x86_64",
)


class KitError(RuntimeError):
    """A bundle cannot be made or does not fit what a device call carries."""


def installed_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError as e:
        raise KitError(f"{dist} is not installed in this venv ({sys.prefix}): run `make venv` first") from e


def tracked_bytes(repo: Path = REPO) -> int:
    """Bytes of the tracked tree, which travels with every call."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True).stdout.split(b"\0")
    return sum((repo / os.fsdecode(n)).stat().st_size for n in names if n and (repo / os.fsdecode(n)).is_file())


def _pip(args: list[str], what: str) -> None:
    env = {**os.environ, "PIP_CONSTRAINT": ""}  # the machine's constraint pins torch for 3.11; no torch here
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env)
    if proc.returncode:
        err = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("WARNING: Location"))
        raise KitError(f"pip {args[0]} {what} failed:\n{err[-2000:]}")


def download(dists: tuple[str, ...], dest: Path) -> list[Path]:
    """CPython 3.12 manylinux wheels of `dists` at this venv's versions (no dependencies: each is named); a pure
    Python package published only as an sdist (SDIST_ONLY) is built into a wheel here."""
    pins = [f"{d}=={installed_version(d)}" for d in dists if d not in SDIST_ONLY]
    cmd = ["download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    cmd += ["--python-version", "3.12", "--implementation", "cp", *(f"--platform={p}" for p in PLATFORMS), *pins]
    _pip(cmd, " ".join(pins))
    for d in (d for d in dists if d in SDIST_ONLY):
        pin = f"{d}=={installed_version(d)}"
        _pip(["wheel", "-q", "--no-deps", "-w", str(dest), pin], pin)
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != len(dists):
        raise KitError(f"expected {len(dists)} wheels for {pins}, pip saved {[w.name for w in wheels]}")
    return wheels


def prune(site: Path) -> int:
    """Drop PRUNE's paths and strip native code of symbols; the bytes saved."""
    before = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    for pattern in PRUNE:
        for path in site.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    strip = shutil.which("strip")
    if strip:
        for f in site.rglob("*"):
            if f.is_file() and not f.is_symlink() and f.read_bytes()[:4] == b"\x7fELF":
                subprocess.run([strip, "--strip-unneeded", str(f)], capture_output=True, check=False)
    return before - sum(f.stat().st_size for f in site.rglob("*") if f.is_file())


def pack(name: str, out: Path) -> dict[str, object]:
    """Download, unpack, prune and re-pack one bundle as `out/<name>/site.tar.xz` beside its manifest."""
    dists = BUNDLES[name]
    with tempfile.TemporaryDirectory(prefix=f"gpu-{name}-") as tmp_s:
        tmp = Path(tmp_s)
        site = tmp / "site"
        for wheel in download(dists, tmp / "wheels"):
            with zipfile.ZipFile(wheel) as z:
                for info in z.infolist():
                    path = Path(z.extract(info, site))
                    mode = info.external_attr >> 16  # executables (Ray's raylet, gcs_server) keep their x bit
                    if mode:
                        path.chmod(mode & 0o777)
        saved = prune(site)
        target = out / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        with tarfile.open(target / "site.tar.xz", "w:xz", preset=9) as tar:
            for child in sorted(site.iterdir()):
                tar.add(child, arcname=child.name)
    manifest = {
        "bundle": name,
        "python": "cp312",
        "dists": {d: installed_version(d) for d in dists},
        "bytes": (target / "site.tar.xz").stat().st_size,
        "pruned_bytes": saved,
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def unpack(bundle: Path, site: Path = SITE) -> Path:
    """Extract a bundle into `site` (stdlib only: this runs on the device before anything else is importable)."""
    archive = bundle / "site.tar.xz"
    if not archive.is_file():
        raise KitError(f"{archive} missing: name {bundle} in the device call's carry (and pack it here first)")
    site.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:xz") as tar:
        tar.extractall(site, filter="tar")
    return site


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pk = sub.add_parser("pack", help="here: download and pack the bundles into .gpu/")
    pk.add_argument("bundles", nargs="*", default=list(BUNDLES), help=f"of {', '.join(BUNDLES)} (default: all)")
    un = sub.add_parser("unpack", help="there: extract carried bundles into .gpu/site")
    un.add_argument("paths", nargs="+", type=Path)
    args = p.parse_args()
    if args.cmd == "unpack":
        for path in args.paths:
            site = unpack(path)
            print(f"unpacked {path} into {site}", file=sys.stderr)
        print(f"export PYTHONPATH={site.resolve()}:{Path.cwd()}")
        return 0
    unknown = sorted(set(args.bundles) - set(BUNDLES))
    if unknown:
        p.error(f"no bundle {unknown}: choose from {list(BUNDLES)}")
    try:
        return _pack_all(args.bundles)
    except KitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _pack_all(names: list[str]) -> int:
    tree = tracked_bytes()
    for name in names:
        m = pack(name, REPO / KIT)
        room = CARRY_LIMIT - MARGIN - tree
        size = int(m["bytes"])  # type: ignore[call-overload]
        print(f"{name}: {size / 2**20:.1f} MiB ({', '.join(m['dists'])}); room beside the tree: {room / 2**20:.1f} MiB")  # type: ignore[arg-type]
        if size > room:
            raise KitError(f"bundle {name} is {size / 2**20:.1f} MiB; a device call has {room / 2**20:.1f} MiB left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
