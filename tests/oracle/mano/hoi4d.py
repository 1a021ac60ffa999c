"""HOI4D's own reading of its hand-pose pickles (leolyliu/HOI4D-Instructions@1547866, README.md:125-155, "Human Hand
Pose"), camera frame, metres:

    python run.py hoi4d <code dir> <handpose folder> <sequence> <model dir> <out.npz>

The README's code block ("To get 3D keypoints and camera frame hand vertices", README.md:138-155), taken from the
README's text and run unchanged once per `<frame>.pickle` of `refinehandpose_{right,left}/<sequence>/`, `${PKL_PATH}`
set to that file; its `kps3d` (1,21,3) = manopth joints / 1000 + `trans`, manopth's order (OpenPose). The right hand
as written (`side='right'`); the left hand's pickles with that one word `'left'` (the README shows only the right
layer; eidata reads the left folder on MANO_LEFT, an assumption this check shares).

manopth is hassony2/manopth@4f1dcad, as the README says to install it: "put the whole `manopth` folder in the same
place as your code", run from a folder holding that `manopth` (its `mano/models/` holding the pickles, for the
README's `mano_root='manopth/mano/models'`). The README warns of "reference problems" in manopth's own imports
(`from manopth import rodrigues_layer`, `from mano.webuser ...`): met as its `setup.py` installs it (the packages
`manopth` and `mano` importable), `manopth.manopth` naming the same package for the README's import line. The README's
block uses `nn` without importing it: `torch.nn` is given.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import on_path

SNIPPET = re.compile(r"To get 3D keypoints.*?```python\n(.*?)```", re.S)


def readme_code(readme: Path) -> str:
    found = SNIPPET.search(readme.read_text(encoding="utf-8"))
    if found is None or "${PKL_PATH}" not in found.group(1) or "side='right'" not in found.group(1):
        raise LookupError(f"{readme}: no hand-pose code block with ${{PKL_PATH}} and side='right'")
    return found.group(1)


def run(code: str, handpose: str, sequence: str, model_dir: str, out: str) -> None:
    block = readme_code(Path(code) / "README.md")
    result: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(Path(code) / "manopth", Path(tmp) / "manopth")
        models = Path(tmp) / "manopth" / "mano" / "models"
        models.mkdir(parents=True, exist_ok=True)
        for name in ("MANO_RIGHT.pkl", "MANO_LEFT.pkl"):
            shutil.copy(Path(model_dir) / name, models / name)
        here = os.getcwd()
        os.chdir(tmp)  # the README's mano_root='manopth/mano/models' is relative
        with on_path(Path(tmp) / "manopth"):
            import manopth
            import manopth.manolayer

            sys.modules["manopth.manopth"], sys.modules["manopth.manopth.manolayer"] = manopth, manopth.manolayer
            for side in ("right", "left"):
                folder = Path(handpose) / f"refinehandpose_{side}" / sequence
                frames = sorted(folder.glob("*.pickle"), key=lambda p: int(p.stem))
                source = block.replace("side='right'", f"side='{side}'")
                kps = []
                for path in frames:
                    scope = {"nn": torch.nn}
                    exec(compile(source.replace("${PKL_PATH}", repr(str(path))), "README.md", "exec"), scope)
                    kps.append(scope["kps3d"].detach().numpy()[0])
                result[side] = np.stack(kps) if kps else np.zeros((0, 21, 3))
                result[f"{side}_frames"] = np.array([int(p.stem) for p in frames])
        os.chdir(here)
    np.savez(out, **result)
