"""The EPIC-KITCHENS-100 writer (`adapters/synthetic/epic_kitchens.py`) against rows of the makers' annotation files
as published (epic-kitchens/epic-kitchens-100-annotations `EPIC_100_train.csv`, rows quoted in public READMEs and
tests): the same header, `HH:MM:SS.fff` narration and `HH:MM:SS.ff` start/stop times, frames numbered
`floor(t * rate)` at 60/s for EPIC-55 videos (`P01_01`) and 50/s for the extension (`P01_102`), which the real rows
obey, list-literal noun columns quoted by the CSV writer, and the videos at `<Pxx>/videos/<video_id>.MP4`."""

from __future__ import annotations

import ast
import csv
import io
import math
import re

import av
import pytest

from adapters.synthetic.epic_kitchens import HEADER, EpicFixture, write_epic_kitchens

MAKERS_HEADER = (
    "narration_id,participant_id,video_id,narration_timestamp,start_timestamp,stop_timestamp,start_frame,stop_frame,"
    "narration,verb,verb_class,noun,noun_class,all_nouns,all_noun_classes"
)
REAL_ROWS = (  # EPIC_100_train.csv rows as quoted verbatim by public READMEs
    "P01_102_0,P01,P01_102,00:00:01.100,00:00:00.54,00:00:02.23,27,111,take knife and plate,take,0,knife,4,"
    "\"['knife', 'plate']\",\"[4, 2]\"",
    "P01_01_101,P01,P01_01,00:08:00.020,00:08:01.47,00:08:02.21,28888,28932,open cupboard,open,3,cupboard,3,"
    "['cupboard'],[3]",
)
NARRATION_TS = re.compile(r"^\d\d:\d\d:\d\d\.\d{3}$")
SPAN_TS = re.compile(r"^\d\d:\d\d:\d\d\.\d{2}$")


def _seconds(ts: str) -> float:
    h, m, s = ts.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def _frame(video_id: str, ts: str) -> int:
    rate = 50 if len(video_id.split("_")[1]) == 3 else 60  # P01_102: extension; P01_01: EPIC-55
    return max(1, math.floor(round(_seconds(ts) * rate, 6)))


def _check_row(row: dict[str, str]) -> None:
    assert NARRATION_TS.match(row["narration_timestamp"]), row
    assert SPAN_TS.match(row["start_timestamp"]) and SPAN_TS.match(row["stop_timestamp"]), row
    assert int(row["start_frame"]) == _frame(row["video_id"], row["start_timestamp"]), row
    assert int(row["stop_frame"]) == _frame(row["video_id"], row["stop_timestamp"]), row
    nouns, classes = ast.literal_eval(row["all_nouns"]), ast.literal_eval(row["all_noun_classes"])
    assert len(nouns) == len(classes) and row["noun"] == nouns[0] and int(row["noun_class"]) == classes[0], row
    assert row["narration_id"].startswith(row["video_id"] + "_") and row["video_id"].startswith(row["participant_id"])


def test_the_real_rows_obey_the_conventions_checked() -> None:
    for row in csv.DictReader(io.StringIO("\n".join([MAKERS_HEADER, *REAL_ROWS]))):
        _check_row(row)


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> EpicFixture:
    return write_epic_kitchens(tmp_path_factory.mktemp("epic"), duration_s=2.0, segments_per_video=2)


def test_written_files_follow_the_makers_columns_and_conventions(fixture: EpicFixture) -> None:
    assert ",".join(HEADER) == MAKERS_HEADER
    with (fixture.root / "EPIC_100_train.csv").open(newline="") as f:
        train = list(csv.DictReader(f))
    with (fixture.root / "EPIC_100_validation.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == HEADER  # no uid column in the validation file
        validation = list(reader)
    assert list(train[0]) == ["uid", *HEADER]
    assert train and validation
    for row in train + validation:
        _check_row(row)
    assert [r["narration_id"] for r in validation] == sorted(r["narration_id"] for r in validation)


def test_videos_at_the_download_scripts_paths_and_rates(fixture: EpicFixture) -> None:
    for v in fixture.videos:
        assert v.path == fixture.root / v.video_id.split("_")[0] / "videos" / f"{v.video_id}.MP4"
        with av.open(str(v.path)) as c:
            assert c.streams.video[0].average_rate == v.rate  # e.g. 60000/1001, as the real video_info lists
