"""Where each VITRA dataset's raw video is looked for (`adapters.vitra.videos`): the flat `videos/` folder first,
EPIC-KITCHENS by participant, and an undistorted copy for every dataset whose originals are distorted."""

from __future__ import annotations

from adapters.vitra.videos import DATASETS, LAYOUTS, candidates


def test_every_dataset_has_a_layout_and_the_flat_folder_first() -> None:
    assert set(LAYOUTS) == set(DATASETS)
    for dataset, layout in LAYOUTS.items():
        assert layout.kept[0].startswith("videos/{video}."), dataset
        assert bool(layout.distorted) == bool(layout.undistort), dataset  # a refusal always names the fix


def test_epic_videos_sit_under_their_participant() -> None:
    found = candidates(LAYOUTS["epic"].kept, "P01_101")
    assert "P01/videos/P01_101.MP4" in found and found[0] == "videos/P01_101.MP4"
    assert candidates(LAYOUTS["somethingsomethingv2"].kept, "12345")[0] == "videos/12345.webm"
