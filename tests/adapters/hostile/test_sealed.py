"""What a store opens on its own stays inside it (issue 58 item 3): each way out of a store is built here, shown to
leak the outside file's bytes when the store is opened without the check (so the fixture is a real escape), then
refused by `open_store` / `open_h5` naming the reference, with a good store beside it read. The instances of
reliability-6.md (N28 a symlinked chunk, N30 external raw storage, N31 a virtual dataset) and others no report named
(a symlinked folder two levels down, a symlinked `.zarray`, an external link to a group, a virtual source in another
file under the root)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from adapters.arrays.adapter import ArraysAdapter
from adapters.arrays.stores import open_store
from adapters.hostile.h5 import open_h5
from adapters.hostile.sealed import sealed_folder
from adapters.storage.location import locate
from adapters.synthetic.arrays import write_robomimic
from schemas.containment import ReachesOutside
from tests.fixtures.writers.arrays import write_umi

SECRET = (b"SECRET-KEY=hunter2;" * 16)[:300]


def _secret(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir(exist_ok=True)
    (out / "secret.bin").write_bytes(SECRET)
    return out / "secret.bin"


def _leaks(arrays: list[np.ndarray]) -> bool:
    return any(SECRET[:19] in np.ascontiguousarray(a).tobytes() for a in arrays)


def _zarr(folder: Path, name: str = "data/secret") -> Path:
    g = zarr.open_group(folder, mode="w", zarr_format=2)
    g.create_array(name, data=np.ones((50, 6), np.uint8), chunks=(50, 6), compressors=None)
    return folder


def _read_zarr(folder: Path, key: str, check: bool = True) -> np.ndarray:
    if not check:  # what zarr does alone
        return zarr.open_group(zarr.storage.LocalStore(folder, read_only=True), mode="r")[key][:]
    with open_store(locate(folder), "zarr") as store:
        return store.read(key)


def _zarr_chunk(root: Path, secret: Path) -> tuple[Path, str, str]:  # N28
    store = _zarr(root / "replay.zarr")
    chunk = store / "data/secret/0.0"
    chunk.unlink()
    chunk.symlink_to(secret)
    return store, "data/secret", "data/secret/0.0"


def _zarr_folder_two_deep(root: Path, secret: Path) -> tuple[Path, str, str]:
    store = _zarr(root / "replay.zarr", "data/arm/secret")
    away = secret.parent / "arm"
    shutil.copytree(store / "data/arm", away)
    (away / "secret/0.0").write_bytes(SECRET)
    shutil.rmtree(store / "data/arm")
    (store / "data/arm").symlink_to(away, target_is_directory=True)
    return store, "data/arm/secret", "data/arm"


def _zarr_zarray(root: Path, secret: Path) -> tuple[Path, str, str]:
    store = _zarr(root / "replay.zarr")
    meta = store / "data/secret/.zarray"
    away = secret.parent / "zarray"
    away.write_bytes(meta.read_bytes())
    meta.unlink()
    meta.symlink_to(away)
    (store / "data/secret/0.0").write_bytes(SECRET)  # only the metadata leaves: a bypass reads the inside chunk
    return store, "data/secret", "data/secret/.zarray"


@pytest.mark.parametrize("build", [_zarr_chunk, _zarr_folder_two_deep, _zarr_zarray])
def test_a_symlink_out_of_a_zarr_store_is_refused_naming_it(tmp_path: Path, build) -> None:
    root = tmp_path / "root"
    root.mkdir()
    store, key, link = build(root, _secret(tmp_path))
    if build is not _zarr_zarray:
        assert _leaks([_read_zarr(store, key, check=False)])  # a real escape: zarr alone reads the secret
    with pytest.raises(ReachesOutside) as err:
        _read_zarr(store, key)
    assert str(store) in str(err.value) and f"{link} (a symlink)" in str(err.value)
    assert str(tmp_path / "outside") in str(err.value)
    good = _zarr(root / "good.zarr")
    assert _read_zarr(good, "data/secret").sum() == 300  # the store beside it is read


def test_a_symlink_inside_a_zarr_store_is_kept(tmp_path: Path) -> None:
    store = _zarr(tmp_path / "replay.zarr")
    _zarr(tmp_path / "other.zarr")
    (store / "data/twin").symlink_to(store / "data/secret", target_is_directory=True)
    sealed_folder(store)
    assert np.array_equal(_read_zarr(store, "data/twin"), np.ones((50, 6), np.uint8))
    (store / "data/out").symlink_to(tmp_path / "other.zarr/data/secret", target_is_directory=True)
    with pytest.raises(ReachesOutside, match="data/out"):  # a sibling store under the same root is outside too
        sealed_folder(store)


def _h5_external_storage(root: Path, secret: Path) -> tuple[str, str]:  # N30
    with h5py.File(root / "ep.hdf5", "w") as f:
        f.create_dataset("data/demo_0/obs/secret", shape=(30, 10), dtype="u1", external=[(str(secret), 0, 300)])
    return "data/demo_0/obs/secret", "data/demo_0/obs/secret (external raw storage)"


def _outside_h5(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f["grp/secret"] = np.frombuffer(SECRET, np.uint8).reshape(30, 10)
    return path


def _h5_external_link(root: Path, secret: Path) -> tuple[str, str]:  # to a group, followed on named access
    other = _outside_h5(secret.parent / "other.h5")
    with h5py.File(root / "ep.hdf5", "w") as f:
        f["data/demo_0/actions"] = np.zeros((30, 7))
        f["data/demo_0/obs"] = h5py.ExternalLink(str(other), "/grp")
    return "data/demo_0/obs/secret", "data/demo_0/obs (an external link)"


def _vds(root: Path, source: Path) -> tuple[str, str]:  # N31
    lay = h5py.VirtualLayout((30, 10), "u1")
    lay[:] = h5py.VirtualSource(str(source), "grp/secret", (30, 10))
    with h5py.File(root / "ep.hdf5", "w") as f:
        f.create_virtual_dataset("data/demo_0/obs/secret", lay)
    return "data/demo_0/obs/secret", "data/demo_0/obs/secret (a virtual dataset)"


def _h5_vds_outside(root: Path, secret: Path) -> tuple[str, str]:
    return _vds(root, _outside_h5(secret.parent / "other.h5"))


def _h5_vds_other_file_inside(root: Path, secret: Path) -> tuple[str, str]:
    return _vds(root, _outside_h5(root / "beside.h5"))  # under the root, but no ref names it: refused too


@pytest.mark.parametrize("build", [_h5_external_storage, _h5_external_link, _h5_vds_outside, _h5_vds_other_file_inside])
def test_an_hdf5_file_reaching_another_file_is_refused_before_a_byte(tmp_path: Path, build) -> None:
    root = tmp_path / "root"
    root.mkdir()
    key, named = build(root, _secret(tmp_path))
    with h5py.File(root / "ep.hdf5", "r") as f:  # a real escape: h5py alone reads the other file's bytes
        assert _leaks([f[key][:]])
    with pytest.raises(ReachesOutside) as err:
        open_h5(locate(root / "ep.hdf5"))
    assert str(root / "ep.hdf5") in str(err.value) and named in str(err.value)
    assert isinstance(err.value, OSError) and isinstance(err.value, ValueError)  # caught as either by adapters
    good = write_robomimic(root / "good.hdf5", [5])
    with open_h5(locate(good)) as f:
        assert f["data/demo_0/actions"].shape == (5, 7)


def test_a_virtual_dataset_over_its_own_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "ep.hdf5"
    lay = h5py.VirtualLayout((2, 30, 10), "u1")
    with h5py.File(path, "w") as f:
        f["a"] = np.ones((30, 10), np.uint8)
        f["b"] = np.full((30, 10), 2, np.uint8)
        for i, name in enumerate("ab"):
            lay[i] = h5py.VirtualSource(".", name, (30, 10))
        f.create_virtual_dataset("stacked", lay)
        f["alias"] = h5py.SoftLink("/a")
    with open_h5(locate(path)) as f:
        assert f["stacked"].is_virtual and f["stacked"][:].sum() == 300 * 3 and f["alias"].shape == (30, 10)


def test_the_arrays_adapter_flags_escaping_stores_and_reads_their_neighbours(tmp_path: Path) -> None:
    root = tmp_path / "root"
    secret = _secret(tmp_path)
    write_robomimic(root / "good.hdf5", [6])
    write_robomimic(root / "bad.hdf5", [6])
    with h5py.File(root / "bad.hdf5", "a") as f:
        f.create_dataset("data/demo_0/obs/secret", shape=(6, 50), dtype="u1", external=[(str(secret), 0, 300)])
    zipped = write_umi(tmp_path / "umi.zarr.zip", [4, 9])
    for name in ("good.zarr", "bad.zarr"):
        with zipfile.ZipFile(zipped) as z:
            z.extractall(root / name)
    chunk = next((root / "bad.zarr/data/robot0_eef_pos").glob("0*"))
    chunk.unlink()
    chunk.symlink_to(secret)
    adapter = ArraysAdapter({"fps": 20})  # UMI states no rate
    refs = list(adapter.discover(root))
    bad = {r.paths[0]: r.error for r in refs if r.error is not None}
    assert set(bad) == {str(root / "bad.hdf5"), str(root / "bad.zarr")}, bad
    assert "data/demo_0/obs/secret (external raw storage)" in bad[str(root / "bad.hdf5")]
    assert f"data/robot0_eef_pos/{chunk.name} (a symlink)" in bad[str(root / "bad.zarr")]
    read = [adapter.read(r) for r in refs if r.error is None]
    assert len(read) == 3  # good.hdf5's demo and good.zarr's two episodes
    kinds = ("states", "actions", "signals", "outcomes")
    arrays = [np.asarray(s.values) for ep in read for k in kinds for s in getattr(ep, k).values()]
    assert len(arrays) > 6 and not _leaks(arrays)


OPENS = r"(h5py\.)?(File|h5f\.open)|(zarr\.)?(storage\.)?(LocalStore|ZipStore|FsspecStore)|zarr\.open\w*"


def test_adapters_open_hdf5_and_zarr_for_reading_only_through_the_checked_doors() -> None:
    """No `h5py.File(` / `h5f.open(` in adapters/ outside hostile/h5.py but the writers (synthetic/), and no zarr
    open or store (a folder's, a zip's, an fsspec one) outside arrays/stores.py: no reader can bypass `sealed_h5` /
    `sealed_folder`, the reads beneath the folder (`BeneathStore`) or the zip's member bound."""
    base = Path(__file__).resolve().parents[3] / "adapters"
    doors = {"hostile/h5.py", "arrays/stores.py"}
    stray, scanned = [], 0
    for path in base.rglob("*.py"):
        rel = path.relative_to(base).as_posix()
        if rel in doors or rel.startswith("synthetic/"):
            continue
        scanned += 1
        for node in ast.walk(ast.parse(path.read_text())):
            name = ast.unparse(node.func) if isinstance(node, ast.Call) else ""
            if re.fullmatch(OPENS, name):
                stray.append(f"{rel}:{node.lineno} {name}")
    assert scanned > 50 and not stray, stray


