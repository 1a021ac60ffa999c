"""The hand sources' shared reading: `HandSource` discovery is the refs of the located root in natural order, pulled
up to `max_episodes`, the same for every hand source; discovery looks at the root and one folder below it; one
episode's `Reading` names file, episode and field in every error (a text file's parser's too), refuses a file linked
out of the root, asks for the MANO model, and turns a refused pickle, bytes that do not parse or a video that does
not open into that episode's error.

A source whose hands are MANO parameters only needs the model folder: given, it is handed on as a string; missing,
the episode's error names the option, the file and the episode.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError, EpisodeRef, RawEpisode
from adapters.cameras import VideoFileCamera
from adapters.hand_reading import VIDEO_ERRORS, HandSource, Reading, bases, first, human_episode, natural_order
from adapters.pickles import safe_loads
from adapters.registry import adapter_class, get_adapter
from adapters.storage.location import Location, locate


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return os.system, (f"touch {self.marker}",)


def _reading(tmp_path: Path, name: str = "taco", **options: str) -> Reading:
    adapter = get_adapter(name, options)
    ref = adapter.new_ref("seq_01", [str(tmp_path / "seq_01")])
    return Reading.of(adapter, ref, tmp_path / "seq_01" / "anno.pkl")


class _Counted(HandSource):
    name = "counted"

    def __init__(self, options: dict[str, int] | None = None) -> None:
        super().__init__(options)
        self.pulled: list[str] = []
        self.root: object = None

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        self.root = root
        for raw_id in ("s10", "s9", "s2"):
            self.pulled.append(raw_id)
            yield self.new_ref(raw_id, [])

    def read(self, ref: EpisodeRef) -> RawEpisode:
        raise NotImplementedError


def test_a_hand_source_discovers_its_refs_under_the_located_root_up_to_max_episodes(tmp_path: Path) -> None:
    adapter = _Counted({"max_episodes": 2})
    assert [r.raw_id for r in adapter.discover(tmp_path)] == ["s10", "s9"]
    assert adapter.pulled == ["s10", "s9"]  # the third ref is never made
    assert isinstance(adapter.root, Location) and str(adapter.root) == str(tmp_path)
    assert [r.raw_id for r in natural_order(_Counted().refs(tmp_path))] == ["s2", "s9", "s10"]
    hands = [
        "arctic",
        "aria_mps",
        "egodex",
        "egoexo4d_egopose",
        "hoi4d",
        "holoassist",
        "hot3d",
        "oakink2",
        "taco",
        "vitra",
    ]
    assert [n for n in hands if not issubclass(adapter_class(n), HandSource)] == []


def test_discovery_looks_at_the_root_then_its_folders_by_name(tmp_path: Path) -> None:
    for d in ("b", "a", "a/deeper"):
        (tmp_path / d).mkdir()
    (tmp_path / "file.txt").write_text("")
    assert bases(tmp_path) == [tmp_path, tmp_path / "a", tmp_path / "b"]  # files and deeper folders not bases
    (tmp_path / "b" / "x.log").write_text("")
    (tmp_path / "x.log").write_text("")
    assert first(bases(tmp_path), "x.log") == tmp_path / "x.log"  # the root before its folders
    assert first(bases(tmp_path), "y.log") is None


def test_errors_name_the_file_the_episode_and_the_field(tmp_path: Path) -> None:
    reading = _reading(tmp_path)
    e = reading.fail("bad", "hand_pose")
    assert (e.adapter, e.file, e.episode, e.field) == (
        "taco",
        str(tmp_path / "seq_01" / "anno.pkl"),
        "seq_01",
        "hand_pose",
    )
    e = reading.fail("bad", "", tmp_path / "other.npy")  # another file; an empty field is none
    assert (e.file, e.field) == (str(tmp_path / "other.npy"), None)


def test_a_text_file_is_read_and_its_parser_fails_naming_it(tmp_path: Path) -> None:
    reading = _reading(tmp_path)
    (tmp_path / "Video").mkdir()
    (tmp_path / "Video" / "Pose_sync.txt").write_text("1 2 3\n")
    data, fail = reading.text(locate(tmp_path), "Video/Pose_sync.txt")
    assert data == b"1 2 3\n"
    e = fail("3 columns, expected 4", "")  # a parser's error: the file, the episode, the file's name as field
    assert (e.file, e.episode, e.field) == (str(tmp_path / "Video" / "Pose_sync.txt"), "seq_01", "Video/Pose_sync.txt")
    assert fail("bad", "ticks").field == "ticks"
    with pytest.raises(AdapterError, match="missing file") as missing:
        reading.text(locate(tmp_path), "Video/Intrinsics.txt")
    assert (missing.value.file, missing.value.field) == (
        str(tmp_path / "Video" / "Intrinsics.txt"),
        "Video/Intrinsics.txt",
    )


def test_the_error_discovery_found_is_raised_first(tmp_path: Path) -> None:
    adapter = get_adapter("taco")
    flagged = adapter.error("two sequences", file=tmp_path, episode="seq_01", field="sequence")
    ref = adapter.new_ref("seq_01", [str(tmp_path)], error=flagged)
    with pytest.raises(AdapterError, match="two sequences") as e:
        adapter.read(ref)  # before any file is read (`confined.flagged_first`)
    assert (e.value.episode, e.value.field) == ("seq_01", "sequence")


def test_a_file_linked_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "secret.txt"
    root.mkdir()
    outside.write_text("x")
    (root / "in.txt").write_text("y")
    (root / "link.txt").symlink_to(outside)
    reading = _reading(root)
    assert Path(str(reading.inside(locate(root), root / "in.txt", "hands"))).name == "in.txt"
    with pytest.raises(AdapterError) as e:
        reading.inside(locate(root), root / "link.txt", "hands")
    assert (e.value.episode, e.value.field) == ("seq_01", "hands")


def test_the_mano_model_folder_is_asked_for(tmp_path: Path) -> None:
    assert _reading(tmp_path, mano_model_dir=str(tmp_path)).mano_dir("TACO", "x.pkl") == str(tmp_path)
    with pytest.raises(AdapterError, match="TACO's hands are MANO parameters only") as e:
        _reading(tmp_path).mano_dir("TACO", "seq_01/right_hand.pkl")
    assert (e.value.file, e.value.episode, e.value.field) == ("seq_01/right_hand.pkl", "seq_01", "mano_model_dir")


def test_a_refused_pickle_or_bytes_that_do_not_parse_are_the_episodes_error(tmp_path: Path) -> None:
    reading, path = _reading(tmp_path), tmp_path / "anno.pkl"
    path.write_bytes(pickle.dumps({"frames": np.arange(3)}))
    assert reading.parsed(locate(path), "annotation", safe_loads)["frames"].tolist() == [0, 1, 2]
    marker = tmp_path / "ran"
    path.write_bytes(pickle.dumps({"x": _Exploit(marker)}))
    with pytest.raises(AdapterError, match="unreadable annotation: ") as e:
        reading.parsed(locate(path), "annotation", safe_loads)
    assert e.value.file == str(path) and e.value.field is None and not marker.exists()
    path.write_bytes(b"twelve")  # bytes the parser refuses
    with pytest.raises(AdapterError, match="unreadable episode file: invalid literal"):
        reading.parsed(locate(path), "episode", int, named="episode file")


def test_a_video_that_does_not_open_is_named_on_its_field(tmp_path: Path) -> None:
    video = tmp_path / "color.mp4"
    video.write_bytes(b"not a video at all" * 100)
    opening = _reading(tmp_path).unreadable("video", "video", video, VIDEO_ERRORS)
    with pytest.raises(AdapterError, match="unreadable video: ") as e, opening:
        VideoFileCamera(locate(video), "egocentric", None)
    assert (e.value.file, e.value.episode, e.value.field) == (str(video), "seq_01", "video")
    with _reading(tmp_path).unreadable("video", "video", video, VIDEO_ERRORS):  # nothing raised: nothing said
        pass


def test_a_human_episode_has_no_robot_and_is_high_tier(tmp_path: Path) -> None:
    adapter = get_adapter("taco")
    raw = human_episode(adapter.new_ref("seq_01", []), 30.0, states={})
    assert (raw.robot_type, raw.embodiment, raw.tier.value, raw.native_fps) == (None, "human", "high", 30.0)


@pytest.mark.parametrize("name", ["arctic", "hoi4d", "oakink2", "taco"])
def test_the_model_folder_is_required_and_named(name: str, tmp_path: Path) -> None:
    given = get_adapter(name, {"mano_model_dir": str(tmp_path)})
    assert Reading(given, "e").mano_dir(name, "x") == str(tmp_path)
    with pytest.raises(AdapterError, match="hands are MANO parameters only") as e:
        Reading(get_adapter(name), "seq").mano_dir(name, "seq/anno.pkl")
    assert (e.value.field, e.value.file, e.value.episode, e.value.adapter) == (
        "mano_model_dir",
        "seq/anno.pkl",
        "seq",
        name,
    )
