"""Which datasets the report draws past its cap (`jobs.report.families`): each family's first before any family's
second; a QA figure's datasets with a finding before the others."""

from __future__ import annotations

from pathlib import Path

from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.report.families import Family, chosen, families, figure_rows
from tests.fixtures.corpus import episode, write_dataset


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
