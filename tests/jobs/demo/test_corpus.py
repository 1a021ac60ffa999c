"""The demo's raw corpus: each source written in its real format is found by its own adapter, with exactly one
episode that cannot be read (the corrupt one the job must quarantine) unless asked for a clean corpus; the job spec
written beside it validates as a real spec; unknown or inconsistent source choices are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.base import AdapterError
from adapters.registry import get_adapter
from jobs.demo.corpus import ADAPTERS, write_demo_spec, write_raw_corpus
from jobs.spec import load_spec

SOURCES = ("bridge", "egodex")  # the two lightest of BASE_SOURCES


def _unreadable(name: str, root: Path) -> list[str]:
    adapter = get_adapter(ADAPTERS[name])
    bad = []
    for ref in adapter.discover(root):
        try:
            raw = adapter.read(ref)
            for cam in raw.cameras.values():
                next(iter(cam.frames([0])))  # a camera that cannot be opened fails on its first frame
        except (AdapterError, OSError, ValueError) as e:
            bad.append(f"{ref.uid}: {type(e).__name__}")
    return bad


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_raw_corpus(tmp_path_factory.mktemp("raw"), sources=SOURCES)


@pytest.mark.parametrize("name", SOURCES)
def test_each_source_has_exactly_one_corrupt_episode(raw: dict[str, Path], name: str) -> None:
    assert len(_unreadable(name, raw[name])) == 1, _unreadable(name, raw[name])


def test_a_clean_corpus_reads_whole(tmp_path: Path) -> None:
    clean = write_raw_corpus(tmp_path, corrupt=False, sources=["egodex"])
    assert _unreadable("egodex", clean["egodex"]) == []


def test_the_spec_validates_as_a_real_job_spec(raw: dict[str, Path], tmp_path: Path) -> None:
    path = write_demo_spec(
        tmp_path / "corpus.yaml", raw, tmp_path / "out", {"size": "64x64", "fit": "pad"}, committers=2
    )
    spec = load_spec(path)
    assert [(s.name, s.adapter, s.root) for s in spec.sources] == [(n, ADAPTERS[n], raw[n].resolve()) for n in SOURCES]
    assert spec.output == (tmp_path / "out").resolve()
    assert (spec.parallelism.max_in_flight, spec.parallelism.committers) == (4, 2)
    assert spec.canonicalize.image.size is not None


def test_unknown_or_inconsistent_sources_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown demo source\(s\) \['droid'\]"):
        write_raw_corpus(tmp_path, sources=["droid"])
    with pytest.raises(ValueError, match="ask for 'lerobot' too"):
        write_raw_corpus(tmp_path, sources=["so101"])
    assert list(tmp_path.iterdir()) == []


def test_the_robomimic_source_two_demos_and_one_cut_file(tmp_path: Path) -> None:
    roots = write_raw_corpus(tmp_path, sources=["robomimic"])
    adapter = get_adapter(ADAPTERS["robomimic"])
    refs = list(adapter.discover(roots["robomimic"]))
    assert [r.raw_id for r in refs] == ["can/ph/image.hdf5", "lift/ph/image.hdf5/demo_0", "lift/ph/image.hdf5/demo_1"]
    assert _unreadable("robomimic", roots["robomimic"]) == [refs[0].uid + ": AdapterError"]
    ep = adapter.read(refs[2])
    assert ep.annotation.layout == "robomimic" and ep.native_fps == 20 and len(ep.actions["actions"]) == 44
    assert (ep.cameras["agentview_image"].height, ep.cameras["agentview_image"].width) == (84, 84)
