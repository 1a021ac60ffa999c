"""`eidata export --format lda` on real samples (GR1, Bridge, VITRA: `conftest.py`): what LDA's loader reads, checked
without LDA's code: the modality slices cover exactly the values written, absolute actions are their frame's state,
unused parts are 0, the rotation is the canonical one, the statistics file is the data's, every frame decodes at its
index (PyAV, OpenCV, decord), a broken episode fails its dataset by name, a source LDA cannot take refuses the export,
a manifest gives its episodes only. LDA's own loader on the same export:
`test_lda_loader.py`."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import load_info, load_modality
from ingest.frames import rot6d_to_matrix
from jobs.cli import main
from jobs.export.lda import config
from jobs.export.lda.columns import expected_names
from schemas.canonical import HANDS, STATE, WRIST_ROT6D, hand_dims
from schemas.lda import (
    ACTION_PARTS,
    HAND_WIDTH_ACTION,
    HAND_WIDTH_STATE,
    LDA_ACTION,
    LDA_STATE,
    STATE_PARTS,
    STATS_KEYS,
    STATS_PATH,
    part_offset,
)
from schemas.lerobot import INFO_PATH
from schemas.modality import check_modality
from tests.jobs.export.lda.test_columns import _lda_R
from tests.needs import tool_missing

LAYOUTS = {"lerobot/gr00t_robot_sim_picknplace": "dual_arm", "oxe/bridge_dataset": "single_arm", "vitra/Ego4D": "human"}
# LDA hand -> canonical hand of each dataset (a single arm is LDA's left, whichever canonical hand held it)
CANONICAL_HAND = {"lerobot/gr00t_robot_sim_picknplace": (0, 1), "oxe/bridge_dataset": (1,), "vitra/Ego4D": (0, 1)}


def _episodes(ds: Path) -> list[dict[str, np.ndarray]]:
    out = []
    for path in sorted((ds / "data").rglob("*.parquet")):
        t = pq.read_table(path)
        out.append({k: np.stack(t.column(k).to_numpy(zero_copy_only=False)) for k in (STATE, LDA_STATE, LDA_ACTION)})
        out[-1]["index"] = t.column("episode_index").to_numpy()
    return out


def _blk(values: np.ndarray, hand: int, parts: tuple, part: str) -> np.ndarray:
    width = HAND_WIDTH_STATE if parts is STATE_PARTS else HAND_WIDTH_ACTION
    sl = part_offset(parts, part)
    return values[:, hand * width + sl.start : hand * width + sl.stop]


def test_every_dataset_is_written_with_its_layout_and_the_entry_to_paste(lda_export: tuple[Path, str]) -> None:
    out, printed = lda_export
    for rel, layout in LAYOUTS.items():
        assert (out / rel / "meta/modality.json").is_file() and f"written  {rel} {layout}," in printed
    assert config.entry(list(LAYOUTS.items()), str(out.resolve())) in printed
    assert not list(out.rglob(".*.partial-*"))


def test_the_modality_slices_cover_exactly_the_values_written(lda_export: tuple[Path, str]) -> None:
    out, _ = lda_export
    for rel in LAYOUTS:
        modality, info = load_modality(out / rel / "meta/modality.json"), load_info(out / rel / INFO_PATH)
        assert check_modality(modality, info, expected_names(modality)) == []
        for group, column in (("state", LDA_STATE), ("action", LDA_ACTION)):
            covered = np.zeros(info.features[column].shape[0], dtype=int)
            for s in getattr(modality, group).values():
                covered[s.start : s.end] += 1
            assert (covered == 1).all(), (rel, group)  # every value in exactly one slice
        assert modality.video_column("main") in info.video_keys
        assert modality.annotation_column("language.action_text") == "task_index"


def test_absolute_actions_are_their_frames_state_and_unused_parts_are_zero(lda_export: tuple[Path, str]) -> None:
    """LDA's timing: an absolute action row holds what is observed at its own frame (what LDA trains on is checked
    against the corpus by LDA's own loader, test_lda_loader.py)."""
    out, _ = lda_export
    for rel, hands in CANONICAL_HAND.items():
        for ep in _episodes(out / rel):
            s, a = ep[LDA_STATE], ep[LDA_ACTION]
            for h in range(2):
                for part in ("eef_position", "eef_rotation", "gripper", "mano_hand"):
                    assert np.array_equal(_blk(a, h, ACTION_PARTS, part), _blk(s, h, STATE_PARTS, part))
            if len(hands) == 1:  # the single arm is LDA's left: its right block is 0 in both columns
                assert not s[:, HAND_WIDTH_STATE:].any() and not a[:, HAND_WIDTH_ACTION:].any()
                assert _blk(s, 0, STATE_PARTS, "eef_position").any()
            if rel == "vitra/Ego4D":  # the left hand is masked in every frame; the right is there, fingers included
                assert not s[:, :HAND_WIDTH_STATE].any() and not a[:, :HAND_WIDTH_ACTION].any()
                assert _blk(s, 1, STATE_PARTS, "mano_hand").any() and not _blk(s, 1, STATE_PARTS, "gripper").any()
            elif len(hands) == 1:  # WidowX: a gripper, no hand keypoints
                assert _blk(s, 0, STATE_PARTS, "gripper").any() and not _blk(s, 0, STATE_PARTS, "mano_hand").any()
            else:  # GR1: dexterous hands, their keypoints in mano_hand, no gripper
                assert _blk(s, 0, STATE_PARTS, "mano_hand").any() and not _blk(s, 0, STATE_PARTS, "gripper").any()


