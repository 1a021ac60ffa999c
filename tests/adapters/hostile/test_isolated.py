"""`adapters.hostile.isolated`: a parse that raises what the adapter does not catch costs its own file's episodes only,
never its neighbours' nor the source's discovery (issue 58 item 2; review 6 N23-N27).

A toy adapter shows the mechanism (the file opened last is named with the error, and the one loop, `again`, refuses it
at its open on the next pass: each ref given once, no file refused twice); the real adapters then meet 10^5-deep JSON
where review 6 put it (a LeRobot `info.json` and `episodes.jsonl` line, a Zarr root `.zattrs`, an ego-video folder
sidecar) and where no report did (a LeRobot `tasks.jsonl` line, a Zarr array's `.zarray`), each beside a good dataset,
store or clip that is still discovered. Then files a C library opens itself, which Python's audit hook never sees: a
corrupt parquet footer in pyarrow and a corrupt mp4 in FFmpeg (PyAV), each failing with what no adapter catches
(planted: the `MemoryError` a library raises when the task's memory limit stops its parse), are named by the door that
handed them over (`adapters.storage.declared`), not taken for the file Python opened last: a neighbour's sidecar, a meta
file. Every adapter's discovery and reads are wrapped when its class is made, so a ref naming a path outside the root
it was discovered under comes back flagged, and reading it raises that flag first, whatever the adapter's own code
does (a symlink out of the root included)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from adapters import get_adapter
from adapters.base import AdapterError, EpisodeRef, RawEpisode
from adapters.hostile.isolated import again, confine
from adapters.source_adapter import SourceAdapter
from tests.adapters.egovideo.test_declared_sizes import _video
from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset
from tests.fixtures import library_bombs as lb


def discovered(adapter: SourceAdapter, root: object) -> list[EpisodeRef]:
    """Every ref as the job discovers them: each file whose parse fails refused and discovery run again (`again`)."""
    return again(lambda: list(adapter.discover(root)), f"{adapter.name}: discovery")  # type: ignore[arg-type]


class Sidecars(SourceAdapter):
    """One episode per `*.json` under the root; an unreadable one (OSError, ValueError) is flagged, the rest not."""

    name = "sidecars"
    passes = 0

    def discover(self, root: Path) -> Iterator[EpisodeRef]:
        Sidecars.passes += 1
        for path in sorted(root.glob("*.json")):
            try:
                json.loads(path.read_text())
            except (OSError, ValueError) as e:
                yield self.new_ref(path.stem, [str(path)], error=self.error(str(e), file=path))
                continue
            yield self.new_ref(path.stem, [str(path)])

    def read(self, ref: EpisodeRef) -> RawEpisode:
        json.loads(Path(ref.paths[0]).read_text())
        raise AssertionError("not reached for a deep file")


def test_one_deep_file_is_flagged_and_its_neighbours_given_once(tmp_path: Path) -> None:
    for name in ("a", "c", "e"):
        (tmp_path / f"{name}.json").write_text('{"ok": 1}')
    (tmp_path / "b.json").write_text(lb.DEEP_JSON)
    (tmp_path / "d.json").write_text(lb.DEEP_JSON)
    Sidecars.passes = 0
    refs = discovered(Sidecars(), tmp_path)
    assert [r.raw_id for r in refs] == ["a", "b", "c", "d", "e"]  # each once, in order
    assert [r.raw_id for r in refs if r.error is None] == ["a", "c", "e"]
    for bad in ("b", "d"):
        (err,) = [r.error for r in refs if r.raw_id == bad]
        assert f"{bad}.json" in err and "RecursionError" in err, err
    assert Sidecars.passes == 3  # one more pass per bad file


def test_a_read_that_recurses_is_the_adapters_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text(lb.DEEP_JSON)
    ref = Sidecars().new_ref("b", [str(tmp_path / "b.json")])

    with pytest.raises(AdapterError) as raised:
        Sidecars().read(ref)
    assert raised.value.file == str(tmp_path / "b.json") and "RecursionError" in raised.value.reason


def test_an_error_no_file_explains_still_ends_the_discovery(tmp_path: Path) -> None:
    class Broken(Sidecars):
        name = "broken"

        def discover(self, root: Path) -> Iterator[EpisodeRef]:
            yield self.new_ref("a", [str(root / "a")])
            raise RecursionError("no file was opened")

    with pytest.raises(RecursionError):
        discovered(Broken(), tmp_path)


def _lerobot(root: Path) -> None:
    rows = np.linspace(0.1, 1.0, 20 * len(MOTORS)).reshape(20, len(MOTORS))
    write_arm_dataset(root, "so101_follower", list(MOTORS), rows)


@pytest.mark.parametrize("meta", ["info.json", "episodes.jsonl", "tasks.jsonl"])  # tasks.jsonl: no report named
def test_a_deep_lerobot_meta_file_costs_its_dataset_only(tmp_path: Path, meta: str) -> None:
    for name in ("a_bad", "b_good"):
        _lerobot(tmp_path / name)
    path = tmp_path / "a_bad/meta" / meta
    path.write_text(lb.DEEP_JSON if meta == "info.json" else path.read_text() + lb.DEEP_JSON + "\n")
    refs = discovered(get_adapter("lerobot"), tmp_path)
    assert [r.subset for r in refs if r.error is None] == ["b_good"], [(r.subset, r.error) for r in refs]
    (bad,) = [r for r in refs if r.subset == "a_bad"]
    assert f"a_bad/meta/{meta}" in bad.error and "RecursionError" in bad.error, bad.error


@pytest.mark.parametrize("where", [".zattrs", "data/state/.zarray"])  # .zarray: no report named
def test_a_deep_zarr_metadata_file_costs_its_store_only(tmp_path: Path, where: str) -> None:
    lb.dp_buffer(tmp_path / "a_bad.zarr")
    lb.dp_buffer(tmp_path / "b_good.zarr", seed=1)
    (tmp_path / "a_bad.zarr" / where).write_text(lb.DEEP_JSON)
    refs = discovered(get_adapter("arrays", {"fps": 10}), tmp_path)
    good = [r.raw_id for r in refs if r.error is None]
    assert good == ["b_good.zarr/episode_0", "b_good.zarr/episode_1"], [(r.raw_id, r.error) for r in refs]
    bad = [r for r in refs if r.raw_id.startswith("a_bad")]
    assert bad and all(f"a_bad.zarr/{where}" in r.error for r in bad), [r.error for r in bad]


def test_a_deep_folder_sidecar_costs_its_clip_only(tmp_path: Path) -> None:
    for clip in ("a", "b"):
        _video(tmp_path / f"root/{clip}.mp4")
    (tmp_path / "root/a.json").write_text(lb.DEEP_JSON)
    (tmp_path / "root/b.json").write_text(json.dumps({"caption": "a worker at a bench"}))
    refs = discovered(get_adapter("ego_video", {"layout": "folder", "clip_s": 10}), tmp_path / "root")
    assert [r.raw_id for r in refs if r.error is None] == ["b"], [(r.raw_id, r.error) for r in refs]
    (bad,) = [r for r in refs if r.raw_id == "a"]
    assert "a.json" in bad.error and "RecursionError" in bad.error, bad.error


def test_a_deep_sidecar_in_a_gzipped_shard_costs_that_shard_only(tmp_path: Path) -> None:
    """A WebDataset sample's `.json` 10^5 deep (N26), in a `.tar.gz` shard (a container no report named)."""
    import io
    import tarfile

    from tests.fixtures.writers.egovideo import write_ego_variants

    write_ego_variants(tmp_path, workers=2, gzip_last=True)
    (shard,) = tmp_path.rglob("*.tar.gz")
    with tarfile.open(shard, "r:gz") as tf:
        members = [(m, tf.extractfile(m).read()) for m in tf.getmembers()]  # type: ignore[union-attr]
    deep = next(m.name for m, _ in members if m.name.endswith(".json"))
    with tarfile.open(shard, "w:gz", format=tarfile.USTAR_FORMAT) as tf:
        for m, data in members:
            data = lb.DEEP_JSON.encode() if m.name == deep else data
            m.size = len(data)
            tf.addfile(m, io.BytesIO(data))
    refs = discovered(get_adapter("ego_video", {"layout": "webdataset"}), tmp_path)
    good = [r for r in refs if r.paths[0] != str(shard)]
    bad = [r for r in refs if r.paths[0] == str(shard)]
    assert len(good) == 2 and all(r.error is None for r in good), [(r.raw_id, r.error) for r in refs]
    assert bad and all(shard.name in r.error and "RecursionError" in r.error for r in bad), [r.error for r in bad]


