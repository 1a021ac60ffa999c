"""`eidata train` and `eidata eval` through the real command line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from jobs.catalog.curate import curate
from jobs.cli import main
from tests.training.corpus import add_cameraless, build_corpus
from training.config import LaraConfig, config_from_preset
from training.lam import LatentActionModel
from training.objective import LDAObjective

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("training") / "corpus")


BASE = ["--preset", "tiny", "--num-workers", "0", "--device", "cpu"]
COMMON = [*BASE, "--lara", "off", "--log-every", "1"]


def test_train_resume_eval(manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(manifest), "--steps", "3", "--out", str(run), *COMMON]) == 0
    assert "trained to step 3" in capsys.readouterr().out
    # resume with a later stop step: the config (horizon included) comes from the checkpoint
    assert (
        main(
            [
                "train",
                "--manifest",
                str(manifest),
                "--resume",
                "--steps",
                "4",
                "--out",
                str(run),
                "--num-workers",
                "0",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4]
    assert json.loads((run / "config.json").read_text())["schedule_steps"] == 3
    assert main(["train", "--manifest", str(manifest), "--resume", "--out", str(run), "--batch-size", "3"]) == 2
    assert "differs from the checkpoint" in capsys.readouterr().err

    ckpt = run / "checkpoints/step_00000004.pt"
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "eval",
                "--checkpoint",
                str(ckpt),
                "--manifest",
                str(manifest),
                "--max-samples",
                "8",
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert report["step"] == 4 and "tier=high" in report["metrics"]
    assert "tier=high" in capsys.readouterr().out


def test_bad_arguments(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["train", "--manifest", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert f"{tmp_path}/manifest.json: no such file or folder" in capsys.readouterr().err
    # a manifest's name that no corpus here holds: the curate command that writes one, ROOT left to fill in
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--manifest", "train_v1", "--out", str(tmp_path / "r")]) == 2
    assert "; `eidata curate ROOT --name train_v1 --where TRUE` writes one" in capsys.readouterr().err
    assert main(["train", "--manifest", str(manifest), "--preset", "huge", "--out", str(tmp_path / "r")]) == 2
    assert main(["train", "--manifest", str(manifest), "--lara", "frozen", "--out", str(tmp_path / "r")]) == 2
    assert "--lam-weights" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(tmp_path / "none.pt"), "--manifest", str(manifest)]) == 1


def _lam_weights(path: Path, seed: int) -> dict[str, torch.Tensor]:
    """A tiny LAM's weights, initialised from `seed` (not the run's), saved as safetensors."""
    cfg = config_from_preset("tiny", "unused")
    torch.manual_seed(seed)
    weights = LatentActionModel(cfg.lam, cfg.model).state_dict()
    save_file(weights, str(path))
    return weights


def test_joint_training_starts_from_lam_weights(manifest: Path, tmp_path: Path) -> None:
    weights = _lam_weights(tmp_path / "lam.safetensors", seed=123)
    run = tmp_path / "run"
    args = ["train", "--manifest", str(manifest), "--steps", "1", "--out", str(run), *BASE]
    assert main([*args, "--lara", "joint", "--lam-weights", str(tmp_path / "lam.safetensors")]) == 0
    state = torch.load(run / "checkpoints/step_00000001.pt", weights_only=True)["model"]
    # one AdamW step moves a parameter by about lr = 1e-4; a fresh (seed 0) LAM differs from the file by ~0.1
    for name, w in weights.items():
        if not w.is_floating_point():
            continue  # the codebook's idle-step counters
        assert (state[f"lam.{name}"] - w).abs().max() < 1e-3, name
    assert json.loads((run / "config.json").read_text())["lara"]["weights"] == str(tmp_path / "lam.safetensors")


def test_lam_weights_usage_errors(manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _lam_weights(tmp_path / "lam.safetensors", seed=123)
    args = ["train", "--manifest", str(manifest), "--steps", "1", "--out", str(tmp_path / "r"), *BASE]
    assert main([*args, "--lara", "off", "--lam-weights", str(tmp_path / "lam.safetensors")]) == 2
    assert "'off'" in capsys.readouterr().err
    missing = tmp_path / "missing.safetensors"
    assert main([*args, "--lara", "joint", "--lam-weights", str(missing)]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_lam_pretraining_then_joint_from_its_checkpoint(manifest: Path, tmp_path: Path) -> None:
    """LARA's recipe: the LAM alone (reconstruction + VQ, pairs `--lam-stride` frames apart), then joint from it."""
    pre = tmp_path / "pre"
    args = ["train", "--manifest", str(manifest), "--steps", "2", "--out", str(pre), *BASE, "--log-every", "1"]
    assert main([*args, "--lara", "pretrain", "--lam-stride", "3"]) == 0
    lara = json.loads((pre / "config.json").read_text())["lara"]
    assert (lara["mode"], lara["stride"]) == ("pretrain", 3)
    records = [json.loads(x) for x in (pre / "metrics.jsonl").read_text().splitlines()]
    assert all(r["loss_lam"] > 0 and r["lam_active_codes"] >= 1 and r["loss_action"] == 0 for r in records)
    ckpt = pre / "checkpoints/step_00000002.pt"
    trained = torch.load(ckpt, weights_only=True)["model"]
    torch.manual_seed(0)  # the run's initial weights: only the LAM has moved
    init = LDAObjective(config_from_preset("tiny", "unused", lara=LaraConfig(mode="pretrain"))).state_dict()
    assert all(torch.equal(trained[k], init[k]) for k in init if not k.startswith("lam."))
    assert not torch.equal(trained["lam.inp.weight"], init["lam.inp.weight"])

    joint = tmp_path / "joint"
    args = ["train", "--manifest", str(manifest), "--steps", "1", "--out", str(joint), *BASE]
    assert main([*args, "--lara", "joint", "--lam-weights", str(ckpt)]) == 0
    state = torch.load(joint / "checkpoints/step_00000001.pt", weights_only=True)["model"]
    for k, w in trained.items():
        if k.startswith("lam.") and w.is_floating_point() and k != "lam.vq.codebook.weight":  # (dead codes restart)
            assert (state[k].float() - w.float()).abs().max() < 1e-3, k
    assert main([*args, "--lara", "joint", "--lam-stride", "3"]) == 2  # the stride is pretraining's


