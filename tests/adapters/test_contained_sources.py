"""The files a discovery reads before it yields a ref (annotation tables, sidecars, a probed video, a shard's index)
are contained too (`SourceAdapter.inside`): one symlinked out of the root is refused naming it, and never opened
(inotify on the folder outside)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from adapters.base import AdapterError
from adapters.registry import get_adapter
from adapters.synthetic.video import synthetic_frame, write_mp4
from tests.fixtures.opened import opened_files


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    write_mp4(folder / "video.mp4", (synthetic_frame(32, 32, i, 0) for i in range(10)), 10)
    (folder / "sidecar.json").write_text(json.dumps({"caption": "SECRET CAPTION", "duration_sec": 1.0}))
    (folder / "table.csv").write_text("narration_id,participant_id,video_id\n")
    (folder / "narration.json").write_text("{}")
    (folder / "task.json").write_text("[]")
    (folder / "shard.tar").write_bytes(b"\0" * 1024)
    return folder


def _root(tmp_path: Path, links: dict[str, str], outside: Path, files: tuple[str, ...] = ()) -> Path:
    root = tmp_path / "root"
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_mp4(root / rel, (synthetic_frame(32, 32, i, 0) for i in range(10)), 10)
    for rel, target in links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(outside / target, root / rel)
    return root


@pytest.mark.parametrize(
    ("adapter", "links", "files", "options"),
    [
        ("ego_video", {"a/clip.json": "sidecar.json"}, ("a/clip.mp4",), {"layout": "folder"}),
        ("ego_video", {"a/clip.mp4": "video.mp4"}, (), {"layout": "folder"}),
        ("ego_video", {"part-000.tar": "shard.tar"}, (), {}),
        ("agibot", {"task_info/task_1.json": "task.json"}, ("observations/1/7/videos/head_color.mp4",), {}),
    ],
)
def test_a_file_discovery_reads_is_refused_when_it_leaves_the_root(
    tmp_path: Path, outside: Path, adapter: str, links: dict, files: tuple, options: dict
) -> None:
    root = _root(tmp_path, links, outside, files)
    with opened_files(outside) as opened:
        refs = list(get_adapter(adapter, options).discover(root))
    assert opened == []
    assert refs and all(r.error for r in refs)
    [(rel, target)] = links.items()
    assert f"{root / rel} (resolves to {outside / target}) lies outside the source root" in refs[0].error
    assert "SECRET CAPTION" not in json.dumps(refs[0].locator)


@pytest.mark.parametrize(
    ("adapter", "links"),
    [
        ("ego4d", {"narration.json": "narration.json"}),
        ("epic_kitchens", {"annotations/EPIC_100_train.csv": "table.csv"}),
    ],
)
def test_an_annotation_table_out_of_the_root_fails_the_source_naming_it(
    tmp_path: Path, outside: Path, adapter: str, links: dict
) -> None:
    root = _root(tmp_path, links, outside)
    with opened_files(outside) as opened, pytest.raises(AdapterError) as err:
        list(get_adapter(adapter).discover(root))
    assert opened == []
    assert err.value.file == str(root / next(iter(links))) and "lies outside the source root" in err.value.reason
