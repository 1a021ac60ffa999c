"""Why lerobot 0.6.1's own converter cannot be the path for our datasets (issue 24 item 2), shown on datasets written
by lerobot 0.3.3 itself, so no eidata file is involved: `convert_dataset_v21_to_v30` converts a v2.1 dataset whose
features are all 1-D, and crashes on the same dataset with one 2-D feature, in `concat_data_files` ->
`pd.concat` -> pandas' `ExtensionDtype.__eq__`, which iterates `_metadata`: datasets 4.8's
`PandasArrayExtensionDtype._metadata` is the string "value_type", not a tuple, so pandas asks for attribute "v".
A valid v2.1 dataset with a 2-5-D feature (what lerobot 0.3.3 writes as datasets' ArrayND) therefore cannot be
converted, nor can the canonical corpus (its [2, 21, 3] keypoints); `eidata export --format lerobot-v3` writes v3.0
directly, and `--format lerobot-v21` writes v2.1 with every feature flat, which the converter takes
(`test_clients.py`; jobs/export/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def _write_v21(run_oracle, root: Path, work: Path, with_2d: bool) -> None:
    rng = np.random.default_rng(0)
    features = {
        "observation.images.cam": {"dtype": "video", "shape": [32, 32, 3], "names": ["height", "width", "channels"]},
        "observation.state": {"dtype": "float32", "shape": [3], "names": ["a", "b", "c"]},
    }
    if with_2d:
        features["observation.keypoints"] = {"dtype": "float32", "shape": [2, 3], "names": None}
    work.mkdir(parents=True)
    (work / "spec.json").write_text(json.dumps({"features": features, "fps": 10, "tasks": ["pick", "place"]}))
    frames = {}
    for ep in range(2):
        frames[f"{ep}:observation.images.cam"] = rng.integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
        frames[f"{ep}:observation.state"] = rng.normal(size=(6, 3)).astype(np.float32)
        if with_2d:
            frames[f"{ep}:observation.keypoints"] = rng.normal(size=(6, 2, 3)).astype(np.float32)
    np.savez(work / "frames.npz", **frames)
    run_oracle("write", root, "--spec", work / "spec.json", "--frames", work / "frames.npz")


@pytest.mark.slow
def test_converter_fails_on_a_2d_feature_written_by_lerobot_itself(run_oracle, run_oracle_v30, tmp_path: Path):
    flat, nd = tmp_path / "flat", tmp_path / "nd"
    _write_v21(run_oracle, flat, tmp_path / "w1", with_2d=False)
    _write_v21(run_oracle, nd, tmp_path / "w2", with_2d=True)
    assert run_oracle_v30("convert", flat)["ok"]
    assert json.loads((flat / "meta" / "info.json").read_text())["codebase_version"] == "v3.0"
    failed = run_oracle_v30("convert", nd)
    assert not failed["ok"]
    assert failed["error"] == "AttributeError: 'PandasArrayExtensionDtype' object has no attribute 'v'"
    assert any(w.endswith(":concat_data_files") for w in failed["where"])
