"""A MANO model in MANO's own file layout, from plain arrays (the licensed files are absent):

    python run.py model <arrays.npz> <MANO_RIGHT.pkl or MANO_LEFT.pkl>

as the MANO release (mano_v1_2/models) lays out its pickles, which smplx's `MANO` and manopth's `ready_arguments`
read with `pickle.load(..., encoding="latin1")`: `v_template` and `shapedirs` chumpy `Ch` objects (real chumpy,
whose pickled state eidata's `ingest.canonical.mano.convert` reads), `J_regressor` a scipy csc matrix, uint32 faces
and kintree (the root's parent 2**32-1), `J`, `bs_style` "lbs", `bs_type` "lrotmin" (manopth's `posemap` reads it),
`hands_coeffs`, and the arrays as given (`weights`, `posedirs`, `hands_components`, `hands_mean`)."""

from __future__ import annotations

import pickle

import chumpy as ch
import numpy as np
import scipy.sparse as sp


def run(arrays_npz: str, out_pkl: str) -> None:
    with np.load(arrays_npz) as z:
        a = {k: z[k] for k in z.files}
    kintree = a["kintree_table"].astype(np.int64)
    kintree[0, 0] = 2**32 - 1
    payload = {
        **a,
        "v_template": ch.array(a["v_template"]),
        "shapedirs": ch.array(a["shapedirs"]),
        "J_regressor": sp.csc_matrix(a["J_regressor"]),
        "kintree_table": kintree.astype(np.uint32),
        "f": a["f"].astype(np.uint32),
        "J": a["J_regressor"] @ a["v_template"],
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "hands_coeffs": np.zeros((1554, a["hands_components"].shape[0])),
    }
    with open(out_pkl, "wb") as f:
        pickle.dump(payload, f, protocol=2)