def test_an_hdf5_file_is_walked_once_per_process_until_it_changes(tmp_path: Path, monkeypatch) -> None:
    """The walk is remembered by the open file's identity: a second open of the same file walks nothing, a file
    rewritten in place (an external dataset added, its mtime put back) is walked again and refused."""
    from adapters.hostile import sealed

    walks = []
    walk = sealed.h5_objects
    monkeypatch.setattr(sealed, "h5_objects", lambda *a, **k: walks.append(1) or walk(*a, **k))
    path = write_robomimic(tmp_path / "ep.hdf5", [6, 4])
    for _ in range(3):
        with open_h5(locate(path)) as f:
            assert f["data/demo_1/actions"].shape == (4, 7)
    assert len(walks) == 1
    copy = tmp_path / "copy.hdf5"
    shutil.copy(path, copy)  # another inode: its own walk
    open_h5(locate(copy)).close()
    assert len(walks) == 2
    before = path.stat()
    outside = [(str(_secret(tmp_path)), 0, 300)]
    with h5py.File(path, "a") as f:
        f.create_dataset("data/demo_0/obs/secret", shape=(6, 50), dtype="u1", external=outside)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime forged back; ctime cannot be
    with pytest.raises(ReachesOutside, match="external raw storage"):
        open_h5(locate(path))
    assert len(walks) == 3


