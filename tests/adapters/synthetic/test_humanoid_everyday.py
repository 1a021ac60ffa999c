"""The Humanoid Everyday writer (`adapters/synthetic/humanoid_everyday.py`) against the maker's schema and layout
(ausbxuse/Humanoid-Everyday@80e302b README.md:129-270, humanoid_everyday/core.py:54-149): a `<task>.zip` holding
`<task>/episode_<n>/data.json` (a list of steps with the README's keys) and the `color/`, `depth/`, `lidar/` files the
steps name; depth decompresses to 480x640 uint16 as core.py reads it; G1 steps carry `robot_type`, H1 ones do not."""

from __future__ import annotations

import json
import lzma
import zipfile
from pathlib import Path

import cv2
import numpy as np

from adapters.synthetic.humanoid_everyday import EpisodeSpec, write_task

STATE_KEYS = {"arm_state", "leg_state", "hand_state", "hand_pressure_state", "imu", "odometry"}
ACTION_KEYS = {
    "right_angles",
    "left_angles",
    "armtime",
    "iktime",
    "sol_q",
    "tau_ff",
    "head_rmat",
    "left_pose",
    "right_pose",
}


def test_the_zip_holds_the_makers_tree_and_keys(tmp_path: Path) -> None:
    z = write_task(tmp_path, "wipe_table", [EpisodeSpec("g1", steps=6, leading_null=2), EpisodeSpec("h1", steps=5)])
    with zipfile.ZipFile(z) as f:
        names = set(f.namelist())
        for n, (robot, steps) in enumerate((("g1", 6), ("h1", 5))):
            doc = json.loads(f.read(f"wipe_table/episode_{n}/data.json"))
            assert isinstance(doc, list) and len(doc) == steps
            for i, step in enumerate(doc):
                assert set(step) == {"time", "states", "actions", "image", "depth", "lidar"} | (
                    {"robot_type"} if robot == "g1" else set()
                )
                assert set(step["states"]) == STATE_KEYS
                assert step["actions"] is None if (robot == "g1" and i < 2) else set(step["actions"]) == ACTION_KEYS
                for key in ("image", "depth", "lidar"):
                    assert f"wipe_table/episode_{n}/{step[key]}" in names
            widths = (14, 15, 14) if robot == "g1" else (14, 13, 12)
            s = doc[-1]["states"]
            assert (len(s["arm_state"]), len(s["leg_state"]), len(s["hand_state"])) == widths
            depth = lzma.decompress(f.read(f"wipe_table/episode_{n}/{doc[0]['depth']}"))
            assert np.frombuffer(depth, np.uint16).reshape(480, 640).shape == (480, 640)
            png = f.read(f"wipe_table/episode_{n}/{doc[3]['image']}")
            rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            assert rgb.shape == (480, 640, 3) and tuple(rgb[5, 5]) == (230, 20, 20) and rgb[0, 40, 2] == 3


def test_an_extracted_task_folder(tmp_path: Path) -> None:
    folder = write_task(tmp_path, "wipe_table", [EpisodeSpec(steps=3)], zipped=False)
    assert (folder / "episode_0" / "data.json").is_file() and (folder / "episode_0" / "color").is_dir()
