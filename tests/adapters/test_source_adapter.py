"""The adapter base class (`adapters/source_adapter.py`): a ref made by `new_ref` is the adapter's own and carries
the error discovery found, raised again at read; options are validated before any work; `max_episodes` stops
discovery pulling; every adapter is given its root resolved once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Generic, TypeVar

import pytest
import yaml
from pydantic import ValidationError

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, RawEpisode
from adapters.registry import adapter_class
from adapters.robomind.adapter import RoboMINDAdapter, RoboMINDOptions
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from adapters.storage.root import Root
from jobs.spec import SpecError, load_spec
from schemas.storage import StorageOptions


def _ref(raw_id: str, subset: str = "s") -> EpisodeRef:
    return EpisodeRef(adapter="robomind", source="robomind", subset=subset, raw_id=raw_id, paths=())


def test_new_ref_is_the_adapters_own_and_carries_its_error() -> None:
    adapter = RoboMINDAdapter({"subset": "mine"})
    ok = adapter.new_ref("t/1", ["/r/a.hdf5"], locator={"row": 3})
    assert (ok.adapter, ok.source, ok.subset, ok.error) == ("robomind", "robomind", "mine", None)
    assert (ok.paths, ok.locator) == (("/r/a.hdf5",), {"row": 3})
    assert RoboMINDAdapter().new_ref("t/1", []).subset == "default"
    err = adapter.error("is missing", file="/r/a.hdf5", episode="t/2", field="data")
    flagged = adapter.new_ref("t/2", ["/r/a.hdf5"], subset="s", source="other", locator={"row": 4}, error=err)
    assert (flagged.subset, flagged.source, flagged.error) == ("s", "other", str(err))
    assert flagged.locator == {"row": 4, **err.locator()}
    with pytest.raises(AdapterError, match="is missing") as again:
        adapter.raise_discovered(flagged)
    assert again.value.field == "data"


def test_options_are_validated_and_max_episodes_stops_discovery() -> None:
    with pytest.raises(ValidationError, match="no_such_option"):
        RoboMINDAdapter({"no_such_option": 1})
    with pytest.raises(ValidationError, match="max_episodes"):
        RoboMINDAdapter({"max_episodes": 0})
    pulled: list[int] = []

    def refs() -> Iterator[EpisodeRef]:
        for i in range(100):
            pulled.append(i)
            yield _ref(str(i))

    assert [r.raw_id for r in RoboMINDAdapter({"max_episodes": 3}).capped(refs())] == ["0", "1", "2"]
    assert pulled == [0, 1, 2]  # the fourth ref is never read


class _Roots(RoboMINDAdapter):
    """Records the root its `refs` is given."""

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        self.seen = root
        yield _ref("only")


T = TypeVar("T")


class _Options(AdapterOptions):
    size: int = 1


class _Source(SourceAdapter[_Options]):
    name = "parameterised"

    def read(self, ref: EpisodeRef) -> RawEpisode:
        raise NotImplementedError


def test_the_class_parameter_is_the_options_model() -> None:
    assert _Source.options_model is _Options and _Source({"size": 3}).options.size == 3
    with pytest.raises(ValidationError, match="size"):
        _Source({"size": "many"})
    assert RoboMINDAdapter.options_model is RoboMINDOptions

    class Inherits(_Source):  # no parameter of its own: its parent's model
        pass

    class Declares(_Source):  # an explicit model is kept
        options_model = RoboMINDOptions

    class Both(SourceAdapter[_Options]):  # a parameter and an explicit model: the explicit one
        options_model = RoboMINDOptions

    class Box(Generic[T]):
        pass

    class Mixed(Box[int], SourceAdapter[_Options]):  # another generic base's argument is no options model
        pass

    assert (Inherits.options_model, Declares.options_model) == (_Options, RoboMINDOptions)
    assert (Both.options_model, Mixed.options_model) == (RoboMINDOptions, _Options)


def test_every_adapter_is_given_its_root_resolved_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`discover` resolves the root for every adapter (`source_root`): a relative path, a `..` and a link are the
    folder itself; a `Root` is taken as it is, its storage options kept; nothing is read past `max_episodes`."""
    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    for given in ("data", tmp_path / "data" / ".." / "data", tmp_path / "link", Root(tmp_path / "data")):
        adapter = _Roots({"max_episodes": 1})
        assert [r.raw_id for r in adapter.discover(given)] == ["only"]
        assert adapter.seen == (tmp_path / "data").resolve(), given
    options = StorageOptions(endpoint_url="http://127.0.0.1:9")
    url = _Roots(storage=options).source_root("s3://bucket/prefix/")
    assert str(url) == "s3://bucket/prefix"  # the prefix as named, with this source's storage options
    assert url.storage_options == Root("s3://bucket/prefix", options).location().storage_options
    assert url.storage_options != Root("s3://bucket/prefix").location().storage_options
    assert _Roots().source_root(Root("s3://bucket/prefix", options)).storage_options == url.storage_options