def _nested(path: Path, depth: int, under: str = "") -> Path:
    """`depth` groups nested one in the next (under the group `under`), HDF5's compact layout: 2.9 MB at 20,000."""
    with h5py.File(path, "a", libver="latest") as f:
        g = f.require_group(under) if under else f
        for _ in range(depth):
            g = g.create_group("g")
    return path


@pytest.mark.parametrize("under", ["", "data/demo_1/obs"])  # "data/demo_1/obs": inside a real demo, no report named
def test_groups_nested_past_the_bound_cost_their_file_only(tmp_path: Path, under: str) -> None:
    """Review 7 i06: 20,000 nested groups beside a good robomimic file killed the worker (HDF5's recursive visit
    overflowed its stack) and the job lost every episode; walked with a stack of our own, the file is refused
    naming it, and the files beside it are discovered and read."""
    import subprocess
    import sys

    root = tmp_path / "root"
    write_robomimic(root / "a_good.hdf5", [6])
    write_robomimic(root / "c_good.hdf5", [5])
    bad = _nested(write_robomimic(root / "b_deep.hdf5", [4, 4]) if under else root / "b_deep.hdf5", 20_000, under)
    # what HDF5's own link visit (the walk this replaced) does with it: killed by SIGSEGV in 3 s; its object visit
    # (`visititems`) runs for minutes building 40 KB paths
    visit = f"import h5py; f = h5py.File({str(bad)!r}); f.id.links.visit(lambda p, i: None, info=True)"
    assert subprocess.run([sys.executable, "-c", visit], capture_output=True, timeout=120).returncode < 0
    adapter = ArraysAdapter({"fps": 20})
    refs = list(adapter.discover(root))
    flagged = {r.paths[0]: r.error for r in refs if r.error is not None}
    assert list(flagged) == [str(bad)] and "groups nested past 64 levels" in flagged[str(bad)], flagged
    assert sorted(r.paths[0] for r in refs if r.error is None) == [str(root / "a_good.hdf5"), str(root / "c_good.hdf5")]
    assert len([adapter.read(r) for r in refs if r.error is None]) == 2


def test_a_hard_link_cycle_is_walked_once_and_kept(tmp_path: Path) -> None:
    """A group hard-linked into its own child (HDF5 allows it): each object once, the file opened."""
    path = write_robomimic(tmp_path / "loop.hdf5", [5])
    with h5py.File(path, "a") as f:
        f["data/demo_0/obs/back"] = f["data"]
        _nested(path, 40, "data/demo_0/deep")  # under the bound
    with open_h5(locate(path)) as f:
        assert f["data/demo_0/actions"].shape == (5, 7)
