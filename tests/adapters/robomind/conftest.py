"""The RoboMIND family's shared fixture and helpers: a release with every robot layout (and a UR episode with step
annotations), and the refs discovered in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.base import EpisodeRef
from adapters.robomind.adapter import RoboMINDAdapter
from adapters.synthetic.robomind import EpisodeSpec, WrittenEpisode, write_robomind
from tests.fixtures.specs import robomind_specs
from tests.fixtures.writers.robomind import write_instructions

N = 40


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, WrittenEpisode]]:
    root = tmp_path_factory.mktemp("robomind")
    specs = [*robomind_specs(N), EpisodeSpec("ur_1rgb", "bread_in_basket_1", "1014_140258", N, split=None)]
    written = write_robomind(root, specs)
    write_instructions(root, {"bread_in_basket_1": "Put bread into the basket"})
    ann = root / "language_description_annotation_json"
    ann.mkdir()
    steps = [{"step_description": "move towards the bread", "start_frame": "camera_top_0000.jpg",
              "end_frame": "camera_top_0009.jpg"},
             {"step_description": "grab the bread", "start_frame": "camera_top_0012.jpg",
              "end_frame": "camera_top_0030.jpg"}]  # fmt: skip
    (ann / "h5_ur_1rgb.json").write_text(
        json.dumps(
            [
                {
                    "id": "h5_ur_1rgb/bread_in_basket_1/success_episodes/1014_140258/data",
                    "response": {"task_summary": "Take the bread away", "steps": steps},
                }
            ]
        )
    )
    return root, written


def discover_refs(root: Path, **options: object) -> list[EpisodeRef]:
    return list(RoboMINDAdapter(options).discover(root))


def robot_ref(root: Path, robot: str, **options: object) -> EpisodeRef:
    return next(r for r in discover_refs(root, **options) if r.subset == robot)
