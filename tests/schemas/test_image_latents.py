"""Image latents files (schemas/image_latents.py): the path mirrors the episode's video under `latents/`, and the
metadata survives safetensors' string-only header."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from safetensors import safe_open
from safetensors.torch import save_file

from adapters.lerobot_format.files import load_info
from schemas.image_latents import (
    CLS_REGISTERS_KEY,
    FRAME_INDEX_KEY,
    LATENTS_KEY,
    TENSOR_KEYS,
    LatentsMeta,
    cataloged,
    from_catalog,
    latents_file,
)
from tests.realdata import realdata

META = dict(model="random-init:vits16", rate_hz=3.0, dtype="bfloat16", video_key="observation.images.ego_view")


def test_the_latents_file_mirrors_the_video_file() -> None:
    """On the real GR00T sample's info.json (lerobot v2.0 paths): same chunk, same camera folder, same episode."""
    info = load_info(realdata("gr00t_robot_sim_picknplace/meta/info.json"))
    for episode in (0, 4, 1234):  # 1234: past the first chunk of 1000
        key = info.video_keys[0]
        video = info.video_file(episode, key)
        assert (
            latents_file(info, episode, key)
            == "latents/" + video.removeprefix("videos/").removesuffix(".mp4") + ".safetensors"
        )
    assert latents_file(info, 1234, "observation.images.ego_view").startswith("latents/chunk-001/")


def test_metadata_survives_a_safetensors_header(tmp_path: Path) -> None:
    meta = LatentsMeta(**META, episode_index=7, image_size=256, num_register_tokens=0, encoder_commit="abc123")
    path = tmp_path / "episode_000007.safetensors"
    n, p, d = 3, 196, 8
    tensors = {
        LATENTS_KEY: torch.zeros(n, p, d, dtype=torch.bfloat16),
        CLS_REGISTERS_KEY: torch.zeros(n, 1, d, dtype=torch.bfloat16),
        FRAME_INDEX_KEY: torch.tensor([0, 3, 7]),
    }
    assert set(tensors) == set(TENSOR_KEYS)
    save_file(tensors, str(path), metadata=meta.to_metadata())
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
    assert all(isinstance(v, str) for v in header.values())
    back = LatentsMeta.model_validate(header)  # ints and floats parsed back from their strings
    assert back == meta and back.image_size == 256 and back.rate_hz == 3.0 and back.encoder_commit == "abc123"


def test_same_encoding_ignores_the_episode_but_not_the_encoder() -> None:
    a = LatentsMeta(**META, episode_index=0)
    assert a.same_encoding(a.model_copy(update={"episode_index": 5, "video_key": "observation.images.wrist"}))
    for change in ({"rate_hz": 5.0}, {"dtype": "float16"}, {"model": "dinov3-vitb16"}, {"image_size": 448}):
        assert not a.same_encoding(a.model_copy(update=change)), change


@pytest.mark.parametrize(
    ("update", "field"),
    [({"rate_hz": float("nan")}, "rate_hz"), ({"rate_hz": 0.0}, "rate_hz"), ({"dtype": "float32"}, "dtype")],
)
def test_a_bad_value_names_its_field(update: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        LatentsMeta(**{**META, "episode_index": 0, **update})
    assert [e["loc"] for e in err.value.errors()] == [(field,)]


def test_the_catalog_text_gives_the_file_s_metadata_and_shape_again() -> None:
    """Issue 99: one text for every file of a camera in one encoding (their own fields left out), the metadata
    restored as the file holds it; a field that does not name its file (a foreign writer's) is kept as it is."""
    meta = LatentsMeta(**{**META, "episode_index": 7}).to_metadata()
    text = cataloged(meta, [12, 196, 384], META["video_key"], 7)
    assert text == cataloged({**meta, "episode_index": "8"}, [30, 196, 384], META["video_key"], 8)
    assert from_catalog(json.loads(text), META["video_key"], 7) == (dict(sorted(meta.items())), [196, 384])
    odd = {**meta, "episode_index": "3"}  # a file whose metadata names another episode
    assert from_catalog(json.loads(cataloged(odd, [1, 4, 4], META["video_key"], 7)), META["video_key"], 7)[0] == odd
    bare = {k: v for k, v in meta.items() if k != "video_key"}  # no video_key at all
    assert from_catalog(json.loads(cataloged(bare, [1, 4, 4], META["video_key"], 7)), META["video_key"], 7)[0] == bare
