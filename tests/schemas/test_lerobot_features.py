"""The one LeRobot feature schema (schemas/lerobot_features.py) held to files lerobot wrote and to the writer's own
output: real `info.json` features (v2.1 and v3.0) read and written back unchanged; the `huggingface` parquet metadata
of those features byte for byte what datasets 3.6 (lerobot 0.3.3, v2.1) and datasets 4 (lerobot 0.6.1, v3.0) wrote
in the real parquet files; a dataset the writer (ingest/lerobot) wrote read by the reader (`DatasetMeta`) as the
features it was given, its parquet metadata from the same schema. Tolerant reading: `names` variants, v2.0's
`video_info`. (lerobot 0.3.3 and 0.6.1 themselves load the writer's and the exporter's datasets: tests/oracle/,
tests/jobs/export/lerobot_v3/test_job.py.)"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.meta import DatasetMeta
from schemas.lerobot_features import (
    DEFAULT_FEATURE_DTYPES,
    FeatureSpec,
    features_v30,
    flatten_names,
    hf_features,
    is_video,
    video_keys,
)
from tests.fixtures.corpus import episode, write_dataset
from tests.realdata import realdata

V21 = "unitree_g1_policy_train"  # written by lerobot (v2.1, datasets 3.6)
V30 = "lerobot_so101_record_test"  # written by lerobot-record (v3.0, datasets 4)
DATA = {V21: "data/chunk-000/episode_000005.parquet", V30: "data/chunk-000/file-000.parquet"}


def _features(sample: str) -> dict:
    return json.loads(realdata(f"{sample}/meta/info.json").read_text(encoding="utf-8"))["features"]


@pytest.mark.parametrize("sample", [V21, V30])
def test_real_features_are_written_back_as_lerobot_wrote_them(sample: str) -> None:
    raw = _features(sample)
    assert {k: FeatureSpec.model_validate(ft).to_json() for k, ft in raw.items()} == raw
    assert video_keys(raw) == video_keys({k: FeatureSpec.model_validate(ft) for k, ft in raw.items()})
    assert video_keys(raw)  # each sample has a camera


@pytest.mark.parametrize(("sample", "datasets4"), [(V21, False), (V30, True)])
def test_parquet_metadata_is_byte_for_byte_what_datasets_wrote(sample: str, datasets4: bool) -> None:
    """The writer's and the v2.1 exporter's metadata (datasets 3.6: `Sequence`), the v3.0 exporter's (datasets 4:
    `List`), from the features of the sample's info.json."""
    table = {k: FeatureSpec.model_validate(ft) for k, ft in _features(sample).items() if not is_video(ft)}
    written = json.loads(pq.read_schema(realdata(f"{sample}/{DATA[sample]}")).metadata[b"huggingface"])
    written.pop("fingerprint", None)  # datasets 4's hash of the table it wrote from, not of the features
    assert json.dumps(hf_features(table, datasets4=datasets4)) == json.dumps(written)  # in its key order
    assert hf_features(table, datasets4=not datasets4) != written


def test_v30_features_of_real_v21_ones_gain_fps_on_their_own_columns_only() -> None:
    v21 = _features(V21)
    before = copy.deepcopy(v21)
    v30 = features_v30(v21, fps=30)
    assert v21 == before  # the input untouched
    for key, ft in v30.items():
        # lerobot's writer and dataset tools give its five index columns no fps: an export merges with their output
        assert ("fps" in ft) is (not is_video(ft) and key not in DEFAULT_FEATURE_DTYPES), key
        assert {k: v for k, v in ft.items() if k != "fps"} == before[key]


def test_the_readers_features_are_the_writers(tmp_path: Path) -> None:
    """A dataset the writer made (video, 50-D vectors, an N-D keypoint array, a bool): the reader's
    features are the ones written, and each parquet's metadata is the schema's."""
    root = write_dataset(tmp_path / "ds", "franka", [episode(4, "pick", "a/b/e0", "franka")])
    meta = DatasetMeta.load(root)
    written = json.loads((root / "meta/info.json").read_text(encoding="utf-8"))["features"]
    assert {k: f.to_json() for k, f in meta.info.features.items()} == written
    assert {f.dtype for f in meta.info.features.values()} >= {"video", "float32", "bool", "int64"}
    assert any(len(f.shape) == 3 and not f.is_visual for f in meta.info.features.values())
    table = {k: f for k, f in meta.info.features.items() if not f.is_video}
    data = pq.read_schema(root / meta.info.data_file(0)).metadata[b"huggingface"]
    assert json.dumps(hf_features(table)).encode() == data
    assert "names_variant" not in meta.codes()


JOINTS = ["j0", "j1", "j2"]


@pytest.mark.parametrize(
    ("names", "flat"),
    [
        (JOINTS, JOINTS),  # LeRobot recording
        ({"motors": JOINTS}, JOINTS),  # any4lerobot / OXE
        ([["j0", "j1"], ["j2"]], JOINTS),  # Unitree nested list
        ({"arm": ["j0", "j1"], "gripper": "j2"}, JOINTS),  # a single name as a dict value
        (None, None),
    ],
    ids=["flat", "motors_dict", "nested", "dict_with_str_leaf", "none"],
)
def test_names_variants_flatten(names, flat) -> None:
    spec = FeatureSpec.model_validate({"dtype": "float32", "shape": [3], "names": names})
    assert spec.flat_names() == flat
    assert flatten_names(names) == flat
    assert spec.to_json()["names"] == names  # written back as read


def test_v20_video_info_key_is_read_as_info_and_written_as_info() -> None:
    raw = {
        "dtype": "video",
        "shape": [256, 256, 3],
        "names": ["height", "width", "channel"],
        "video_info": {"video.fps": 20.0, "video.codec": "h264", "video.pix_fmt": "yuv420p", "has_audio": False},
    }
    spec = FeatureSpec.model_validate(raw)
    assert spec.is_video and spec.video_info is not None
    assert spec.video_info.codec == "h264" and spec.video_info.fps == 20.0
    out = spec.to_json()
    assert "video_info" not in out and out["info"]["video.codec"] == "h264"
    assert spec.video_info.to_json()["video.fps"] == 20  # integral fps written as an int