def _failing_as_memory(
    monkeypatch: pytest.MonkeyPatch, module: object, name: str, error: type[Exception] | tuple[type[Exception], ...]
) -> None:
    """`module.name` as it is, but a failure of its own (`error`: a corrupt file) raised as a `MemoryError`, which
    no adapter catches (a library's parse stopped by the task's memory limit)."""
    real = getattr(module, name)

    def planted(*args: object, **kwargs: object) -> object:
        try:
            return real(*args, **kwargs)
        except error as e:
            raise MemoryError(f"planted: {type(e).__name__} inside {name}") from e

    monkeypatch.setattr(module, name, planted)


def test_a_parquet_pyarrow_fails_in_costs_its_dataset_named_by_the_parquet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = np.linspace(0.1, 1.0, 30 * len(MOTORS)).reshape(30, len(MOTORS))
    for name in ("a_good", "b_bad"):
        write_arm_dataset(tmp_path / name, "so101_follower", list(MOTORS), rows)
    (data,) = (tmp_path / "b_bad").rglob("*.parquet")
    raw = data.read_bytes()
    footer = int.from_bytes(raw[-8:-4], "little")
    data.write_bytes(raw[: -8 - footer] + b"\xff" * footer + raw[-8:])  # the footer's thrift overwritten
    _failing_as_memory(monkeypatch, pq, "read_metadata", (OSError, pa.ArrowException))
    refs = discovered(get_adapter("lerobot", {}), tmp_path)
    assert [r.subset for r in refs if r.error is None] == ["a_good"], [(r.subset, r.error) for r in refs]
    bad = [r for r in refs if r.subset == "b_bad"]
    assert bad and all(str(data) in r.error and "planted" in r.error for r in bad), [r.error for r in bad]


