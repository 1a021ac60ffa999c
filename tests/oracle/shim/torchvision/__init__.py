"""Test-only stand-in for torchvision so that lerobot 0.3.3 imports next to CPU-only torch 2.13 (docker/README.md).

The real torchvision wheels are CUDA builds that fail at import here. lerobot needs only `transforms.ToTensor` and
`set_video_backend`; video decoding is replaced by the oracle script. Never put this directory on the path of a
process that imports transformers: transformers would take it for the real torchvision and fail.
"""

__version__ = "0.0.0+eidata-test-shim"

from . import io, transforms  # noqa: F401

_backend = "pyav"


def set_video_backend(backend):
    global _backend
    _backend = backend


def get_video_backend():
    return _backend
