"""What an epoch of the training test corpus reads: the denominator of bytes fetched per byte used when the corpus is
in a bucket (tests/s3/test_training.py, benchmarks/train_bucket.py)."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
from safetensors import safe_open

from schemas.canonical import ACTION, STATE
from training.episodes import SampleIndex


def bytes_used(index: SampleIndex) -> int:
    """What an epoch's readers take from a local corpus's files: each latents tensor and each text tensor whole
    (bf16), and the action and state column chunks of each data file as stored (compressed)."""
    total, texts = 0, set()
    for ep in index.episodes:
        with safe_open(str(ep.latents_path), framework="pt") as f:
            total += int(np.prod(f.get_slice("latents").get_shape())) * 2
        if ep.text_path is not None and ep.text_path not in texts:
            texts.add(ep.text_path)
            with safe_open(str(ep.text_path), framework="pt") as f:
                total += int(np.prod(f.get_slice("hidden_states").get_shape())) * 2
        md = pq.ParquetFile(ep.data_path).metadata
        for rg in range(md.num_row_groups):
            for c in range(md.num_columns):
                path = md.row_group(rg).column(c).path_in_schema
                if any(path == k or path.startswith(k + ".") for k in (ACTION, STATE)):
                    total += md.row_group(rg).column(c).total_compressed_size
    return total
