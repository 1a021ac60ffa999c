"""Only what lerobot 0.3.3 uses: `ToTensor` for image-dtype features (HWC uint8 -> CHW float32 in [0, 1])."""

import numpy as np
import torch


class ToTensor:
    def __call__(self, pic):
        arr = np.asarray(pic)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float().div(255)
