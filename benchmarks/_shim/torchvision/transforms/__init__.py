"""Only `ToTensor`, which lerobot 0.3.3 uses for image-dtype features."""

import numpy as np
import torch


class ToTensor:
    def __call__(self, pic: object) -> torch.Tensor:
        a = np.asarray(pic)
        a = a[:, :, None] if a.ndim == 2 else a
        return torch.from_numpy(a.copy()).permute(2, 0, 1).float().div(255)
