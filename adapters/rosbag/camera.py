"""Camera topics: `sensor_msgs/Image` and `sensor_msgs/CompressedImage` frames decoded from the bag while iterated
(a `BagCamera`, on its topic's clock, reads the topic's messages in its episode's span again and decodes only the
frames asked for). Raw encodings as `sensor_msgs/image_encodings.h` names them (rgb8, bgr8, rgba8, bgra8, mono8,
mono16, the bayer_* patterns, yuv422 = UYVY, yuv422_yuy2 = YUYV); a `CompressedImage` is JPEG or PNG
(image_transport's compressed plugin: `format` "jpeg" or "rgb8; jpeg compressed bgr8"), decoded to RGB by OpenCV.
Depth encodings (16UC1, 32FC1, `compressedDepth`) are not colour frames: the adapter names such a topic in the
episode's findings instead of making a camera of it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from adapters.base import CameraSource
from adapters.cameras import decode_image, fit_rgb
from adapters.rosbag.bags import open_bag
from adapters.storage.location import Location
from schemas.canonical import Camera
from schemas.image_size import FrameFit

IMAGE = ("sensor_msgs/msg/Image", "sensor_msgs/Image")
COMPRESSED = ("sensor_msgs/msg/CompressedImage", "sensor_msgs/CompressedImage")
# encoding -> (bytes per pixel, cv2 conversion to RGB or None): encodings.toml
_CVT = {
    k: (v["channels"], getattr(cv2, v["convert"]) if v["convert"] else None)
    for k, v in tomllib.loads(Path(__file__).with_name("encodings.toml").read_text(encoding="utf-8")).items()
}


def colour_problem(msgtype: str, encoding: str) -> str | None:
    """Why an image topic is not a colour camera, or None."""
    if msgtype in COMPRESSED:
        return "a compressedDepth topic (depth, not colour)" if "compresseddepth" in encoding.lower() else None
    if encoding.lower() not in _CVT and encoding.lower() != "mono16":
        return f"encoding {encoding!r} is not a colour image (depth or unsupported)"
    return None


def decode(msg: object, msgtype: str) -> np.ndarray:
    """One deserialized Image / CompressedImage message -> HxWx3 uint8 RGB."""
    if msgtype in COMPRESSED:
        return decode_image(bytes(msg.data))  # type: ignore[attr-defined]
    enc = msg.encoding.lower()  # type: ignore[attr-defined]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)  # type: ignore[attr-defined]
    data = np.asarray(msg.data, dtype=np.uint8)  # type: ignore[attr-defined]
    if enc == "mono16":
        rows = data.reshape(h, step)[:, : w * 2].copy().view(">u2" if msg.is_bigendian else "<u2")  # type: ignore[attr-defined]
        return cv2.cvtColor((rows >> 8).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    if enc not in _CVT:
        raise ValueError(f"image encoding {msg.encoding!r} is not decoded")  # type: ignore[attr-defined]
    ch, code = _CVT[enc]
    img = data.reshape(h, step)[:, : w * ch].reshape(h, w, ch) if ch > 1 else data.reshape(h, step)[:, :w]
    return np.ascontiguousarray(img) if code is None else cv2.cvtColor(img, code)


class BagCamera(CameraSource):
    """One image topic of one episode, decoded lazily from the bag (see the module docstring)."""

    def __init__(
        self,
        bag: Location,
        topic: str,
        msgtype: str,
        span: tuple[int, int],
        name: str,
        canonical: Camera | None,
        timestamps: np.ndarray,
        height: int,
        width: int,
    ) -> None:
        super().__init__(name, canonical, timestamps, height, width)
        self.bag, self.topic, self.msgtype, self.span = bag, topic, msgtype, span

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        wanted = None if indices is None else set(indices)
        last = len(self) - 1 if indices is None else max(indices, default=-1)
        with open_bag(self.bag) as reader:
            conns = [c for c in reader.connections if c.topic == self.topic]
            in_span = reader.messages(conns, start=self.span[0], stop=self.span[1])
            for i, (conn, _, raw) in enumerate(islice(in_span, last + 1)):
                if wanted is None or i in wanted:
                    rgb = decode(reader.deserialize(raw, conn.msgtype), self.msgtype)
                    yield i, fit_rgb(rgb, fit) if fit is not None else rgb
