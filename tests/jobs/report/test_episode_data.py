"""What an episode's page shows, read from a corpus (episode_corpus.py): its catalog row and findings, its frames
decoded at evenly spaced indices, its signals over its length, and an episode the corpus lacks named in the error."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ingest.lerobot.video_read import decode_frames
from jobs.report.data import dataset_view, frame_indices
from jobs.report.episode_data import EpisodeNotFound, episode_detail, episode_href, lineage_notes, parse_episode
from schemas.canonical import ACTION, STATE, STATE_NATIVE
from schemas.corpus import EpisodeLineage
from schemas.tiers import grouped
from tests.jobs.report.episode_corpus import DATASET, FINDING, LENGTHS, NATIVE, NOTE, REASONS, write_episode_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_episode_corpus(tmp_path_factory.mktemp("episodes"))


def test_an_episode_is_named_dataset_colon_index() -> None:
    assert parse_episode("oxe/bridge:3") == (DATASET, 3)
    assert parse_episode("datasets/oxe/bridge:12") == (DATASET, 12)
    assert parse_episode("a/b:c/d:0") == ("datasets/a/b:c/d", 0)  # the last colon splits
    for bad in ("oxe/bridge", "oxe/bridge:", ":3", "oxe/bridge:-1", "oxe/bridge:x"):
        with pytest.raises(EpisodeNotFound, match="DATASET:INDEX"):
            parse_episode(bad)
    assert episode_href("oxe/bridge", 3) == episode_href(DATASET, 3) == "report_episodes/oxe__bridge_3.html"


def test_the_detail_of_a_flagged_episode(corpus: Path) -> None:
    d = episode_detail(corpus, "oxe/bridge", 1)
    assert (d.dataset, d.index, d.length, d.fps) == (DATASET, 1, LENGTHS[1], 10.0)
    said = [*REASONS, FINDING.reason()]
    assert d.row["tier"] == "low" and d.row["tier_reasons"] == [grouped(r) for r in said]  # figures as #
    assert [(f["code"], f["message"]) for f in d.findings] == [(FINDING.code, FINDING.message)]
    assert lineage_notes(d.lineage) == [("hand_notes", NOTE)]
    # frames: the stored ones at the stated indices (each frame one grey level, 20 apart from its neighbours')
    (strip,) = d.strips
    assert strip.frame_indices == frame_indices(LENGTHS[1]) and strip.note == ""
    video = corpus / DATASET / "videos/chunk-000/observation.images.head/episode_000001.mp4"
    stored = dict(decode_frames(video, strip.frame_indices))
    for t, img in zip(strip.frame_indices, strip.frames, strict=True):
        np.testing.assert_array_equal(img, stored[t])
        assert abs(float(img.mean()) - (20 * t + 40) % 255) < 4, t  # written by tests.fixtures.corpus
    # signals: its length; the canonical ones cut to the dims the mask fills, the native one whole
    mask = dataset_view(corpus, DATASET, [1]).mask(0)
    by = {s.column: s for s in d.signals}
    assert list(by) == [STATE, ACTION, STATE_NATIVE] and d.missing == ["action.native"]
    assert all(len(s.values) == LENGTHS[1] for s in d.signals)
    assert by[STATE].values.shape[1] == by[ACTION].values.shape[1] == int(mask.sum()) < 50
    assert by[STATE_NATIVE].names == NATIVE
    np.testing.assert_allclose(by[STATE_NATIVE].values[-1, -1], 1.0, atol=1e-6)


def test_a_clean_episode_has_no_reason_nor_finding(corpus: Path) -> None:
    d = episode_detail(corpus, DATASET, 2)
    assert d.row["tier"] == "high" and not d.row["tier_reasons"] and d.findings == []
    assert lineage_notes(d.lineage) == []
    assert d.strips[0].frame_indices == [0, 1, 2, 3, 5, 6, 7, 8]  # 8 of its 9 frames, the first and the last


def test_an_episode_the_corpus_lacks_is_named(corpus: Path) -> None:
    said = r"no episode 7 in dataset datasets/oxe/bridge \(its episode indices: 0\.\.2, 3 episodes\)"
    with pytest.raises(EpisodeNotFound, match=said):
        episode_detail(corpus, "oxe/bridge", 7)
    with pytest.raises(EpisodeNotFound, match=r"no dataset datasets/oxe/nope in the corpus .*datasets/oxe/bridge"):
        episode_detail(corpus, "oxe/nope", 0)


def test_a_missing_video_is_said_not_skipped(corpus: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(corpus, tmp_path / "c")
    (copy / DATASET / "videos/chunk-000/observation.images.head/episode_000000.mp4").unlink()
    (strip,) = episode_detail(copy, DATASET, 0).strips
    assert strip.frames == [] and strip.note.startswith("no video file ") and "episode_000000.mp4" in strip.note


def test_notes_that_say_nothing_are_left_out() -> None:
    lin = EpisodeLineage(validity={"timestamps": 0, "short_span": 9}, interpolated_frames=0, hand_notes=["right: none"])
    assert lineage_notes(lin) == [("hand_notes", "right: none"), ("validity", "short_span: 9")]
    assert lineage_notes(EpisodeLineage(validity={"speed": 0}, interpolated_frames=2)) == [("interpolated_frames", "2")]
    same = {"x": "evidence E", "y": "evidence E", "gripper": "sampled"}
    assert lineage_notes(EpisodeLineage(native_accumulated=same)) == [
        ("native_accumulated", "x, y: evidence E; gripper: sampled")  # one evidence said once for its columns
    ]
