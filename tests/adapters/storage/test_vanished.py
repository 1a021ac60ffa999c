"""`adapters.storage.vanished`: a source changed under its reader, told from an episode's own defect."""

from __future__ import annotations

from pathlib import Path

from adapters.storage.vanished import MAX_CHECKED, vanished
from schemas.faults import environment_fault
from schemas.storage import SourceVanishedError


def _source(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "src"
    (root / "ep1").mkdir(parents=True)
    files = [root / "ep1/data.h5", root / "ep1/video.mp4"]
    for f in files:
        f.write_bytes(b"x")
    return root, [str(f) for f in files]


def test_a_source_as_discovered_is_not_vanished_even_with_a_sidecar_missing(tmp_path: Path) -> None:
    root, paths = _source(tmp_path)
    assert vanished(root, paths) is None
    Path(paths[1]).unlink()  # one file gone (a sidecar the adapter expected): the episode's defect, not the source's
    assert vanished(root, paths) is None
    assert vanished(root, [*paths[1:], str(root / "never.json")]) is not None  # ...unless none is left
    assert vanished(root, []) is None


def test_a_root_gone_or_every_file_gone_is_said(tmp_path: Path) -> None:
    root, paths = _source(tmp_path)
    for p in paths:
        Path(p).unlink()
    why = vanished(root, paths)
    assert why is not None and f"none of the episode's 2 discovered files exists any more (first: {paths[0]})" in why
    root.rename(tmp_path / "elsewhere")
    why = vanished(root, paths)
    assert why is not None and f"the source root {root} is gone since discovery" in why


def test_its_error_is_the_environments(tmp_path: Path) -> None:
    """What the worker raises from a vanished source is an environment fault by its class (`faults.toml`)."""
    assert environment_fault(SourceVanishedError("gone")) == "SourceVanishedError: gone"


def test_only_the_first_files_are_looked_at(tmp_path: Path) -> None:
    root, paths = _source(tmp_path)
    many = [str(root / f"frame_{i}.png") for i in range(MAX_CHECKED)] + paths  # the real files past the checked ones
    assert vanished(root, many) is not None


def test_one_discovered_file_gone_is_said_for_an_adapter_whose_refs_name_only_what_it_saw(tmp_path: Path) -> None:
    """`all_seen` (LeRobot's refs: a file missing at discovery flags the ref there): any one file gone since is the
    source's change (review 7 f6: `videos/` away for a moment), where without it a sidecar may be missing for good."""
    root, paths = _source(tmp_path)
    assert vanished(root, paths, all_seen=True) is None
    Path(paths[1]).unlink()
    assert vanished(root, paths) is None
    why = vanished(root, paths, all_seen=True)
    assert why is not None and f"1 of the episode's 2 files discovery found are gone since (first: {paths[1]})" in why
    assert environment_fault(SourceVanishedError(why)) is not None
