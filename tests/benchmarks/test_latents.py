"""`benchmarks.latents --parts model --smoke`: the transformers reference's keys, and no PyAV or Ray imported.

One run (about 13 s on the 2-vCPU VM) under `-X importtime`, which lists every module the process imported on stderr:
the run itself is the real `python -m` entry point, with nothing added to the benchmark to report its imports. It is
one of the smoke runs started in the background when collection ends (`smoke_runs.MODEL_PART`).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.benchmarks.smoke_runs import MODEL_PART, start

IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def model_part() -> tuple[dict, set[str]]:
    """(the JSON line, the top-level packages imported) of the model part's smoke run."""
    proc = start({MODEL_PART})[MODEL_PART].result()
    logs = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("import time:"))
    assert proc.returncode == 0, f"exited {proc.returncode}; stderr:\n{logs[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), {m.split(".")[0] for m in IMPORTED.findall(proc.stderr)}


def test_the_model_part_reports_the_reference_beside_ours(model_part: tuple[dict, set[str]]) -> None:
    result, _ = model_part
    assert result["parts"] == "model"
    for key in ("model_img_s", "reference_img_s", "reference_img_s_per_cpu_s", "model_vs_reference", "actor_img_s"):
        assert result[key] > 0, key
    assert result["model_vs_reference"] == pytest.approx(result["model_img_s"] / result["reference_img_s"], rel=0.01)
    assert isinstance(result["timm"], str)  # the timm model that ran, or why none did
    assert "timm_img_s" in result or not result["timm"].startswith("vit_")
    assert not {k for k in result if k.startswith(("decode", "write", "e2e", "cores_to_feed"))}


def test_the_model_part_imports_no_ray(model_part: tuple[dict, set[str]]) -> None:
    assert "ray" not in model_part[1]


def test_the_model_part_imports_no_pyav(model_part: tuple[dict, set[str]]) -> None:
    assert "av" not in model_part[1]
