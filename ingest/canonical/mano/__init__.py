"""The MANO hand model: `model` (ManoHand through smplx), `convert` (the licensed pickle to a plain `.npz`, once),
`evaluate` (hands an adapter declares as MANO parameters, evaluated into MANO-21 keypoints at canonicalization)."""