class _Files(SourceAdapter[AdapterOptions]):
    """One episode whose locator names a folder (as agibot's `root`, oxe's `builder_dir` do); `read` opens its paths
    and that folder through `self.file`."""

    name = "files"

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        yield self.new_ref("ep", [str(root / "a.bin")], locator={"dir": str(root / "sub")})

    def read(self, ref: EpisodeRef) -> RawEpisode:
        self.opened = [self.file(p).read_bytes() for p in ref.paths] + [self.file(ref.locator["dir"]).name.encode()]
        raise self.error("read", episode=ref.raw_id)


def test_a_ref_is_read_beneath_the_root_discovery_stamped_on_it(tmp_path: Path) -> None:
    """Discovery stamps each ref with its resolved root; a fresh adapter (another process) reads the ref's files
    through that root (`Root.file`), and a locator folder moved outside it is refused, as a ref made by hand with no
    root is: no path is opened unresolved."""
    root, outside = tmp_path / "root", tmp_path / "elsewhere"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "a.bin").write_bytes(b"x")
    (ref,) = _Files().discover(root)
    assert ref.root == str(root.resolve())
    fresh = _Files()
    with pytest.raises(AdapterError, match="read"):
        fresh.read(ref)
    assert fresh.opened == [b"x", b"sub"] and fresh.root == Root(root)
    moved = ref.model_copy(update={"locator": {"dir": str(outside)}})
    with pytest.raises(AdapterError, match=r"elsewhere.*outside|outside.*elsewhere"):
        _Files().read(moved)
    with pytest.raises(AdapterError, match="no source root to read it beneath"):
        _Files().read(ref.model_copy(update={"root": None}))


FIXED_CAMERAS = ["ego_video", "holoassist", "hoi4d", "egodex", "epic_kitchens", "vitra", "egoexo4d_egopose", "aria_mps"]


@pytest.mark.parametrize("name", FIXED_CAMERAS)
def test_a_camera_a_single_camera_source_lacks_fails_at_the_spec_check(name: str, tmp_path: Path) -> None:
    """These sources have one camera of a fixed name; a `cameras` option naming another read no camera at all, said
    nowhere (issue 86, item 4). The spec check now refuses it, offering the source's camera."""
    (camera,) = adapter_class(name).camera_names or ()
    (tmp_path / "raw").mkdir()
    spec = tmp_path / "spec.yaml"
    options = {"mano_model_dir": str(tmp_path)} if name == "hoi4d" else {}
    typo = camera[:-1] + camera[-1].upper() + "x"
    source = {"name": "s", "adapter": name, "root": "raw", "options": {**options, "cameras": [typo]}}
    spec.write_text(yaml.safe_dump({"output": "corpus", "sources": [source]}))
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    said = [i.message for i in info.value.errors if i.loc == "sources[0].options.cameras"]
    assert said == [f"camera {typo!r} is not one of {name}'s; did you mean {camera!r}?"]
    source["options"]["cameras"] = [camera]
    spec.write_text(yaml.safe_dump({"output": "corpus", "sources": [source]}))
    assert load_spec(spec).sources[0].options["cameras"] == [camera]
