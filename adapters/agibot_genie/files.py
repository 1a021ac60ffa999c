"""AgiBot Genie Sim / A2D exports on disk: where the episodes are, what their JSON files say, and `action_config`.

Layout (the maker's converter `sim_data_converter.py` and a third-party AgiBot -> GR00T LeRobot converter's folder
names, cited in adapters/README.md `agibot_genie`): `<job>/<sn>/<episode>/` holding
- `aligned_joints.h5` (`h5.py`),
- `meta_info.json`: `job_id`, `episode_id`, `task_id`, `robot_type` ("A2D" for the G1, "G2A"), `sw_version`
  ("genie-sim" from the simulator), `text` ('{"description":"SIM"]}', not valid JSON, kept as a string),
  `ee_list` (the grippers, e.g. "zhiyuan_gripper_omnipicker"), `clip_start_time` / `clip_end_time` (s), `duration`,
- `data_info.json`: `task_name` / `english_task_name`, `init_scene_text`, `sn_code`, `job_id`, `episode_id`,
  `label_info.action_config` and `label_info.key_frame.dual` (injected error frames with `start` / `end`),
- `parameters/sensor/`, `camera/<frame>/`, `logs/`, `record/`, `post_proc/` and the `*_color.mp4` videos.

`action_config` ends are inclusive: the converter closes a segment at `end_frame - 1` where `end_frame` is the first
frame of the next one (`genrate_data_info`), so consecutive segments [0, 9], [10, 19] tile the frames. They become
half-open `ActionSegment`s [start, end + 1); the segment's other keys (`skill`, `english_action_text`) are kept.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from adapters.base import reraised
from adapters.hostile import bounds
from adapters.storage.location import Location
from schemas.lerobot import ActionSegment


def read_json(path: Location, fail: Any) -> dict[str, Any]:
    """A JSON object from `path`; `fail(message, field)` raises for a missing, unreadable or non-object file."""
    if not path.is_file():
        raise fail(f"{path.name} is missing", path.name)
    with reraised((OSError, ValueError), lambda e: fail(f"unreadable {path.name}: {e}", path.name)):
        data = bounds.load_json(path, path.name, bounds.limit("SIDECAR_BYTES"))
    if not isinstance(data, dict):
        raise fail(f"{path.name} holds a {type(data).__name__}, expected an object", path.name)
    return data


def is_simulation(meta: dict[str, Any]) -> bool:
    """The simulator's mark in meta_info.json: `sw_version` "genie-sim" or the description "SIM" in `text`."""
    return "sim" in str(meta.get("sw_version", "")).lower() or '"sim"' in str(meta.get("text", "")).lower()


def inclusive_segments(info: dict[str, Any], fail: Any) -> list[ActionSegment] | None:
    """`label_info.action_config` with inclusive ends -> half-open segments; None when the file has none;
    `fail(message, field)` raises for a malformed one."""
    label = info.get("label_info")
    config = label.get("action_config") if isinstance(label, dict) else None
    if config is None:
        return None
    if not isinstance(config, list):
        raise fail(f"action_config is a {type(config).__name__}, expected a list", "label_info.action_config")
    segments = []
    for i, seg in enumerate(config):
        field = f"label_info.action_config[{i}]"
        try:
            start, end = int(seg["start_frame"]), int(seg["end_frame"])
            text = seg.get("english_action_text") or seg.get("action_text") or ""
            extra = {k: v for k, v in seg.items() if k not in ("start_frame", "end_frame", "action_text")}
            segments.append(ActionSegment(start_frame=start, end_frame=end + 1, action_text=str(text), **extra))
        except (KeyError, TypeError, ValueError, ValidationError) as e:
            why = e.errors()[0]["msg"] if isinstance(e, ValidationError) else repr(e)
            raise fail(f"bad segment (inclusive end): {why}", field) from e
    return segments


def error_frames(info: dict[str, Any]) -> list[dict[str, Any]]:
    """`label_info.key_frame.dual`: the frames where the simulator injected an error (drop, missed grasp...)."""
    label = info.get("label_info")
    key_frame = label.get("key_frame") if isinstance(label, dict) else None
    dual = key_frame.get("dual") if isinstance(key_frame, dict) else None
    return [d for d in dual if isinstance(d, dict)] if isinstance(dual, list) else []
