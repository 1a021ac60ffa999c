"""Camera topics (`adapters.rosbag.camera`): every raw encoding decoded to the RGB it holds (channel orders, row
padding, 16-bit byte order, the four Bayer patterns, both YUV 4:2:2 layouts), compressed frames to their pixels, depth
named as not colour; and a `BagCamera` over the synthetic bag's Image and CompressedImage topics yielding the very
pixels written, in bag order, within its episode's span, the frame shown at a time the last exposed at or before it."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from adapters.registry import get_adapter
from adapters.rosbag.camera import COMPRESSED, IMAGE, BagCamera, colour_problem, decode
from adapters.storage.location import locate
from ingest.canonical.resample import nearest_at_or_before
from schemas.image_size import FrameFit
from tests.adapters.rosbag.conftest import H, W

RAW, PNG = IMAGE[0], COMPRESSED[0]
RNG = np.random.default_rng(3)
RGB = RNG.integers(0, 256, (6, 8, 3), dtype=np.uint8)


def _image(encoding: str, pixels: np.ndarray, pad: int = 0, bigendian: int = 0) -> SimpleNamespace:
    """An Image message as rosbags gives it: rows of `step` bytes (`pad` unused bytes at each row's end)."""
    h, w = pixels.shape[:2]
    rows = pixels.reshape(h, -1).view(np.uint8)
    rows = np.concatenate([rows, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    return SimpleNamespace(
        encoding=encoding, height=h, width=w, step=rows.shape[1], is_bigendian=bigendian, data=rows.ravel()
    )


@pytest.mark.parametrize("pad", [0, 5])
def test_colour_encodings_decode_to_the_rgb_they_hold_whatever_the_row_padding(pad: int) -> None:
    alpha = RNG.integers(0, 256, (6, 8, 1), dtype=np.uint8)
    for encoding, pixels in (
        ("rgb8", RGB),
        ("bgr8", RGB[..., ::-1]),
        ("rgba8", np.concatenate([RGB, alpha], axis=2)),
        ("bgra8", np.concatenate([RGB[..., ::-1], alpha], axis=2)),
        ("RGB8", RGB),  # encodings are matched without case
    ):
        np.testing.assert_array_equal(decode(_image(encoding, np.ascontiguousarray(pixels), pad), RAW), RGB, encoding)
    gray = RGB[..., 0]
    np.testing.assert_array_equal(decode(_image("mono8", gray, pad), RAW), np.repeat(gray[..., None], 3, axis=2))


def test_mono16_keeps_its_high_byte_in_either_byte_order() -> None:
    high, low = RGB[..., 0].astype(np.uint16), RGB[..., 1].astype(np.uint16)
    value = high << 8 | low
    for order, bigendian in (("<u2", 0), (">u2", 1)):
        msg = _image("mono16", value.astype(order).view(np.uint8).reshape(6, 8, 2), pad=2, bigendian=bigendian)
        np.testing.assert_array_equal(decode(msg, RAW), np.repeat(high[..., None], 3, axis=2).astype(np.uint8))


@pytest.mark.parametrize("pattern", ["rggb", "bggr", "gbrg", "grbg"])
def test_each_bayer_pattern_gives_back_the_colour_it_sampled(pattern: str) -> None:
    colour = {"r": 200, "g": 100, "b": 50}
    mosaic = np.zeros((8, 8), np.uint8)
    for k, c in enumerate(pattern):  # the pattern names the 2x2 cell row by row: rggb = R G / G B
        mosaic[k // 2 :: 2, k % 2 :: 2] = colour[c]
    out = decode(_image(f"bayer_{pattern}8", mosaic), RAW)
    assert out.shape == (8, 8, 3) and np.all(out == [200, 100, 50])


def test_both_yuv422_layouts_read_luma_and_chroma_from_their_own_bytes() -> None:
    # BT.601 red (Y 81, U 90, V 240) and a grey ramp (U = V = 128) as UYVY (ROS yuv422) and YUYV (yuv422_yuy2)
    y = np.array([[81, 81, 40, 80], [120, 160, 200, 235]], np.uint8)
    u = np.array([[90, 128], [128, 128]], np.uint8)
    v = np.array([[240, 128], [128, 128]], np.uint8)
    uyvy = np.stack([u, y[:, 0::2], v, y[:, 1::2]], axis=2).reshape(2, 4, 2)  # 2 bytes a pixel
    yuyv = np.stack([y[:, 0::2], u, y[:, 1::2], v], axis=2).reshape(2, 4, 2)
    a = decode(_image("yuv422", uyvy), RAW)
    np.testing.assert_array_equal(a, decode(_image("uyvy", uyvy), RAW))
    for encoding in ("yuv422_yuy2", "yuyv"):
        np.testing.assert_array_equal(decode(_image(encoding, yuyv), RAW), a)
    assert a[0, 0, 0] > 240 and a[0, 0, 1] < 10 and a[0, 0, 2] < 10  # red
    grey = a.reshape(-1, 3)[2:]
    assert np.all(grey[:, 0] == grey[:, 1]) and np.all(grey[:, 1] == grey[:, 2]) and np.all(np.diff(grey[:, 0]) > 0)


def test_compressed_frames_decode_and_depth_is_named_as_not_colour() -> None:
    png = cv2.imencode(".png", RGB[..., ::-1])[1]
    np.testing.assert_array_equal(decode(SimpleNamespace(format="png", data=png), PNG), RGB)
    smooth = np.repeat(np.linspace(0, 255, 8, dtype=np.uint8)[None, :, None], 6, axis=0).repeat(3, axis=2)
    jpeg = cv2.imencode(".jpg", smooth, [cv2.IMWRITE_JPEG_QUALITY, 95])[1]
    got = decode(SimpleNamespace(format="rgb8; jpeg compressed bgr8", data=jpeg), "sensor_msgs/CompressedImage")
    assert np.abs(got.astype(int) - smooth).max() <= 4
    for msgtype, encoding in ((RAW, "rgb8"), (RAW, "mono16"), (RAW, "bayer_rggb8"), (PNG, "compressed: png")):
        assert colour_problem(msgtype, encoding) is None, encoding
    for msgtype, encoding in ((RAW, "16UC1"), (RAW, "32FC1"), (PNG, "compressed: 16UC1; compressedDepth png")):
        assert colour_problem(msgtype, encoding), encoding
    with pytest.raises(ValueError, match="'32FC1' is not decoded"):
        decode(_image("32FC1", np.zeros((2, 2, 4), np.uint8)), RAW)


TOPICS = {"/camera/color/image_raw": RAW, "/wrist_camera/image_raw/compressed": PNG}


def _camera(bag, topic: str, span: tuple[int, int]) -> BagCamera:
    stamps = np.array([s for log, s, _ in bag.frames[topic] if span[0] <= log < span[1]])
    return BagCamera(locate(bag.path), topic, TOPICS[topic], span, "cam", None, (stamps - stamps[0]) / 1e9, H, W)


@pytest.mark.parametrize("topic", list(TOPICS))
def test_a_bag_camera_yields_the_written_pixels_in_order_within_its_span(synthetic_bag, topic: str) -> None:
    written = synthetic_bag.frames[topic]
    cam = _camera(synthetic_bag, topic, (written[0][0], written[-1][0] + 1))
    frames = list(cam.frames())
    assert [i for i, _ in frames] == list(range(len(written)))
    for (_, got), (_, _, want) in zip(frames, written, strict=True):
        np.testing.assert_array_equal(got, want)
    picked = list(cam.frames([1, 4, len(written) - 1]))
    assert [i for i, _ in picked] == [1, 4, len(written) - 1]
    np.testing.assert_array_equal(picked[1][1], written[4][2])
    window = _camera(synthetic_bag, topic, (written[5][0], written[9][0]))  # an episode cut from the bag: 5..8
    got = list(window.frames())
    assert len(got) == len(window) == 4
    for (i, frame), (_, _, want) in zip(got, written[5:9], strict=True):
        np.testing.assert_array_equal(frame, want, err_msg=str(i))
    fit = FrameFit.make((H, W), (12, 16), "squash")
    (_, small), *_ = cam.frames([0], fit)
    assert small.shape == (12, 16, 3)


def test_the_frame_shown_at_a_time_is_the_last_exposed_at_or_before_it(synthetic_bag) -> None:
    ep = get_adapter("rosbag").read(next(iter(get_adapter("rosbag").discover(synthetic_bag.path))))
    t0 = ep.metadata["start_ns"]
    for topic, name in (
        ("/camera/color/image_raw", "camera_color_image_raw"),
        ("/wrist_camera/image_raw/compressed", "wrist_camera_image_raw_compressed"),
    ):
        cam, written = ep.cameras[name], synthetic_bag.frames[topic]
        grid = np.arange(0, 3.0, 0.1)
        grid = grid[grid * 1e9 + t0 >= written[0][1]]  # from the first exposure on
        shown = nearest_at_or_before(cam.timestamps, grid)  # what canonicalization picks for each instant
        decoded = dict(cam.frames(sorted(set(shown.tolist()))))
        for g, i in zip(grid, shown, strict=True):
            at = t0 + g * 1e9
            last = max((w for w in written if w[1] <= at), key=lambda w: w[1])  # exposed at or before, latest
            assert last[1] <= at < last[1] + 1e9 / (15 if "color" in topic else 10)
            np.testing.assert_array_equal(decoded[i], last[2], err_msg=f"{topic} at {g:.1f} s")