def test_the_rotation_is_the_canonical_one_in_ldas_convention(lda_export: tuple[Path, str]) -> None:
    out, _ = lda_export
    checked = 0
    for rel, hands in CANONICAL_HAND.items():
        for ep in _episodes(out / rel):
            for i, h in enumerate(hands):
                d6 = ep[STATE][:, hand_dims(h, WRIST_ROT6D)].astype(np.float64)
                there = np.linalg.norm(d6, axis=1) > 0
                assert np.array_equal(_blk(ep[LDA_STATE], i, STATE_PARTS, "eef_rotation_6d"), d6.astype(np.float32))
                rpy = _blk(ep[LDA_STATE], i, STATE_PARTS, "eef_rotation").astype(np.float64)
                err = np.abs(_lda_R(rpy[there]) - rot6d_to_matrix(d6[there])).max(initial=0)
                assert err < 2e-6, (rel, HANDS[h], err)  # the float32 of the angles
                checked += int(there.sum())
    assert checked > 400


def test_the_statistics_file_is_the_datas(lda_export: tuple[Path, str]) -> None:
    out, _ = lda_export
    for rel in LAYOUTS:
        stats = json.loads((out / rel / STATS_PATH).read_text())
        eps = _episodes(out / rel)
        for column in (STATE, LDA_STATE, LDA_ACTION):
            x = np.concatenate([ep[column] for ep in eps]).astype(np.float64)
            assert set(stats[column]) == set(STATS_KEYS)
            np.testing.assert_array_equal(stats[column]["min"], x.min(axis=0))
            np.testing.assert_array_equal(stats[column]["max"], x.max(axis=0))
            np.testing.assert_allclose(stats[column]["mean"], x.mean(axis=0), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(stats[column]["std"], x.std(axis=0), rtol=1e-7, atol=1e-9)
            for key, q in (("q01", 0.01), ("q99", 0.99)):
                np.testing.assert_allclose(stats[column][key], np.quantile(x, q, axis=0), rtol=1e-12, atol=1e-15)


def _pyav_frames(path: Path) -> tuple[np.ndarray, list]:
    import av

    with av.open(str(path)) as c:
        packets = [p for p in c.demux(c.streams.video[0]) if p.size]
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])
    return frames, packets


def test_every_frame_decodes_at_its_index(lda_export: tuple[Path, str]) -> None:
    import av
    import cv2

    out, _ = lda_export
    videos = sorted(out.rglob("*.mp4"))
    assert len(videos) == 2 + 3 * 3 + 1  # GR1 head, Bridge's three cameras, VITRA's head
    for path in videos:
        frames, packets = _pyav_frames(path)
        assert all(p.is_keyframe for p in packets) and len(packets) == len(frames)  # all-intra
        with av.open(str(path)) as c:  # PyAV: a seek to each frame's time lands on it
            vs = c.streams.video[0]
            for i in range(len(frames))[::-1]:
                c.seek(round(i / 10 / vs.time_base), stream=vs, backward=True)
                got = next(c.decode(vs))
                assert round(got.pts * vs.time_base * 10) == i
                assert np.array_equal(got.to_ndarray(format="rgb24"), frames[i])
        cap = cv2.VideoCapture(str(path))  # OpenCV: LDA's `opencv` backend seeks by CAP_PROP_POS_FRAMES
        sequential = [cap.read()[1] for _ in range(len(frames))]
        for i in range(len(frames))[::-1]:
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, bgr = cap.read()
            assert ok and np.array_equal(bgr, sequential[i]), (path, i)
        cap.release()


