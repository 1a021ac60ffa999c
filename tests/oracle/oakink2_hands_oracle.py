"""OakInk2's own hand loading on one sequence, run in a subprocess under `.venv-oracle-mano` (never imported by pytest;
`make oracle-mano`):

    python oakink2_hands_oracle.py <maker code dir> <dataset root> <sequence token> <MANO assets root> <out.npz>

The maker code dir holds OakInk2's `oakink2_toolkit/` (oakink/OakInk2 `src/oakink2_toolkit/`) and manotorch's
`manotorch/` and `mano/` at the commit OakInk2 pins as its submodule (lixiny/manotorch), imported as OakInk2 imports
them. The annotation is loaded by the toolkit: `OakInk2__Dataset(root).instantiate_complex_task(...)` (pickle.load of
`anno_preview/<token>.pkl`, `_collect_mano` per side over `mocap_frame_id_list`); each hand through manotorch as the
maker's viewer does (src/oakink2_preview/launch/viz/seg_3d.py: `ManoLayer(mano_assets_root, rot_mode="quat",
side, center_idx=0, use_pca=False, flat_hand_mean=True)`, `joints + tsl`), the assets root holding
`models/MANO_{LEFT,RIGHT}.pkl` as MANO ships them.

out.npz: `<side>_joints` (T, 21, 3) m in the mocap world, manotorch's joint order, and `mocap` (T,) frame ids.
"""

from __future__ import annotations

import sys

import numpy as np


def main(maker: str, root: str, token: str, mano_root: str, out: str) -> None:
    sys.path.insert(0, maker)
    import torch
    from manotorch.manolayer import ManoLayer
    from oakink2_toolkit.dataset import OakInk2__Dataset
    from oakink2_toolkit.structure.complex_task import OakInk2__ComplexTask

    dataset = OakInk2__Dataset(dataset_prefix=root, return_instantiated=True)
    task = dataset.instantiate_complex_task(OakInk2__ComplexTask(seq_key=token.replace("++", "/"), seq_token=token))
    result = {"mocap": np.arange(task.frame_range[0], task.frame_range[1] + 1)}
    for side, param in (("left", task.lh_param), ("right", task.rh_param)):
        layer = ManoLayer(
            mano_assets_root=mano_root,
            rot_mode="quat",
            side=side,
            center_idx=0,
            use_pca=False,
            flat_hand_mean=True,
        )
        with torch.no_grad():
            mano_out = layer(pose_coeffs=param["pose_coeffs"].float(), betas=param["betas"].float())
            joints = mano_out.joints + param["tsl"].float().unsqueeze(1)
        result[f"{side}_joints"] = joints.numpy().astype(np.float64)
    np.savez(out, **result)


if __name__ == "__main__":
    main(*sys.argv[1:6])
