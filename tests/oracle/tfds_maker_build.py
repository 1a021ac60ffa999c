"""A maker's own TFDS dataset builder run unmodified on episodes in its own raw layout, in `.venv-oracle-octo`
(tensorflow, tensorflow-datasets 4.9.9), in a subprocess, never imported by pytest
(`tests/adapters/oxe/test_maker_builders.py` runs it):

    python tests/oracle/tfds_maker_build.py <builder .py> <working folder> <tfds data_dir>

The builder file is imported as it is (the rlds_dataset_builder template's `<name>_dataset_builder.py`, its class a
`tfds.core.GeneratorBasedBuilder`, imported as `<its folder>.<its module>` as `tfds build` does, TFDS
reading its metadata from that package) and `download_and_prepare()` is called from the working folder, where the
template's `_split_generators` globs its episodes (`data/train/episode_*.npy`); the RLDS shard it writes lands under
`<data_dir>/<builder name>/<version>/`, whose path is printed last.

One stand-in: the template loads the Universal Sentence Encoder from tfhub.dev (`tensorflow_hub.load`) for its
`language_embedding`. That needs the network and a 600 MB model, so `tensorflow_hub` is replaced here by a module
whose `load` gives a zero 512-vector per instruction. eidata skips that feature (the rows' `skipped`), and nothing
is compared on it."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import types
from pathlib import Path


def _hub_stand_in() -> None:
    import tensorflow as tf

    hub = types.ModuleType("tensorflow_hub")
    hub.load = lambda handle: lambda texts: tf.zeros((len(texts), 512), tf.float32)  # type: ignore[attr-defined]
    sys.modules["tensorflow_hub"] = hub


def run(builder_py: str, workdir: str, data_dir: str) -> str:
    import tensorflow as tf
    import tensorflow_datasets as tfds

    tf.config.set_visible_devices([], "GPU")
    _hub_stand_in()
    # TFDS 4.9.9 names the `importlib_resources` backport (dataset_builder.py code_path) that this venv lacks; the
    # standard library's module of the same API stands in
    sys.modules.setdefault("importlib_resources", importlib.import_module("importlib.resources"))
    path = Path(builder_py).resolve()
    sys.path.insert(0, str(path.parent.parent))  # as `tfds build` imports it: <folder>.<module>, the folder a package
    module = importlib.import_module(f"{path.parent.name}.{path.stem}")
    [cls] = [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, tfds.core.GeneratorBasedBuilder) and c.__module__ == module.__name__
    ]
    os.chdir(workdir)
    builder = cls(data_dir=str(Path(data_dir).resolve()))
    builder.download_and_prepare()
    return str(builder.data_path)


if __name__ == "__main__":
    print(run(*sys.argv[1:4]))