def test_lda_options_and_step_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """LDA's choices and the step's runtime flags reach the config; a bad value is a usage error naming the field."""
    import argparse

    from jobs.runtime.options import add_options
    from jobs.train import TRAIN_OPTIONS, build_config

    parser = argparse.ArgumentParser()
    add_options(parser, TRAIN_OPTIONS)
    flags = ["--per-block-adaln", "--image-layout", "channel", "--image-registers", "32", "--compile", "off",
             "--checkpointing", "--attention", "reference"]  # fmt: skip
    cfg = build_config(parser.parse_args(["--manifest", str(tmp_path), *flags]), tmp_path, None)
    m = cfg.model
    assert (m.per_block_adaln, m.image_layout, m.image_registers) == (True, "channel", 32)
    assert (cfg.compile, cfg.checkpointing, cfg.attention) == ("off", True, "reference")
    plain = build_config(parser.parse_args(["--manifest", str(tmp_path)]), tmp_path, None)
    assert (plain.model.per_block_adaln, plain.model.image_layout, plain.compile) == (False, "token", "auto")
    (tmp_path / "manifest.json").write_text("{}")
    assert main(["train", "--manifest", str(tmp_path), "--image-registers", "-1", "--out", str(tmp_path / "r")]) == 2
    assert "image_registers" in capsys.readouterr().err


def test_train_leaves_out_what_it_cannot_use_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A manifest `curate --where true` makes over a corpus holding episodes with no action and no camera (issue 36:
    this crashed with "no normalization statistics for 'action'"): curate says how many selected episodes cannot
    train; the run trains on the rest and names what it left out, in its summary and in the run folder's index.json."""
    corpus = build_corpus(tmp_path / "corpus").parent.parent
    add_cameraless(corpus)
    with caplog.at_level(logging.WARNING, logger="jobs.catalog.curate"):
        everything = curate(corpus, "everything", "true", val_fraction=0.0)
    assert "3 of the 13 selected episodes cannot train" in caplog.text
    assert "2 have no camera" in caplog.text and "1 have no image latents yet" in caplog.text
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(everything), "--steps", "2", "--out", str(run), *COMMON]) == 0
    out = capsys.readouterr().out
    assert "trained to step 2" in out
    report = json.loads((run / "index.json").read_text())
    reasons = report["left_out_by_reason"]
    nocam = next(r for r in reasons if r.startswith("no latents for cameras"))
    assert reasons[nocam]["episodes"] == 3 and "ego/audio/audio-0" in reasons[nocam]["e.g."]  # 2 + the arm's one
    assert report["left_out"] == sum(r["episodes"] for r in reasons.values()) and report["episodes"] > 0
    assert f"{report['left_out']} left out: 3 {nocam}" in out
    stats = json.loads((run / "norm_stats.json").read_text())["datasets"]
    assert "datasets/ego/audio" not in stats  # nothing of it is trained, nothing of it is normalized


def test_manifest_is_taken_as_export_takes_it(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 59: train took a path where export took a NAME. Now both take either (`jobs.catalog.manifest_arg`): a
    NAME beside a corpus is refused naming the `--manifest` that holds it, and that one trains; in the corpus the
    NAME trains, as does the path of its manifest.json."""
    corpus = manifest.parents[1]
    monkeypatch.chdir(corpus.parent)
    run = ["train", *COMMON, "--steps", "1"]
    assert main([*run, "--manifest", manifest.name, "--out", str(tmp_path / "a")]) == 2
    hinted = capsys.readouterr().err.split("`")[1]
    assert hinted == f"--manifest {corpus.name}/manifests/{manifest.name}"
    assert main([*run, *hinted.split(), "--out", str(tmp_path / "b")]) == 0
    monkeypatch.chdir(corpus)
    assert main([*run, "--manifest", manifest.name, "--out", str(tmp_path / "c")]) == 0
    assert main([*run, "--manifest", f"{manifest}/manifest.json", "--out", str(tmp_path / "d")]) == 0
    assert capsys.readouterr().out.count("trained to step 1") == 3
