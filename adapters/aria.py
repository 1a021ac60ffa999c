"""Aria recordings, shared by `hot3d`, `aria_mps` and `vitra`: the RGB camera's MPS calibration (its fields in
`adapters/hot3d/files.py`) and the RGB frames of a HOT3D sequence's `recording.vrs`, read through `projectaria_tools`
as the maker's `AriaDataProvider.py` reads them (stream "214-1", frame times in TIME_CODE, images not rotated; the
maker's code and the checks behind this are in adapters/README.md `hot3d`): a frame's timestamp is its TIME_CODE, the
ground truth's clock, and its pixels stay in the sensor's orientation, the camera pose's. `projectaria_tools` is
imported only when a sequence has a recording; errors are `VideoError`s naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.base import AdapterError, CameraSource, reraised
from adapters.cameras import fit_rgb
from adapters.poses import se3
from adapters.storage.location import Location
from schemas.camera_model import Fisheye624Camera
from schemas.canonical import Camera
from schemas.image_size import FrameFit
from schemas.settings import limit

VRS_FILE = "recording.vrs"
RGB_STREAM, RGB_LABEL = "214-1", "camera-rgb"
PACKAGE = "projectaria-tools"


def se3_from_wxyz(q_wxyz: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(N,4) w-first unit quaternions and (N,3) translations -> (N,4,4) poses."""
    q = np.asarray(q_wxyz, dtype=np.float64).reshape(-1, 4)
    norms = np.linalg.norm(q, axis=1)
    if not np.all(np.abs(norms - 1) < 1e-3):
        raise ValueError(f"quaternion norm {norms[np.argmax(np.abs(norms - 1))]:.4f}, expected 1")
    return se3(Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix(), np.asarray(t, dtype=np.float64).reshape(-1, 3))


# the projection names of the calibration files (Aria MPS `Projection.Name`, Quest 3 `projectionModelType`) that are
# FISHEYE624: projectaria_tools' `FisheyeRadTanThinPrism<6, true, true, ...>` (`schemas.camera_model.Fisheye624Camera`)
FISHEYE624_NAMES = frozenset({"FisheyeRadTanThinPrism", "CameraModelType.FISHEYE624", "FISHEYE624"})


@dataclass(frozen=True)
class CameraCalibration:
    label: str
    device_from_camera: np.ndarray  # (4,4)
    model: str
    params: tuple[float, ...]

    def lens(self, width: int, height: int) -> Fisheye624Camera:
        """The camera's lens for its `width` x `height` images (the calibration is in the pixels of the stream it
        was made for; a principal point outside them is a calibration of another size: a ValueError)."""
        if self.model not in FISHEYE624_NAMES:
            raise ValueError(f"projection {self.model!r} is not FISHEYE624 ({', '.join(sorted(FISHEYE624_NAMES))})")
        return Fisheye624Camera.from_params(self.params, width, height)


