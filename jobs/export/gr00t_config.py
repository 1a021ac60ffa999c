"""The `modality_configs` the GR00T export prints for each dataset, to pass to GR00T's `LeRobotSingleDataset` as they
are: the observation at t (`observation_indices = [0]`) and the action chunk t .. t+15 (`action_indices =
list(range(16))`, `gr00t/experiment/data_config.py:64-65` @ f4e12be), as GR00T's own data configs; how its loader
reads those rows: jobs/export/README.md ("Timing").
"""

from __future__ import annotations

from pathlib import Path

OBSERVATION_INDICES = [0]


def modality_configs(video: list[str], state: list[str], action: list[str], annotation: list[str]) -> str:
    """The Python expression of GR00T's `modality_configs` (a dict of `ModalityConfig`) for a dataset's keys."""
    groups = (
        ("video", [f"video.{k}" for k in video], OBSERVATION_INDICES),
        ("state", [f"state.{k}" for k in state], OBSERVATION_INDICES),
        ("action", [f"action.{k}" for k in action], "list(range(16))"),
        ("language", [f"annotation.{k}" for k in annotation[:1]], OBSERVATION_INDICES),
    )
    items = [f'"{g}": ModalityConfig(delta_indices={d}, modality_keys={keys!r})' for g, keys, d in groups if keys]
    return "{" + ", ".join(items) + "}"


def loader_text(path: Path | str, configs: str) -> str:
    """What a user runs to read one exported dataset with GR00T's own loader (`from gr00t.data.dataset import
    LeRobotSingleDataset, ModalityConfig`)."""
    return (
        f"LeRobotSingleDataset({str(path)!r}, modality_configs={configs}, "
        'embodiment_tag="new_embodiment", video_backend="decord")'
    )
