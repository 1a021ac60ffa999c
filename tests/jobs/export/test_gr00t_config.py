"""`jobs/export/gr00t_config.py`: the `modality_configs` and loader call the export prints are Python that builds
GR00T's `ModalityConfig`s with its data configs' indices (observation [0], action t .. t+15), one language key.
GR00T's own loader running the printed text: `test_gr00t_loader.py`."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.export.gr00t_config import OBSERVATION_INDICES, loader_text, modality_configs


@dataclass
class ModalityConfig:  # GR00T's fields (gr00t/data/dataset.py:96-102 @ f4e12be)
    delta_indices: list[int]
    modality_keys: list[str]


def test_printed_configs_build_gr00ts_modality_configs() -> None:
    text = modality_configs(["head"], ["native"], ["native"], ["human.action.task_description", "eidata.caption"])
    configs = eval(text, {"ModalityConfig": ModalityConfig})
    assert configs == {
        "video": ModalityConfig([0], ["video.head"]),
        "state": ModalityConfig([0], ["state.native"]),
        "action": ModalityConfig(list(range(16)), ["action.native"]),
        "language": ModalityConfig([0], ["annotation.human.action.task_description"]),
    }
    assert OBSERVATION_INDICES == [0]
    assert "video" not in eval(modality_configs([], ["a"], ["a"], ["t"]), {"ModalityConfig": ModalityConfig})


def test_loader_text_calls_gr00ts_dataset_with_decord() -> None:
    calls = []
    text = loader_text("/data/out/lab/cr5", modality_configs(["head"], ["native"], ["native"], ["t"]))
    eval(text, {"ModalityConfig": ModalityConfig, "LeRobotSingleDataset": lambda *a, **k: calls.append((a, k))})
    ((args, kwargs),) = calls
    assert args == ("/data/out/lab/cr5",) and kwargs["video_backend"] == "decord"
    assert kwargs["embodiment_tag"] == "new_embodiment" and set(kwargs["modality_configs"]) == {
        "video",
        "state",
        "action",
        "language",
    }