def read_aria_calibration(path: Location, label: str = "camera-rgb") -> CameraCalibration:
    """The camera `label` of the first line of MPS `online_calibration.jsonl`."""
    with path.open() as f:
        first = f.readline(limit("SIDECAR_BYTES") + 1)  # one calibration line: no line of the whole file
    try:
        cams = json.loads(first)["CameraCalibrations"]
        cam = next(c for c in cams if c.get("Label") == label)
        tf = cam["T_Device_Camera"]
        w, xyz = tf["UnitQuaternion"]
        pose = se3_from_wxyz(np.array([[w, *xyz]]), np.array(tf["Translation"]))[0]
        return CameraCalibration(label, pose, cam["Projection"]["Name"], tuple(cam["Projection"]["Params"]))
    except StopIteration:
        raise ValueError(f"line 1: no camera labelled {label!r}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"line 1: {type(e).__name__}: {e}") from e


class VideoError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def open_recording(path: Location) -> tuple[Any, Any, Any]:
    """(VrsDataProvider, RGB StreamId, the TimeDomain enum) of a recording, or a VideoError saying why not."""
    try:
        from projectaria_tools.core import data_provider
        from projectaria_tools.core.sensor_data import TimeDomain
        from projectaria_tools.core.stream_id import StreamId
    except ImportError as e:
        raise VideoError(
            f"reading {VRS_FILE} needs the {PACKAGE} package (pip install 'projectaria-tools==2.3.*' "
            f"--no-deps; its core reader needs only numpy): {e}",
            "video",
        ) from e
    # the VRS reader opens paths only: an object is copied whole into the bounded local cache
    provider = data_provider.create_vrs_data_provider(str(path.local_path()))
    if provider is None:
        raise VideoError("not a readable VRS file (projectaria_tools could not open it)", "video")
    stream = StreamId(RGB_STREAM)
    if stream not in provider.get_all_streams():
        raise VideoError(f"no RGB stream {RGB_STREAM} ({RGB_LABEL})", "video/camera-rgb")
    return provider, stream, TimeDomain


def rgb_frames(
    path: Location, first_ns: int, last_ns: int, fps: float, domain: str = "TIME_CODE"
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(VRS frame indices, their times in `domain` (ns), height, width) of the RGB frames within half a frame of
    [first_ns, last_ns]: HOT3D's ground truth is on TIME_CODE, Aria MPS outputs on DEVICE_TIME (the recording's own
    clock, `tracking_timestamp_us`). A recording that ends early (truncated: VRS rebuilds a lost index from the
    records it still has) or has no time code when one is asked is an error."""
    provider, stream, time_domain = open_recording(path)
    clock = getattr(time_domain, domain)
    if domain == "TIME_CODE" and not provider.supports_time_domain(stream, clock):
        raise VideoError(
            "no TIME_CODE stream (285-1): frames cannot be put on the ground truth's clock", "video/time_code"
        )
    codes = np.asarray(provider.get_timestamps_ns(stream, clock), dtype=np.int64)
    half = round(0.5e9 / fps)
    if not len(codes) or codes[0] > first_ns + half or codes[-1] < last_ns - half:
        span = f"[{codes[0]}, {codes[-1]}]" if len(codes) else "none"
        raise VideoError(
            f"{len(codes)} RGB frames, {domain} {span} ns, do not cover the ground truth "
            f"[{first_ns}, {last_ns}] ns (truncated recording?)",
            "video/camera-rgb",
        )
    keep = np.flatnonzero((codes >= first_ns - half) & (codes <= last_ns + half))
    config = provider.get_configuration(stream).image_configuration()
    return keep, codes[keep], int(config.image_height), int(config.image_width)


def rgb_camera(
    path: Location, first_ns: int, last_ns: int, fps: float, t0_ns: int, episode: str, adapter: str, domain: str
) -> tuple[AriaRgbCamera, dict[str, Any]]:
    """The RGB camera over `rgb_frames`' span, its times in seconds from `t0_ns`, and what `metadata["video"]` says
    of it."""
    index, times, h, w = rgb_frames(path, first_ns, last_ns, fps, domain)
    return AriaRgbCamera(path, index, (times - t0_ns) / 1e9, h, w, episode=episode, adapter=adapter), {
        "file": path.name,
        "stream": RGB_STREAM,
        "frames": len(index),
        "time_domain": domain,
        "size": [h, w],
    }


class AriaRgbCamera(CameraSource):
    """The RGB frames `vrs_index` of a recording, decoded (JPEG) by projectaria_tools while iterated. A frame that
    does not decode, or not at the stream's size, is an `AdapterError` naming the recording, `episode` and field."""

    def __init__(
        self,
        path: Location,
        vrs_index: np.ndarray,
        timestamps: np.ndarray,
        height: int,
        width: int,
        episode: str = "",
        adapter: str = "hot3d",
    ) -> None:
        super().__init__(RGB_LABEL, Camera.head, timestamps, height, width)
        self.path, self.episode, self.adapter = path, episode, adapter
        self.vrs_index = np.asarray(vrs_index, dtype=np.int64)

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        with reraised(VideoError, lambda e: self._error(str(e), e.field)):
            provider, stream, _ = open_recording(self.path)
        for i in range(len(self.vrs_index)) if indices is None else indices:
            image, _ = provider.get_image_data_by_index(stream, int(self.vrs_index[i]))
            try:  # a JPEG that does not decode leaves an empty optional: RuntimeError("bad optional access")
                rgb = image.to_numpy_array() if image.is_valid() else None
            except RuntimeError:
                rgb = None
            if rgb is None:
                raise self._error(f"RGB frame {self.vrs_index[i]} does not decode", "video/camera-rgb")
            if rgb.shape != (self.height, self.width, 3):
                raise self._error(
                    f"RGB frame {self.vrs_index[i]} is {rgb.shape}, the stream declares {(self.height, self.width, 3)}",
                    "video/camera-rgb",
                )
            yield i, fit_rgb(rgb, fit)

    def _error(self, message: str, field: str) -> AdapterError:
        where = {"file": self.path, "episode": self.episode, "field": field}
        return AdapterError(f"{self.path.name}: {message}", adapter=self.adapter, **where)
