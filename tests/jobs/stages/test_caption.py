"""`eidata caption` end to end on embedded Ray with a tiny random Qwen3-VL: captions and text embeddings per the
contract, equal to one-by-one model calls (the Ray actors batch them), catalog `caption_ready`, a no-op rerun, the
rule-only path and its notice through the CLI, and the real lerobot loading the captioned dataset."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from ingest.encoders.caption_rules import normalize_instruction
from ingest.encoders.qwen_vl.model import QwenVL, episode_vision_input
from jobs.catalog.query import run_query
from jobs.cli import main
from jobs.stages.caption import NO_MODEL, CaptionJob, CaptionReport, CaptionStage
from tests.fixtures.corpus import episode, write_dataset
from tests.fixtures.qwen_vl import write_tiny_qwen3_vl
from tests.fixtures.readback import load_text_embedding

pytestmark = pytest.mark.shared_ray  # the module's jobs run on one Ray (tests/ray_scope.py)

EGO4D = ["#C C picks up the cup from the table", "#O man X hands a knife to C", "unspecified"]
EGODEX = ["Put the lid on the jar.", "put the lid on the jar"]


def _corpus(base: Path) -> Path:
    root = base / "corpus"
    lengths = [12, 8, 9]
    write_dataset(
        root / "datasets/ego4d/default",
        "human",
        [episode(lengths[i], t, f"ego4d/default/{i}", "human") for i, t in enumerate(EGO4D)],
    )
    write_dataset(
        root / "datasets/egodex/basic",
        "human",
        [episode(10, t, f"egodex/basic/{i}", "human") for i, t in enumerate(EGODEX)],
    )
    return root


def _meta_bytes(root: Path) -> dict[str, str]:
    files = sorted([*root.glob("datasets/**/meta/*"), *root.glob("datasets/**/latents/text/*")])
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_qwen3_vl(tmp_path_factory.mktemp("models") / "qwen3vl-tiny")


@pytest.fixture(scope="module")
def captioned(model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CaptionReport]:
    root = _corpus(tmp_path_factory.mktemp("vlm"))
    job = CaptionJob(root=root, model=model, text_embeddings=True, num_cpus=2, object_store_mb=256, batch_size=4)
    return root, CaptionStage(job).run(progress=False)


@pytest.fixture(scope="module")
def vlm(model: Path) -> QwenVL:
    return QwenVL(model, device="cpu")


def test_captions_follow_the_contract(captioned: tuple[Path, CaptionReport]) -> None:
    root, report = captioned
    assert (report.kind, report.model, report.vlm + report.rule, report.failed) == ("vlm", "qwen3vl-tiny", 5, [])
    assert report.vlm >= 3  # mostly the model's answers (an empty one falls back to the rules)
    for rel, originals in (("ego4d/default", EGO4D), ("egodex/basic", EGODEX)):
        ds = root / "datasets" / rel
        tasks = {t["task_index"]: t["task"] for t in _jsonl(ds / "meta/tasks.jsonl")}
        assert json.loads((ds / "meta/info.json").read_text())["total_tasks"] == len(tasks)
        assert list(tasks) == list(range(len(tasks)))
        assert [tasks[i] for i in range(len(set(originals)))] == list(dict.fromkeys(originals))  # originals first
        assert len(set(tasks.values())) == len(tasks)  # deduplicated
        for ep, original in zip(_jsonl(ds / "meta/episodes.jsonl"), originals, strict=True):
            cap = ep["eidata"]["caption"]
            assert ep["tasks"] == [original] and cap["original"] == original
            assert cap["kind"] in ("vlm", "rule") and tasks[cap["task_index"]] == cap["text"]
            assert cap["model"] == ("qwen3vl-tiny" if cap["kind"] == "vlm" else "eidata-rules-1")


def test_batched_captions_equal_one_by_one_calls(captioned: tuple[Path, CaptionReport], vlm: QwenVL) -> None:
    """What the Ray actors wrote (batches of 4, left-padded) is what the model answers for each episode alone."""
    root, _ = captioned
    for ds in sorted((root / "datasets").glob("*/*")):
        for ep in _jsonl(ds / "meta/episodes.jsonl"):
            i, original = ep["episode_index"], ep["tasks"][0]
            video = ds / f"videos/chunk-000/observation.images.head/episode_{i:06d}.mp4"
            vision = episode_vision_input(video, ep["length"], 4, vlm.image_config)
            assert len(vision.grid_thw) == 4
            (answer,) = vlm.generate([(normalize_instruction(original), vision)], max_new_tokens=32)
            cap = ep["eidata"]["caption"]
            expected = normalize_instruction(answer)
            if expected is None:  # an empty answer falls back to the rules
                assert (cap["kind"], cap["fallback_from"]) == ("rule", "qwen3vl-tiny")
                expected = normalize_instruction(original)
            assert cap["text"] == expected, (ds.name, i)


def test_text_embeddings_of_every_task(captioned: tuple[Path, CaptionReport], vlm: QwenVL) -> None:
    root, report = captioned
    assert report.text is not None and report.text.failed == []
    n = 0
    for ds in sorted((root / "datasets").glob("*/*")):
        for t in _jsonl(ds / "meta/tasks.jsonl"):
            e = load_text_embedding(ds, t["task_index"])
            ids, hidden = vlm.embed([t["task"]], layer=-1)[0]  # one by one; the job embedded batches
            assert e.input_ids.tolist() == ids.tolist()
            assert (e.meta.model, e.meta.layer, e.meta.text, e.meta.dtype) == (
                "qwen3vl-tiny",
                -1,
                t["task"],
                "bfloat16",
            )
            torch.testing.assert_close(e.hidden_states, hidden.to(torch.bfloat16), rtol=1.6e-2, atol=1e-2)
            n += 1
    assert report.text.written == n


def test_catalog_shows_the_captions(captioned: tuple[Path, CaptionReport]) -> None:
    root, _ = captioned
    rows = run_query(root, "SELECT dataset, episode_index, task, caption, caption_ready FROM episodes ORDER BY 1, 2")
    rows = rows.to_pylist()
    assert len(rows) == 5 and all(r["caption_ready"] for r in rows)
    for r in rows:
        ep = _jsonl(root / r["dataset"] / "meta/episodes.jsonl")[r["episode_index"]]
        assert r["caption"] == ep["eidata"]["caption"]["text"] and r["task"] == ep["tasks"][0]


def test_rerun_is_a_noop(captioned: tuple[Path, CaptionReport], model: Path) -> None:
    root, _ = captioned
    before = _meta_bytes(root)
    job = CaptionJob(root=root, model=model, text_embeddings=True, num_cpus=2, object_store_mb=256)
    report = CaptionStage(job).run(progress=False)
    assert (report.vlm, report.rule, report.skipped) == (0, 0, 5)
    assert report.text.written == 0 and report.text.skipped == len([k for k in before if "latents/text" in k])
    assert _meta_bytes(root) == before


@pytest.mark.gpu
def test_gpu_actors_caption_in_bfloat16(model: Path, tmp_path: Path) -> None:
    root = _corpus(tmp_path)
    job = CaptionJob(root=root, model=model, device="cuda", text_embeddings=True, object_store_mb=256)
    report = CaptionStage(job).run(progress=False)
    assert (report.vlm + report.rule, report.failed, report.text.failed) == (5, [], [])
    e = load_text_embedding(root / "datasets/egodex/basic", 0)
    assert e.hidden_states.dtype == torch.bfloat16 and e.meta.model == "qwen3vl-tiny"


@pytest.mark.oracle
def test_lerobot_loads_the_captioned_dataset(captioned: tuple[Path, CaptionReport], run_oracle: Any) -> None:
    root, _ = captioned
    ds = root / "datasets/ego4d/default"
    out = run_oracle("load", ds, "--items", "0,12")
    tasks = {t["task_index"]: t["task"] for t in _jsonl(ds / "meta/tasks.jsonl")}
    assert out["num_episodes"] == 3 and out["episode_lengths"] == [12, 8, 9]
    assert {int(k): v for k, v in out["tasks"].items()} == tasks
    assert [out["items"][k]["task"] for k in ("0", "12")] == EGO4D[:2]  # frames keep their original task


def test_rules_only_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _corpus(tmp_path)
    assert main(["caption", str(root)]) == 0
    out = capsys.readouterr()
    assert NO_MODEL in out.err and "4 by the rules" in out.out and "1 without any text" in out.out
    eps = _jsonl(root / "datasets/ego4d/default/meta/episodes.jsonl")
    assert [e["eidata"].get("caption", {}).get("text") for e in eps] == [
        "pick up the cup from the table",
        "hand a knife to the camera wearer",
        None,
    ]
    assert eps[0]["eidata"]["caption"]["kind"] == "rule"
    before = _meta_bytes(root)
    assert main(["caption", str(root)]) == 0 and _meta_bytes(root) == before
    assert "0 by the rules, 4 already done" in capsys.readouterr().out
    rows = run_query(root, "SELECT count(*) FILTER (WHERE caption_ready) AS n FROM episodes").to_pylist()
    assert rows == [{"n": 4}]


def test_cli_usage_errors(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _corpus(tmp_path)
    assert main(["text-embed", str(root)]) == 2
    assert "text embeddings need a model" in capsys.readouterr().err
    assert main(["caption", str(root), "--text-embeddings"]) == 2
    assert "--text-embeddings needs --model" in capsys.readouterr().err
    assert main(["text-embed", str(root), "--model", str(model), "--layer", "5"]) == 2
    assert "outside the 3 hidden states" in capsys.readouterr().err
    assert main(["caption", str(tmp_path / "nothing")]) == 2
    not_model = tmp_path / "empty"
    not_model.mkdir()
    assert main(["caption", str(root), "--model", str(not_model)]) == 2
    shutil.rmtree(root)


def test_a_bucket_root_stays_a_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bucket ROOT is kept as its URL (a Path would fold its `//`), with or without a model; a model folder that is
    not one and --text-embeddings without a model are refused by the CLI before any request to the store (the
    bucket here does not exist)."""
    assert CaptionJob(root="s3://out/corpus/").root == "s3://out/corpus"
    assert CaptionJob(root=str(tmp_path)).root == tmp_path
    assert CaptionJob(root="s3://out/corpus", model=tmp_path, text_embeddings=True).root == "s3://out/corpus"
    with pytest.raises(ValidationError, match="must be s3://"):
        CaptionJob(root="gs://out/corpus")
    assert main(["caption", "s3://no-such-bucket/corpus", "--model", str(tmp_path)]) == 2
    assert f"{tmp_path}: not a model folder (no config.json)" in capsys.readouterr().err
    assert main(["caption", "s3://no-such-bucket/corpus", "--text-embeddings"]) == 2
    assert "--text-embeddings needs --model" in capsys.readouterr().err


@pytest.mark.own_ray  # asserts that no Ray runs
def test_a_dry_run_plans_with_the_model_and_writes_nothing(model: Path, tmp_path: Path, capsys) -> None:
    """Issue 68: `caption --dry-run` says which episodes of which datasets the VLM would caption, loads no model,
    starts no Ray and writes nothing (the corpus's tree, sizes and mtimes, unchanged)."""
    import ray

    from tests.jobs.runtime.test_dry_run import snapshot

    root = _corpus(tmp_path)
    before = snapshot(root)
    argv = ["caption", str(root), "--model", str(model), "--text-embeddings", "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert snapshot(root) == before and not ray.is_initialized()
    assert "to caption  datasets/egodex/basic  " in out and "to caption by the VLM" in out
    assert "then every task embedded (text-embed); nothing written, Ray not started" in out
