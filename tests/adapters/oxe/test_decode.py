"""RLDS value decoding (`adapters/oxe/decode.py`) on records of the real Octo debug Bridge shards
(real sample `octo_bridge_debug_rlds`): tensors come out (T, *shape) in their declared dtype, a size that does
not fit the declared shape is a specific error, the same episode stored twice (Octo's val split copies train) has one
content hash, and text runs group identical instructions."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from adapters.oxe.builder import FeatureInfo, parse_features
from adapters.oxe.decode import content_hash, decode_tensor, text_runs, texts_of
from adapters.oxe.tfrecord import parse_example, scan_records
from adapters.registry import get_adapter
from adapters.storage.location import locate
from adapters.synthetic import rlds
from adapters.synthetic.rlds import write_rlds
from tests.fixtures import bombs
from tests.realdata import realdata

BUILDER = "octo_bridge_debug_rlds/bridge_dataset/1.0.0"


@pytest.fixture(scope="module")
def real() -> tuple[dict[str, FeatureInfo], dict[str, list[dict]]]:
    builder = realdata(BUILDER)
    features = parse_features(json.loads((builder / "features.json").read_text()))
    splits = {
        split: [
            parse_example(r.payload)
            for r in scan_records(locate(builder / f"bridge_dataset-{split}.tfrecord-00000-of-00001"))
        ]
        for split in ("train", "val")
    }
    return features, splits


def test_real_tensors_come_out_with_their_declared_shape_and_dtype(real) -> None:
    features, splits = real
    ex = splits["train"][0]
    steps = len(ex["steps/is_first"])
    state = decode_tensor(features["steps/observation/state"], ex["steps/observation/state"], steps)
    assert state.shape == (steps, 7) and state.dtype == np.float32
    first = decode_tensor(features["steps/is_first"], ex["steps/is_first"], steps)
    assert first.dtype == np.bool_ and first[0] and not first[1:].any()
    embedding = decode_tensor(features["steps/language_embedding"], ex["steps/language_embedding"], steps)
    assert embedding.shape == (steps, 512)
    with pytest.raises(ValueError, match=rf"holds {7 * steps} values, expected {7 * (steps + 1)}"):
        decode_tensor(features["steps/observation/state"], ex["steps/observation/state"], steps + 1)
    with pytest.raises(ValueError, match="expected numbers"):
        decode_tensor(features["steps/observation/state"], [b"x"], 1)


def test_zlib_tensors_and_an_unknown_dimension() -> None:
    info = FeatureInfo("steps/depth", "tensor", (None, 2), "float32", encoding="zlib")
    rows = [np.arange(6, dtype=np.float32) + k for k in range(2)]
    out = decode_tensor(info, [zlib.compress(r.tobytes()) for r in rows], 2)
    assert out.shape == (2, 3, 2) and (out[1].ravel() == rows[1]).all()
    with pytest.raises(ValueError, match="3 encoded values for 2 steps"):
        decode_tensor(info, [zlib.compress(rows[0].tobytes())] * 3, 2)


def test_a_truncated_zlib_step_is_an_error() -> None:
    info = FeatureInfo("steps/depth", "tensor", (None,), "uint8", encoding="zlib")
    with pytest.raises(zlib.error, match="incomplete or truncated stream"):
        decode_tensor(info, [zlib.compress(bytes(1000))[:-4]], 1)


def test_a_zlib_step_past_the_limit_is_refused_naming_the_shard(tmp_path: Path, monkeypatch: Any) -> None:
    """A step's zlib value of 200 KB inflating to 200 MiB (the library's own inflate, issue 84): the episode's parse
    process is killed by its memory limit, which names the shard it was reading."""
    bomb = zlib.compress(bytes(200 << 20), 9)
    monkeypatch.setattr(rlds, "zlib", SimpleNamespace(compress=lambda _: bomb))
    wb = write_rlds(tmp_path, "kuka", episodes=1, steps=2, vary_steps=False)
    [shard] = [p for paths in wb.shards.values() for p in paths]
    assert shard.stat().st_size < 4 << 20  # 200 KB per step of each zlib feature
    adapter = get_adapter("oxe", {})
    [ref] = list(adapter.discover(tmp_path))
    bombs.assert_refused(bombs.caged(adapter, ref), shard)


def test_the_copied_val_split_hashes_like_train(real) -> None:
    features, splits = real
    train = [content_hash(ex, features) for ex in splits["train"]]
    val = [content_hash(ex, features) for ex in splits["val"]]
    assert len(set(train)) == len(train) == 25  # 25 distinct episodes
    assert set(val) == set(train)  # the val split stores the same episodes


def test_text_runs_of_real_instructions(real) -> None:
    _, splits = real
    texts = texts_of(splits["train"][0]["steps/language_instruction"])
    runs = text_runs(texts)
    assert sum(end - start + 1 for _, start, end in runs) == sum(1 for t in texts if t.strip())
    assert text_runs(["a", "a", "", "a", "b"]) == [("a", 0, 1), ("a", 3, 3), ("b", 4, 4)]
    assert texts_of(np.zeros(2)) == []
