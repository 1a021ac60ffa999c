"""ROS bag read figures: the rosbag adapter beside rosbags' own iteration over the same bag, in the same run.

    .venv/bin/python -m benchmarks.rosbag [--repeat 3] [--frames 200]
    .venv/bin/python -m benchmarks.rosbag --smoke     # one repeat, 20 frames: runs, measures nothing

Messages/s: the real WidowX 200 excerpt (`rosbag_interbotix`, 1,303 messages, 12 s) in each container
(ROS 1, ROS 2 MCAP, ROS 2 sqlite3), `RosbagAdapter.read` (one pass: deserialize, collect by type, clock choice,
streams) against rosbags alone (`AnyReader.messages` + `deserialize` of every message, nothing kept). Frames/s: a
written MCAP bag of 640x480 frames, raw rgb8 and JPEG `CompressedImage`, `BagCamera.frames()` (deserialize + decode
to RGB) against rosbags' iteration and deserialization of the same topic plus OpenCV's decode of each frame, and the
same for the real PR2 head camera bag (`rosbag_pr2`, ROS 1, bayer_bggr8 640x480, 19 frames; repeated
`--repeat` x 5 times, as a bag this short times poorly once). One process, one thread (per core). The last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from adapters.registry import get_adapter
from adapters.rosbag.camera import decode
from tests.realdata import realdata

REAL = "rosbag_interbotix"  # the real samples (tests/REAL_SAMPLES.md), read with `realdata`
PR2_CAMERA = "rosbag_pr2/camera"  # a real PR2 head camera: bayer_bggr8 640x480, 19 frames
BAGS = ("wx200_waist_diagnostics_12s.bag", "wx200_waist_diagnostics_12s_mcap", "wx200_waist_diagnostics_12s_db3")


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def rosbags_pass(path: Path, topic: str | None = None) -> int:
    n = 0
    with AnyReader([path]) as r:
        conns = [c for c in r.connections if topic is None or c.topic == topic]
        for c, _, raw in r.messages(conns):
            r.deserialize(raw, c.msgtype)
            n += 1
    return n


def write_camera_bag(path: Path, frames: int) -> None:
    ts = get_typestore(Stores.ROS2_HUMBLE)
    t = ts.types
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), (640, 480), interpolation=cv2.INTER_LINEAR)
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        raw_c = w.add_connection("/cam/image_raw", "sensor_msgs/msg/Image", typestore=ts)
        jpg_c = w.add_connection("/cam/image_raw/compressed", "sensor_msgs/msg/CompressedImage", typestore=ts)
        for i in range(frames):
            ns = 1_700_000_000_000_000_000 + i * 33_333_333
            hdr = t["std_msgs/msg/Header"](
                stamp=t["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9), frame_id="cam"
            )
            img = np.roll(base, i, axis=1)
            msg = t["sensor_msgs/msg/Image"](
                header=hdr, height=480, width=640, encoding="rgb8", is_bigendian=0, step=1920, data=img.ravel()
            )
            w.write(raw_c, ns, ts.serialize_cdr(msg, "sensor_msgs/msg/Image"))
            jpg = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])[1]
            cm = t["sensor_msgs/msg/CompressedImage"](header=hdr, format="rgb8; jpeg compressed bgr8", data=jpg)
            w.write(jpg_c, ns + 1, ts.serialize_cdr(cm, "sensor_msgs/msg/CompressedImage"))


def frame_rates(out: dict, topic: str, cam: object, reference: object, frames: int, repeat: int) -> None:
    """`BagCamera.frames()` (deserialize + decode to RGB) against rosbags' iteration of the topic + the same decode."""
    ours = best(lambda: sum(1 for _ in cam.frames()), repeat)  # type: ignore[attr-defined]
    ref_s = best(reference, repeat)  # type: ignore[arg-type]
    out["frames"][topic] = {
        "frames": frames,
        "adapter_fps": round(frames / ours, 1),
        "rosbags_plus_decode_fps": round(frames / ref_s, 1),
    }
    print(f"{topic} 640x480: adapter {frames / ours:,.1f} frames/s, rosbags + decode {frames / ref_s:,.1f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args()
    repeat, frames = (1, 20) if a.smoke else (a.repeat, a.frames)
    out: dict[str, object] = {"messages": {}, "frames": {}}
    adapter = get_adapter("rosbag")
    for bag in BAGS:
        ref = next(r for r in adapter.discover(realdata(REAL)) if r.raw_id == bag)
        n = rosbags_pass(realdata(REAL) / bag)
        ours, ref_s = (
            best(lambda ref=ref: adapter.read(ref), repeat),
            best(lambda b=bag: rosbags_pass(realdata(REAL) / b), repeat),
        )
        out["messages"][bag] = {"messages": n, "adapter_msg_s": round(n / ours), "rosbags_msg_s": round(n / ref_s)}
        print(f"{bag}: {n} messages, adapter {n / ours:,.0f} msg/s, rosbags {n / ref_s:,.0f} msg/s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(tmp) / "camera"
        write_camera_bag(bag, frames)
        ep = adapter.read(next(iter(adapter.discover(bag))))
        for topic, name in (
            ("/cam/image_raw", "cam_image_raw"),
            ("/cam/image_raw/compressed", "cam_image_raw_compressed"),
        ):
            cam = ep.cameras[name]

            def reference(topic: str = topic) -> None:
                with AnyReader([bag]) as r:
                    conns = [c for c in r.connections if c.topic == topic]
                    for c, _, raw in r.messages(conns):
                        decode(r.deserialize(raw, c.msgtype), c.msgtype)

            frame_rates(out, topic, cam, reference, frames, repeat)
        ep = adapter.read(next(iter(adapter.discover(realdata(PR2_CAMERA)))))
        topic, bag = "/wide_stereo/left/image_raw", next(realdata(PR2_CAMERA).glob("*.bag"))

        def reference_pr2() -> None:
            with AnyReader([bag]) as r:
                for c, _, raw in r.messages([c for c in r.connections if c.topic == topic]):
                    decode(r.deserialize(raw, c.msgtype), c.msgtype)

        frame_rates(out, f"pr2 {topic}", ep.cameras["wide_stereo_left_image_raw"], reference_pr2, 19, repeat * 5)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
