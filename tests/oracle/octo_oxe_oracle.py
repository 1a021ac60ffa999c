"""Octo's own OXE standardization run on a TFDS builder directory, in `.venv-oracle-octo` (`make oracle-octo`), in a
subprocess, never imported by pytest (`tests/adapters/oxe/test_octo_oracle.py` runs it):

    python tests/oracle/octo_oxe_oracle.py <maker code folder> <builder dir> <octo dataset name> <split> <out.npz>

The maker code folder is the real sample `octo_maker_code` (octo-models/octo@241fb35's `octo/` and kvablack/dlimp's
`dlimp/`, as fetched). Each episode is read as Octo reads it, `dlimp.DLataset.from_rlds(builder, split,
shuffle=False)` (TFDS with the steps left encoded, `tfds.decode.SkipDecoding`), then standardized by
`OXE_STANDARDIZATION_TRANSFORMS[name]` (octo/data/oxe/oxe_standardization_transforms.py), the function Octo's
`make_dataset_from_rlds` applies first (dlimp's `traj_map` is `map` over whole episodes). dlimp's options let episodes
arrive out of order (`deterministic = False`, and its `_traj_index` is numbered after a reordering read): the
pipeline is made deterministic here, so episode `i` is the split's `i`-th in file order. Written per episode `i`:
`proprio_i` (Octo's `observation.proprio`) and `action_i` (its `action`), float32 as Octo casts them, and `names`:
Octo's `OXE_DATASET_CONFIGS` keys, with `proprio_encodings` (its ProprioEncoding names) beside them. Octo's
normalization comes after this and is not eidata's business (eidata keeps physical units)."""

from __future__ import annotations

import sys

import numpy as np


def run(maker: str, builder_dir: str, name: str, split: str, out: str) -> None:
    sys.path.insert(0, maker)
    import dlimp as dl
    import tensorflow as tf
    import tensorflow_datasets as tfds
    from octo.data.oxe.oxe_dataset_configs import OXE_DATASET_CONFIGS
    from octo.data.oxe.oxe_standardization_transforms import OXE_STANDARDIZATION_TRANSFORMS

    tf.config.set_visible_devices([], "GPU")
    builder = tfds.builder_from_directory(builder_dir)
    transform = OXE_STANDARDIZATION_TRANSFORMS[name]
    dataset = dl.DLataset.from_rlds(builder, split=split, shuffle=False, num_parallel_reads=1)
    ordered = tf.data.Options()
    ordered.deterministic = True  # dlimp sets False: episodes (and its _traj_index) would come in any order
    arrays: dict[str, np.ndarray] = {}
    for i, traj in enumerate(dataset.map(transform, num_parallel_calls=1).with_options(ordered).as_numpy_iterator()):
        arrays[f"proprio_{i}"] = np.asarray(traj["observation"]["proprio"], np.float32)
        arrays[f"action_{i}"] = np.asarray(traj["action"], np.float32)
    arrays["names"] = np.array(sorted(OXE_DATASET_CONFIGS))
    arrays["proprio_encodings"] = np.array([OXE_DATASET_CONFIGS[n]["proprio_encoding"].name for n in arrays["names"]])
    np.savez(out, **arrays)


if __name__ == "__main__":
    run(*sys.argv[1:])
