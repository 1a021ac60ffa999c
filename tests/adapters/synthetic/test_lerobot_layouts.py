"""The LeRobot layout writer (`adapters/synthetic/lerobot_layouts.py`) against the makers' own `info.json` files
recorded in `tests/fixtures/lerobot_layouts/` (each cited in its `layout.json`; the info written back is checked in
`tests/adapters/lerobot/test_real_layouts.py`): for a v2.0, a v2.1 and a v3.0 layout, the files are where the maker's
path templates put them, every declared numeric feature is a parquet column of the declared dtype and width, and
every declared video an mp4 of the declared size (and codec, where the maker recorded it)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adapters.synthetic.lerobot_layouts import features, load_case, materialize
from schemas.lerobot import fill_path_template

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lerobot_layouts"
ARROW = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64(), "int32": pa.int32(), "bool": pa.bool_()}
DECODERS = {"av1": {"av1", "libdav1d", "libaom-av1"}, "h264": {"h264"}, "hevc": {"hevc"}, "mp4v": {"mpeg4"}}


def _leaf(t: pa.DataType) -> pa.DataType:
    """The element type under any nesting of lists."""
    while pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
        t = t.value_type
    return t


@pytest.mark.parametrize("name", ["pusht_v20", "dual_so101_v21", "so101_front_top_v30"])
def test_columns_and_videos_as_the_makers_info_declares(tmp_path: Path, name: str) -> None:
    case = load_case(FIXTURES / name)
    w = materialize(case, tmp_path / name, episodes=1, seconds=0.3)
    info = case.info
    data = w.root / fill_path_template(info["data_path"], 0, 0, None, file_index=0)
    assert data.is_file(), data
    table = pq.read_table(data)
    for ft in features(info):
        if ft.is_camera:
            continue
        assert ft.key in table.column_names, (name, ft.key)
        leaf = _leaf(table.schema.field(ft.key).type)
        assert leaf == ARROW[ft.dtype], (name, ft.key, leaf)
        values = np.asarray(table[ft.key].to_pylist(), dtype=object if leaf == pa.bool_() else None)
        assert int(np.prod(values.shape[1:] or (1,))) == int(np.prod(ft.shape)), (name, ft.key)
    for ft in (f for f in features(info) if f.dtype == "video"):
        expected = fill_path_template(info["video_path"], 0, 0, ft.key, file_index=0)
        assert expected in w.video_files or case.record.video_dir, (name, expected, w.video_files)
        [mp4] = [f for f in w.video_files if ft.key in f and f.endswith(Path(expected).name)]
        with av.open(str(w.root / mp4)) as c:
            s = c.streams.video[0]
            assert (s.height, s.width) == ft.hw, (name, ft.key)
            if ft.codec in DECODERS:
                assert s.codec_context.name in DECODERS[ft.codec], (name, ft.codec, s.codec_context.name)