def test_a_video_ffmpeg_fails_in_costs_its_clip_not_the_sidecar_opened_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clip `a` has a sidecar (opened by Python), clip `b` none and a corrupt mp4: the file Python opened last when
    FFmpeg failed on `b.mp4` was `a.json`, taken for the culprit and refused (the good clip flagged); the same failure
    again, with no other file seen, then ended the source's discovery. Now `b.mp4`, declared by `readable`."""
    import av

    for clip in ("a", "b"):
        _video(tmp_path / f"root/{clip}.mp4")
    (tmp_path / "root/a.json").write_text(json.dumps({"caption": "a worker at a bench"}))
    bad_mp4 = tmp_path / "root/b.mp4"
    bad_mp4.write_bytes(bytes(4096))
    _failing_as_memory(monkeypatch, av, "open", av.error.InvalidDataError)
    refs = discovered(get_adapter("ego_video", {"layout": "folder", "clip_s": 10}), tmp_path / "root")
    assert [r.raw_id for r in refs if r.error is None] == ["a"], [(r.raw_id, r.error) for r in refs]
    (bad,) = [r for r in refs if r.raw_id == "b"]
    assert str(bad_mp4) in bad.error and "planted" in bad.error, bad.error


@pytest.mark.parametrize("meta", ["features.json", "dataset_info.json"])  # dataset_info.json: no report named
def test_a_deep_oxe_builder_meta_file_costs_its_builder_only(tmp_path: Path, meta: str) -> None:
    """Review 7: a 1e5-deep features.json in one of two OXE builders ended the source's discovery (the adapter's
    AdapterError for one builder passed as its verdict on the whole source)."""
    import shutil

    from adapters.oxe.builder import load_builder
    from tests.realdata import realdata

    for name in ("aa_dataset", "bb_dataset"):
        shutil.copytree(realdata("octo_bridge_debug_rlds/bridge_dataset/1.0.0"), tmp_path / name / "1.0.0")
    (tmp_path / "aa_dataset/1.0.0" / meta).write_text(lb.DEEP_JSON)
    load_builder.cache_clear()
    refs = discovered(get_adapter("oxe"), tmp_path)
    (bad,) = [r for r in refs if r.error is not None]
    assert bad.subset == "aa_dataset" and f"aa_dataset/1.0.0/{meta}" in bad.error and "RecursionError" in bad.error
    assert len(refs) == 26 and {r.subset for r in refs if r.error is None} == {"bridge_dataset"}  # bb_dataset: 25


def test_opens_from_many_threads_at_once_are_all_watched(tmp_path: Path) -> None:
    """zarr opens a store's keys from several threads at once: the watch's list of recent files is changed by one
    at a time (two threads removing one path raised ValueError out of the open, read as an unreadable store)."""
    import sys
    import threading

    from adapters.hostile.isolated import _Watch

    watch = _Watch((str(tmp_path),))
    errors: list[BaseException] = []

    def opens(n: int) -> None:
        try:
            for i in range(5_000):
                watch.opened(str(tmp_path / f"k{(i + n) % 4}"))
        except BaseException as e:  # what a thread raised, checked below
            errors.append(e)

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads switch as often as they can
    try:
        threads = [threading.Thread(target=opens, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(before)
    assert not errors, errors[:1]
    assert sorted(watch.recent) == sorted(str(tmp_path / f"k{i}") for i in range(4))


class Leaky(SourceAdapter):
    """An adapter whose discovery names a file outside its root, and one inside."""

    name = "leaky"

    def discover(self, root: Path):
        yield self.new_ref("inside", [str(root / "in.bin")])
        yield self.new_ref("outside", [str(root / "link.bin")])

    def read(self, ref: EpisodeRef) -> RawEpisode:
        raise AssertionError("a flagged ref is never read by the adapter's own code")


def test_a_ref_leaving_its_root_is_flagged_and_its_read_raises(tmp_path: Path) -> None:
    root, secret = tmp_path / "root", tmp_path / "secret.bin"
    root.mkdir()
    (root / "in.bin").write_bytes(b"x")
    secret.write_bytes(b"secret")
    os.symlink(secret, root / "link.bin")  # inside by name, outside by where it leads
    adapter = Leaky()
    inside, outside = list(adapter.discover(root))
    assert inside.error is None and outside.error is not None and "secret.bin" in outside.error
    assert getattr(Leaky.discover, "_confined", False) and getattr(Leaky.read, "_confined", False)
    with pytest.raises(AdapterError):
        adapter.read(outside)
    assert confine(adapter, root, outside) is outside  # flagged already: left as it is
