"""The report's frame strips (`jobs.report.strips`): one composed image per strip with the projected keypoints drawn
where they project; at most `MAX_STRIPS` strips, one per family (source, embodiment) before any family's second, and
every dataset not drawn named in its family's row.

Which datasets the report draws past its cap (`jobs.report.strips`): each family's first before any family's
second; a QA figure's datasets with a finding before the others.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.report import strips
from jobs.report.data import Strip
from jobs.report.strips import HAND_RGB, Family, chosen, families, figure_rows, frames_html, strip_image
from tests.fixtures.corpus import episode, write_dataset


def test_projected_keypoints_are_drawn_on_their_frame() -> None:
    projected = np.full((2, 21, 2), np.nan)
    projected[1] = np.c_[np.linspace(5, 25, 21), np.linspace(4, 14, 21)]  # the right hand only
    frames = [np.zeros((24, 32, 3), np.uint8), np.zeros((24, 32, 3), np.uint8)]
    strip = Strip("datasets/egodex/basic", 0, "observation.images.head", [7, 9], frames, projected=[projected] * 2)
    strip.hands, strip.method = [1], "projected"
    image, bones = strip_image(strip, height=48)  # frames scaled x2, side by side with a gap
    pixels = np.asarray(image)
    assert image.size == (2 * 64 + strips.GAP, 48) and bones == 0  # no side panel
    drawn = np.argwhere((pixels == HAND_RGB[1]).all(axis=-1))  # (y, x) of the right hand's colour
    first = drawn[drawn[:, 1] < 64]
    assert len(first) > 20 and not (pixels == HAND_RGB[0]).all(axis=-1).any()  # the left hand is not drawn
    # every drawn pixel lies near the projected points, scaled by 2
    pts = projected[1] * 2
    near = np.min(np.hypot(first[:, 1, None] - pts[None, :, 0], first[:, 0, None] - pts[None, :, 1]), axis=1)
    assert near.max() < 4


def test_a_corpus_past_the_cap_draws_the_cap_and_names_every_other_dataset(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "c"
    names = [f"oxe/bridge_{k}" for k in range(4)] + ["ego/clips"]
    for name in names[:4]:
        write_dataset(root / "datasets" / name, "franka", [episode(4, "pick", f"{name}/e0", "franka")], camera=(24, 32))
    write_dataset(
        root / "datasets/ego/clips",
        "human_video",
        [episode(4, "cook", "ego/clips/e0", "human_video", mask=[0] * 50)],
        mask=[0] * 50,
        camera=(24, 32),
    )
    rebuild_catalog(Corpus(root))
    monkeypatch.setattr(strips, "MAX_STRIPS", 3)
    opened: list[str] = []
    view = strips.dataset_view
    monkeypatch.setattr(strips, "dataset_view", lambda r, n, *a, **k: opened.append(n) or view(r, n, *a, **k))
    html = frames_html(root, "ROOT")
    assert opened == ["datasets/ego/clips", "datasets/oxe/bridge_0", "datasets/oxe/bridge_1"]  # 3: each family first
    assert len(re.findall(r"<img ", html)) == 3 and "3 of the 5 datasets drawn" in html
    row = re.search(r"<tr><td>oxe · franka</td>(.*?)</tr>", html).group(1)
    assert (
        row == "<td>4</td><td>oxe/bridge_0, oxe/bridge_1</td><td>oxe/bridge_2, oxe/bridge_3</td><td>none</td>"
    )  # drawn, and not drawn: named
    assert "--episode DATASET:0" in html


def test_the_cap_takes_one_dataset_of_each_family_first() -> None:
    a = Family("oxe", "widowx", [f"datasets/oxe/b{k:02d}" for k in range(30)])
    b = Family("g1", "unitree", ["datasets/g1/x", "datasets/g1/y"], ["datasets/g1/novideo"])
    c = Family("ego", "human", ["datasets/ego/z"])
    picked = chosen([a, b, c], cap=5)
    assert picked == sorted(
        ["datasets/oxe/b00", "datasets/g1/x", "datasets/ego/z", "datasets/oxe/b01", "datasets/g1/y"]
    )
    assert chosen([a, b, c], cap=100) == sorted(a.datasets + b.datasets + c.datasets)  # under the cap: every one


def test_a_figure_draws_the_datasets_with_a_finding_first(tmp_path: Path) -> None:
    root = tmp_path / "c"
    for k in range(4):
        name = f"oxe/bridge_{k}"
        write_dataset(root / "datasets" / name, "franka", [episode(4, "pick", f"{name}/e0", "franka")], camera=(24, 32))
    clip = episode(4, "cook", "ego/clips/e0", "human_video", mask=[0] * 50)
    write_dataset(root / "datasets/ego/clips", "human_video", [clip], mask=[0] * 50)
    rebuild_catalog(Corpus(root))
    found = families(root)
    assert [(f.label, len(f.datasets), f.no_video) for f in found] == [
        ("ego · human_video", 1, []),  # the fixture writes a camera by default
        ("oxe · franka", 4, []),
    ]
    names = ["datasets/ego/clips", *(f"datasets/oxe/bridge_{k}" for k in range(4))]
    rows = figure_rows(root, names, {"datasets/oxe/bridge_3"}, cap=3)
    assert rows == ["datasets/ego/clips", "datasets/oxe/bridge_0", "datasets/oxe/bridge_3"]
    assert figure_rows(root, names, set(), cap=5) == names  # under the cap: every one, in order
