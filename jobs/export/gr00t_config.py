"""How GR00T reads an exported dataset (NVIDIA/Isaac-GR00T @ f4e12be), and the `modality_configs` the export prints
for each dataset, to pass to GR00T's `LeRobotSingleDataset` as they are.

GR00T's loader takes, for a step at row t of an episode, every key's rows `t + delta_indices`
(`gr00t/data/dataset.py:702`); its data configs read the observation at t (`observation_indices = [0]`) and the
action chunk t .. t+15 (`action_indices = list(range(16))`, `gr00t/experiment/data_config.py:64-65`), each row as
recorded: the action row t is the command recorded at t, as eidata's corpus stores it (no shift). Past the episode's
end an absolute key repeats its last row and a relative one is 0 (`dataset.py:612-620,733`; `absolute` defaults to
true, `gr00t/data/schema.py:68`).
"""

from __future__ import annotations

from pathlib import Path

OBSERVATION_INDICES = [0]
ACTION_INDICES = list(range(16))


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
