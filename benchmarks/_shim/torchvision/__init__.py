"""Test-only torchvision stand-in so lerobot 0.3.3 imports here (see ENVIRONMENT.md section 2).

Never put this directory on the path of a process that imports transformers.
"""

from . import io, transforms  # noqa: F401

__version__ = "0.0.0+stub"
_video_backend = "pyav"


def set_video_backend(backend: str) -> None:
    global _video_backend
    _video_backend = backend


def get_video_backend() -> str:
    return _video_backend
