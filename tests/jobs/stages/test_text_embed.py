"""`eidata text-embed`: every task text of every dataset planned shortest first, those already embedded by the same
model and layer skipped (`--force` redoes them, another layer replaces them); the actor writes each text's hidden
states as the model gives them, a batch the model refuses costs its texts only; the job on Ray embeds every task and
a rerun writes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from adapters.storage.corpus import Corpus
from ingest.encoders.qwen_vl.model import QwenVL
from ingest.files.latents import text_embedding_path
from jobs.stages.text_embed import TextEmbedActor, TextEmbedJob, TextEmbedStage
from tests.fixtures.corpus import episode, write_dataset
from tests.fixtures.qwen_vl import write_tiny_qwen3_vl
from tests.fixtures.readback import load_text_embedding

TASKS = {"datasets/oxe/bridge": ["pick the cube", "open the drawer"], "datasets/egodex/basic": ["fold"]}


def _corpus(root: Path) -> Path:
    for rel, tasks in TASKS.items():
        source, subset = rel.split("/")[1:]
        eps = [episode(4, task, f"{source}/{subset}/e{i}", "franka") for i, task in enumerate(tasks)]
        write_dataset(root / rel, "franka", eps)
    return root


def plan(root: Path, model: Path, layer: int, force: bool) -> tuple[list[dict], int]:
    """(rows, how many are up to date) of a text-embed run on the folder `root`."""
    stage = TextEmbedStage(TextEmbedJob(root=root, model=model, layer=layer, force=force))
    return stage.plan(Corpus(root)), stage.report.skipped


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_qwen3_vl(tmp_path_factory.mktemp("models") / "qwen3vl-tiny")


def test_plan_lists_every_task_shortest_first_and_skips_current_files(model: Path, tmp_path: Path) -> None:
    root = _corpus(tmp_path)
    rows, skipped = plan(root, model, -1, force=False)
    assert [r["text"] for r in rows] == ["fold", "pick the cube", "open the drawer"] and skipped == 0
    assert rows[0]["path"] == str(text_embedding_path(root / "datasets/egodex/basic", 0))
    actor = TextEmbedActor(str(model), "cpu", -1, "bfloat16", threads=1)
    actor({"path": np.array([rows[0]["path"]]), "text": np.array([rows[0]["text"]])})
    rows, skipped = plan(root, model, -1, force=False)
    assert [r["text"] for r in rows] == ["pick the cube", "open the drawer"] and skipped == 1
    assert len(plan(root, model, -1, force=True)[0]) == 3
    assert len(plan(root, model, 0, force=False)[0]) == 3  # another layer: replaced
    tasks = root / "datasets/egodex/basic/meta/tasks.jsonl"
    tasks.write_text(tasks.read_text().replace('"fold"', '"unfold"'))  # the dataset rebuilt, its tasks renumbered
    assert "unfold" in [r["text"] for r in plan(root, model, -1, force=False)[0]]  # another text: replaced
    tasks.write_text(tasks.read_text().replace('"unfold"', '"fold"'))
    assert plan(root, model, -1, force=False)[1] == 1  # its own text again: done
    text_embedding_path(root / "datasets/egodex/basic", 0).write_bytes(b"torn")
    assert plan(root, model, -1, force=False)[1] == 0  # a file whose header cannot be read: redone


def test_the_actor_writes_what_the_model_gives(model: Path, tmp_path: Path) -> None:
    root = _corpus(tmp_path)
    paths = [text_embedding_path(root / "datasets/oxe/bridge", i) for i in (0, 1)]
    texts = TASKS["datasets/oxe/bridge"]
    out = TextEmbedActor(str(model), "cpu", 1, "bfloat16", threads=1)(
        {"path": np.array([str(p) for p in paths]), "text": np.array(texts)}
    )
    assert list(out["error"]) == ["", ""]
    vlm = QwenVL(model, device="cpu")
    for i, (ids, hidden) in enumerate(vlm.embed(texts, 1)):
        e = load_text_embedding(root / "datasets/oxe/bridge", i)
        assert out["tokens"][i] == len(ids) and e.input_ids.tolist() == list(ids)
        assert e.hidden_states.dtype == torch.bfloat16 and (e.meta.layer, e.meta.text) == (1, texts[i])
        torch.testing.assert_close(e.hidden_states, hidden.to(torch.bfloat16))


def test_a_batch_the_model_refuses_costs_its_texts_only(model: Path, tmp_path: Path) -> None:
    out = TextEmbedActor(str(model), "cpu", -1, "bfloat16", threads=1)(
        {"path": np.array([str(tmp_path / "a"), str(tmp_path / "b")]), "text": np.array(["", "pick"])}
    )
    assert all(err for err in out["error"]) and list(out["tokens"]) == [0, 0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.shared_ray
def test_the_job_embeds_every_task_and_a_rerun_writes_nothing(model: Path, tmp_path: Path) -> None:
    root = _corpus(tmp_path)
    job = TextEmbedJob(root=root, model=model, num_cpus=2, object_store_mb=256, batch_size=2)
    report = TextEmbedStage(job).run(progress=False)
    assert (report.written, report.skipped, report.failed) == (3, 0, [])
    texts = [t for tasks in TASKS.values() for t in tasks]
    assert report.tokens == sum(len(ids) for ids, _ in QwenVL(model, device="cpu").embed(texts))
    again = TextEmbedStage(job).run(progress=False)
    assert (again.written, again.skipped) == (0, 3) and "3 up to date" in again.summary()
