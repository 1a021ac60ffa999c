"""A LeRobot dataset cannot make the adapter read outside its root (reliability review 1a-1d): `data_path` /
`video_path` templates with `../` or an absolute path, a camera key with `../`, placeholders with attribute access,
and symlinks out of the root are refused with the path named, and no file outside is opened (inotify)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.lerobot.adapter import LeRobotSource
from tests.adapters.lerobot.conftest import MOTORS, write_arm_dataset
from tests.fixtures.opened import opened_files


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = np.linspace(0, 1, 12 * len(MOTORS)).reshape(12, len(MOTORS))
    root = tmp_path_factory.mktemp("pristine") / "fc"
    write_arm_dataset(root, "so101_follower", list(MOTORS), rows, cameras=("top",))
    return root


@pytest.fixture
def layout(pristine: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(the hostile dataset's root, the victim beside it): two copies of one dataset, in folders of their own."""
    victim = tmp_path / "outside" / "victim"
    shutil.copytree(pristine, victim)
    root = tmp_path / "h" / "fc"
    shutil.copytree(pristine, root)
    return root, victim


def _edit_info(root: Path, **changes: object) -> None:
    info = json.loads((root / "meta/info.json").read_text())
    info.update(changes)
    (root / "meta/info.json").write_text(json.dumps(info))


def _refs(root: Path) -> list:
    return list(LeRobotSource().discover(root))


def _read_all(root: Path) -> list[AdapterError]:
    """Discover and read every episode as the job does; returns the errors (every ref must fail)."""
    errors = []
    adapter = LeRobotSource()
    for ref in adapter.discover(root):
        with pytest.raises(AdapterError) as err:
            adapter.read(ref)
        errors.append(err.value)
    return errors


@pytest.mark.parametrize(
    ("changes", "drop", "gives"),
    [
        (
            {"data_path": "../../outside/victim/data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"},
            "data",
            "'../../outside/victim/data/chunk-000/episode_000000.parquet', which leaves the dataset root",
        ),
        (
            {"video_path": "{root}/videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"},
            "videos",
            "/outside/victim/videos/chunk-000/observation.images.top/episode_000000.mp4', which leaves the dataset",
        ),
        ({"data_path": "/etc/passwd"}, None, "gives '/etc/passwd', which leaves the dataset root"),
        ({"data_path": "data/{episode_index.__class__.__name__}.parquet"}, None, "is not a bare name"),
    ],
)
def test_templates_leaving_the_root_are_refused(
    layout: tuple[Path, Path], changes: dict[str, str], drop: str | None, gives: str
) -> None:
    root, victim = layout
    changes = {k: v.replace("{root}", str(victim)) for k, v in changes.items()}
    _edit_info(root, **changes)
    if drop:
        shutil.rmtree(root / drop)  # as in the review: the dataset's own files gone, the template points outside
    with opened_files(victim.parent) as opened:
        refs = _refs(root)
        errors = _read_all(root)
    assert opened == []
    assert [r.raw_id for r in refs] == ["meta"] and refs[0].error is not None
    assert gives in refs[0].error and gives in errors[0].reason
    assert errors[0].file is not None and errors[0].file.endswith("meta/info.json")


def test_a_camera_key_with_dotdot_is_refused(layout: tuple[Path, Path]) -> None:
    root, victim = layout
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["../../../outside/victim/videos/chunk-000/x"] = info["features"].pop("observation.images.top")
    (root / "meta/info.json").write_text(json.dumps(info))
    with opened_files(victim.parent) as opened:
        refs = _refs(root)
    assert opened == [] and [r.raw_id for r in refs] == ["meta"] and "leaves the dataset root" in refs[0].error


@pytest.mark.parametrize("what", ["data_folder", "data_file", "video_file"])
def test_symlinks_out_of_the_root_are_refused(layout: tuple[Path, Path], what: str) -> None:
    root, victim = layout
    rel = {
        "data_folder": "data/chunk-000",
        "data_file": "data/chunk-000/episode_000000.parquet",
        "video_file": "videos/chunk-000/observation.images.top/episode_000000.mp4",
    }[what]
    shutil.rmtree(root / rel) if (root / rel).is_dir() else (root / rel).unlink()
    os.symlink(victim / rel, root / rel)
    file = "data/chunk-000/episode_000000.parquet" if what == "data_folder" else rel
    link, target = root / file, victim / file  # the file read, through the link, and where it really is
    with opened_files(victim.parent) as opened:
        refs = _refs(root)
        errors = _read_all(root)
    assert opened == []
    assert [r.raw_id for r in refs] == ["episode_000000"]
    assert f"(resolves to {target})" in refs[0].error and "lies outside the source root" in refs[0].error
    assert errors[0].file == str(link) and f"resolves to {target}" in errors[0].reason


def test_symlinks_inside_the_root_are_read(layout: tuple[Path, Path]) -> None:
    """A link that stays in the root (a deduplicated copy, a relocated chunk) is no escape."""
    root, _ = layout
    (root / "data/chunk-000").rename(root / "data/real-chunk")
    os.symlink("real-chunk", root / "data/chunk-000")
    adapter = LeRobotSource()
    [ref] = list(adapter.discover(root))
    assert ref.error is None
    assert len(adapter.read(ref).states["observation.state"]) == 11