def test_decord_reads_every_frame_at_its_index(lda_export: tuple[Path, str]) -> None:
    try:
        import decord
    except ImportError:
        tool_missing("decord", "pip install -e '.[test]' (decord>=0.6,<0.7, LDA's decoder)")
    out, _ = lda_export
    for path in sorted(out.rglob("*.mp4")):
        frames, _ = _pyav_frames(path)
        vr = decord.VideoReader(str(path))
        ts = vr.get_frame_timestamp(range(len(vr)))[:, 0]
        np.testing.assert_allclose(ts, np.arange(len(frames)) / 10, atol=1e-6)  # LDA maps timestamps to these
        order = np.random.default_rng(0).permutation(len(frames))
        assert np.array_equal(vr.get_batch(list(order)).asnumpy(), frames[order])


def test_a_broken_episode_fails_its_dataset_by_name(real_corpus: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(real_corpus, corpus)
    path = next((corpus / "datasets/oxe/bridge_dataset/data").rglob("episode_000001.parquet"))
    table = pq.read_table(path)
    state = np.stack(table.column(STATE).to_numpy(zero_copy_only=False))
    state[2, hand_dims(1, WRIST_ROT6D)] = [1, 0, 0, 2, 0, 0]  # parallel columns: no rotation
    col = pa.FixedSizeListArray.from_arrays(pa.array(state.ravel()), state.shape[1])
    pq.write_table(table.set_column(table.schema.get_field_index(STATE), STATE, col), path)
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        assert main(["export", str(corpus), "--format", "lda", "--out", str(tmp_path / "out")]) == 1
    text = printed.getvalue()
    assert "error    oxe/bridge_dataset" in text and "episode_000001.parquet (episode 1)" in text
    assert "observation.state right wrist rotation" in text
    assert "written  vitra/Ego4D human" in text and "written  lerobot/gr00t_robot_sim_picknplace" in text
    assert not (tmp_path / "out/oxe").exists() and not list((tmp_path / "out").rglob(".*.partial-*"))  # no empty folder


def test_out_is_required_and_a_dry_run_plans_writing_nothing(
    real_corpus: Path, lda_export: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 68: `--dry-run` exited 2 ("it re-encodes every video"); it prints the plan (`plan.py`) the export
    writes, dataset by dataset with its layout, episodes and frames, and writes nothing."""
    assert main(["export", str(real_corpus), "--format", "lda"]) == 2
    assert "--out DIR" in capsys.readouterr().err
    before = sorted(p.relative_to(real_corpus) for p in real_corpus.rglob("*"))
    assert main(["export", str(real_corpus), "--format", "lda", "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        not (tmp_path / "o").exists() and sorted(p.relative_to(real_corpus) for p in real_corpus.rglob("*")) == before
    )
    written = [
        line.replace("written ", "to write", 1) for line in lda_export[1].splitlines() if line.startswith("written")
    ]
    assert written and all(line in out for line in written), out  # the same datasets, layouts, episodes, frames
    assert f"into {tmp_path / 'o' / 'oxe/bridge_dataset'}" in out and f"lda: 0 written, {len(written)} to write" in out


def test_a_dataset_without_a_wrist_in_use_refuses_the_whole_export_by_name(
    real_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 65: a source LDA cannot take is never skipped with exit 0 (3 of 6 sources missing, empty folders): the
    export is refused before anything is written, naming each such dataset and why."""
    corpus = tmp_path / "corpus"
    shutil.copytree(real_corpus, corpus)
    path = corpus / "datasets/vitra/Ego4D/meta/episodes.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:  # an actionless source: its lineage says no canonical dim holds data
        line["eidata"]["mask"] = [0] * 50
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    for dry in ([], ["--dry-run"]):  # the dry run says the same refusal, with the same exit code
        assert main(["export", str(corpus), "--format", "lda", "--out", str(tmp_path / "out"), *dry]) == 1
        err = capsys.readouterr().err
        assert "1 dataset(s) LDA cannot train on; nothing written" in err and "vitra/Ego4D: no wrist pose in use" in err
        assert not (tmp_path / "out").exists()


def test_a_manifest_exports_its_episodes_and_no_other(real_corpus: Path, tmp_path: Path) -> None:
    """Issue 68: `--manifest` is honoured (read as every export reads it, `jobs.catalog.manifest_arg`): a manifest of
    one source's episodes gives that source's episodes and no other dataset."""
    from adapters.storage.corpus import Corpus
    from jobs.catalog.build import rebuild_catalog

    corpus = tmp_path / "corpus"
    shutil.copytree(real_corpus, corpus)
    rebuild_catalog(Corpus(corpus))
    where = "source = 'oxe' AND episode_index <> 1"
    assert main(["curate", str(corpus), "--name", "m", "--where", where]) == 0
    printed, out = io.StringIO(), tmp_path / "out"
    with contextlib.redirect_stdout(printed):
        assert main(["export", str(corpus), "--format", "lda", "--manifest", "m", "--out", str(out)]) == 0
    exported = sorted(p.relative_to(out).as_posix() for p in out.glob("*/*"))
    assert exported == ["job/export.lock", "oxe/bridge_dataset"]  # job/: the export's lock (jobs/output_lock.py)
    ds = out / "oxe/bridge_dataset"
    assert [ep["index"][0] for ep in _episodes(ds)] == [0, 2]
    lines = [json.loads(line) for line in (ds / "meta/episodes.jsonl").read_text().splitlines()]
    info = json.loads((ds / INFO_PATH).read_text())
    assert [line["episode_index"] for line in lines] == [0, 2] and info["total_episodes"] == 2
    assert info["total_frames"] == sum(line["length"] for line in lines)
    assert 'DATASET_NAMED_MIXTURES["eidata"] = [\n    ("oxe/bridge_dataset", 1.0, "eidata_single_arm"),\n]' in (
        printed.getvalue()
    )
    assert main(["export", str(corpus), "--format", "lda", "--manifest", "nope", "--out", str(tmp_path / "o2")]) == 1
    assert not (tmp_path / "o2").exists()


def test_a_robot_without_a_description_is_written_as_its_command(native_export: tuple[Path, str]) -> None:
    """Issue 65 item 2: each native robot as LDA's joint-space configs take one (its natives read as recorded, one
    `native` key each); LDA's own loader on it: test_lda_loader.py."""
    out, printed = native_export
    for rel, width in (("lingzu/lingzu", 34), ("robocoin/robocoin", 30)):
        assert f"written  {rel} native, 2 episodes" in printed
        modality, info = load_modality(out / rel / "meta/modality.json"), load_info(out / rel / INFO_PATH)
        assert check_modality(modality, info, expected_names(modality)) == []
        assert (modality.action["native"].original_key, modality.action["native"].end) == ("action.native", width)
        assert modality.state["native"].original_key == "observation.state.native"
        assert LDA_ACTION not in info.features and "action.native" in json.loads((out / rel / STATS_PATH).read_text())
    assert 'EmbodimentTag("galbot")' in printed and 'EmbodimentTag("franka_dual")' in printed


def test_a_native_frame_without_a_sample_fails_its_dataset_by_name(native_corpus: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(native_corpus, corpus)
    path = next((corpus / "datasets/lingzu").rglob("episode_000001.parquet"))
    table = pq.read_table(path)
    key = "action.native_valid"
    valid = np.stack(table.column(key).to_numpy(zero_copy_only=False))
    valid[4, 3] = 0  # the command's stream had no sample for value 3 at frame 4
    col = pa.FixedSizeListArray.from_arrays(pa.array(valid.ravel()), valid.shape[1])
    pq.write_table(table.set_column(table.schema.get_field_index(key), key, col), path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", str(corpus), "--format", "lda", "--out", str(tmp_path / "out")]) == 1
    text = printed.getvalue()
    assert "error    lingzu/lingzu" in text and "(episode 1): action.native value 3 has no sample at frame 4" in text
    assert "written  robocoin/robocoin native" in text and not (tmp_path / "out/lingzu").exists()


@pytest.mark.parametrize(
    ("out", "said"),
    [
        (
            "gs://bucket/out",
            "gs://bucket/out: --format lda reads and writes local folders only: it is read and written",
        ),
        ("s3://bucket/out", "s3://bucket/out: --format lda reads and writes local folders only"),
        ("s4://bucket/out", "s4://bucket/out: unknown storage scheme s4:// (a folder, file://, s3://, gs:// or hf://)"),
    ],
)
def test_an_out_in_a_bucket_is_refused_never_written_as_a_local_folder(
    out: str, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 7 §6: `--out gs://bucket/out` was the local folder `gs:/bucket/out` (a hand-written test knew s3://
    only); the storage handle answers for every scheme, and refuses one it does not know."""
    (tmp_path / "corpus" / "datasets").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "corpus", "--format", "lda", "--out", out]) == 2
    assert said in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no `gs:` folder


def test_a_full_disk_stops_the_export_not_a_dataset_error(
    real_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full disk is the environment's fault, not a dataset's (`schemas.faults`): the LDA export ends with
    one line and 75, as lerobot-v3's and gr00t's, instead of failing every dataset after it as bad input."""
    import errno

    import jobs.export.lda.job as lda_job

    def full(src: Path, dst: Path, fps: int, frames: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(lda_job, "transcode", full)
    assert main(["export", str(real_corpus), "--format", "lda", "--out", str(tmp_path / "out")]) == 75
    assert "No space left on device" in capsys.readouterr().err
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
