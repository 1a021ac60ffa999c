"""Egocentric-10K/100K's per-worker `intrinsics.json` (Build AI's OpenCV fisheye, k1..k4) rides with the video into
the episode as a Kannala-Brandt model, never as a pinhole: shards written in the dataset's layout, one worker with the
card's example file, one without (a finding), one malformed (its episodes fail naming the file and field)."""

from __future__ import annotations

import json
import math

import pytest

from adapters.base import AdapterError
from adapters.egovideo.adapter import EgoVideoAdapter
from adapters.egovideo.intrinsics import BadIntrinsics, parse_intrinsics
from ingest.canonical.store import dataset_features, lineage
from schemas.camera_model import KannalaBrandtCamera, PinholeCamera
from schemas.canonical import CAMERA_MODEL_KEY, INTRINSICS_KEY, image_key
from tests.fixtures.offline import prepare
from tests.fixtures.writers.egovideo import BUILDAI_INTRINSICS, write_ego_variants

CARD = BUILDAI_INTRINSICS
COEFFS = ("k1", "k2", "k3", "k4")


@pytest.fixture(scope="module")
def ego(tmp_path_factory: pytest.TempPathFactory):
    bad = {**CARD, "fx": "wide"}
    files = {"worker_001": json.dumps(CARD).encode(), "worker_003": json.dumps(bad).encode()}
    fx = write_ego_variants(
        tmp_path_factory.mktemp("ego_lens"),
        workers=3,
        clips_per_shard=1,
        seconds=1.5,
        fps=10,
        height=256,
        width=456,
        intrinsics=files,
    )
    adapter = EgoVideoAdapter()
    refs = {r.raw_id.split("/")[2]: r for r in adapter.discover(fx.root)}
    return fx, adapter, refs


def test_the_cards_example_reads_as_a_kannala_brandt_fisheye_exactly() -> None:
    lens = parse_intrinsics(CARD)
    assert isinstance(lens, KannalaBrandtCamera) and lens.model == "kannala_brandt"
    assert (lens.width, lens.height, lens.fx, lens.fy, lens.cx, lens.cy) == (456, 256, 137.98, 138.23, 232.17, 125.37)
    assert [getattr(lens, k) for k in COEFFS] == [CARD[k] for k in COEFFS]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model": "equirectangular"}, "model"),
        ({"k3": None}, "k3"),
        ({"fx": -1.0}, "fx"),
        ({"fy": float("nan")}, "fy"),
        ({"cx": 999.0}, "cx"),
        ({"image_width": 0}, "image_width"),
        ({"k5": 0.01}, "k5"),
    ],
)
def test_a_malformed_file_names_the_field(change: dict, field: str) -> None:
    raw = {**CARD, **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(BadIntrinsics) as e:
        parse_intrinsics(raw)
    assert e.value.field == field


def test_a_pinhole_file_has_no_coefficients() -> None:
    pin = {k: v for k, v in CARD.items() if k not in COEFFS} | {"model": "pinhole"}
    assert isinstance(parse_intrinsics(pin), PinholeCamera)
    with pytest.raises(BadIntrinsics) as e:
        parse_intrinsics(pin | {"k1": 0.1})
    assert e.value.field == "k1"


def test_the_worker_with_a_file_carries_it_to_the_camera_and_never_as_a_pinhole(ego) -> None:
    _, adapter, refs = ego
    raw = adapter.read(refs["worker_001"])
    cam = raw.cameras["video"]
    assert isinstance(cam.camera_model, KannalaBrandtCamera)
    assert cam.camera_model == parse_intrinsics(CARD)
    assert cam.intrinsics is None  # no 3x3 pinhole matrix for a fisheye
    assert raw.metadata["camera_model"]["k4"] == CARD["k4"]
    # the model projects a point 60 degrees off axis where OpenCV's equidistant mapping puts it, not where a pinhole
    # with the same fx would (theta_d = theta (1 + k1 t^2 + ...), u = fx theta_d + cx)
    theta = math.radians(60)
    td = theta * (1 + sum(CARD[k] * theta ** (2 * i + 2) for i, k in enumerate(COEFFS)))
    u_fish, u_pin = CARD["fx"] * td + CARD["cx"], CARD["fx"] * math.tan(theta) + CARD["cx"]
    assert 0 < u_fish < CARD["image_width"] < u_pin  # the fisheye keeps it in the frame; a pinhole would not


def test_the_episode_lineage_and_feature_info_hold_the_model_exactly(ego) -> None:
    _, adapter, refs = ego
    raw = adapter.read(refs["worker_001"])
    (ep,) = prepare(raw).episodes  # judged: the lineage is of a judged episode
    key = image_key(raw.cameras["video"].canonical)
    models = lineage(ep).camera_models
    assert models is not None and models[key] == parse_intrinsics(CARD).model_dump()
    assert models[key]["model"] == "kannala_brandt" and [models[key][k] for k in COEFFS] == [CARD[k] for k in COEFFS]
    info = dataset_features(ep)[key].info or {}
    stored = info[CAMERA_MODEL_KEY]
    assert INTRINSICS_KEY not in info
    h, w = ep.cameras[next(iter(ep.cameras))].shape
    assert (stored["height"], stored["width"]) == (h, w)
    assert [stored[k] for k in COEFFS] == [CARD[k] for k in COEFFS]
    assert stored["fx"] == pytest.approx(CARD["fx"] * w / 456) and stored["fy"] == pytest.approx(CARD["fy"] * h / 256)
    assert lineage(ep).to_json()["camera_models"][key]["k2"] == CARD["k2"]


def test_a_shard_without_the_file_is_a_finding_naming_its_episodes(ego) -> None:
    _, adapter, refs = ego
    raw = adapter.read(refs["worker_002"])
    assert raw.cameras["video"].camera_model is None and raw.metadata["camera_model"] is None
    (found,) = [f for f in adapter.findings() if f.code == "no_intrinsics"]
    assert found.episodes == (refs["worker_002"].raw_id,)
    assert "worker_002" in str(found.path) and "intrinsics.json" in found.message
    (ep,) = prepare(raw).episodes  # judged: the lineage is of a judged episode
    assert lineage(ep).camera_models is None
    assert any("no_intrinsics" in line for line in ep.source_findings)


def test_a_lens_for_another_picture_shape_fails_naming_the_file(tmp_path) -> None:
    fx = write_ego_variants(
        tmp_path,
        workers=1,
        clips_per_shard=1,
        seconds=1.5,
        fps=10,
        height=64,
        width=64,
        intrinsics={"worker_001": json.dumps(CARD).encode()},
    )
    adapter = EgoVideoAdapter()
    (ref,) = adapter.discover(fx.root)
    with pytest.raises(AdapterError) as e:
        adapter.read(ref)
    assert "456x256" in str(e.value) and "64x64" in str(e.value) and "worker_001/intrinsics.json" in str(e.value)


def test_a_malformed_file_fails_its_workers_episodes_naming_file_and_field(ego) -> None:
    _, _, refs = ego
    err = refs["worker_003"].error
    assert err is not None
    assert "worker_003/intrinsics.json" in str(err) and "fx" in str(err)
    assert refs["worker_001"].error is None and refs["worker_002"].error is None


def test_reading_no_file_when_the_option_is_off(ego) -> None:
    fx, _, _ = ego
    adapter = EgoVideoAdapter({"intrinsics_file": None})
    refs = list(adapter.discover(fx.root))
    assert all(r.error is None for r in refs) and not [f for f in adapter.findings() if f.code == "no_intrinsics"]
    assert all(r.locator["lens"] is None for r in refs)
