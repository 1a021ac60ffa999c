"""A small corpus to plan the LingBot-VA export from: a Franka dataset whose episodes get their segments from the
source (Chinese with an English translation, and one too short for a latent file), a caption, or the task; and an
actionless clip."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.corpus import episode, write_dataset

FRANKA, EGO = "datasets/franka/pick", "datasets/ego4d/clips"
SEGMENTS = [
    {"start_frame": 0, "end_frame": 10, "action_text": "抓取立方体", "english_action_text": "grasp the cube"},
    {"start_frame": 10, "end_frame": 12, "action_text": "let go"},  # 1 frame at 5 fps: no latent file
]


def write_small_corpus(root: Path) -> Path:
    caption = {"text": "lift the red cube", "task_index": 0, "kind": "rule", "model": "rules", "original": "pick"}
    episodes = [
        {**episode(12, "pick", "franka/pick/e0", "franka"), "action_config": SEGMENTS},
        episode(11, "pick", "franka/pick/e1", "franka", caption=caption),
        episode(9, "open the drawer", "franka/pick/e2", "franka"),
    ]
    write_dataset(root / FRANKA, "franka", episodes)
    none = [0] * 50
    write_dataset(
        root / EGO, "human_video", [episode(10, "walk", "ego4d/clips/e0", "human_video", mask=none)], mask=none
    )
    return root
