"""Every encoder writes the same bytes for the same frames (`adapters.encoder_stream`): the canonical writer at each
codec and the synthetic sources' writer, each in a process of its own whose heap is filled with a different byte
(`MALLOC_PERTURB_`), as two runs of one job on one machine differ. libx264 read memory it never wrote (its AVX-512
macroblock-tree code): on the old code every fill gave its own h264 files, so the demo's raw corpus, and with it the
canonical videos, differed between two runs. On a CPU without AVX-512 the old code passed here too. And no shipped
module nor fixture opens an encoder stream but through the door."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

ENCODE = """
import hashlib, json, sys, tempfile
from pathlib import Path
from adapters.synthetic.video import synthetic_frame, write_synthetic_mp4
from ingest.lerobot.video import VideoCodec, VideoEncoder

out, work = {}, Path(tempfile.mkdtemp(dir=sys.argv[1]))
for h, w in ((48, 64), (224, 224)):
    codecs = (("svt", VideoCodec()), ("h264", VideoCodec.h264()), ("h264 1 thread", VideoCodec.h264(threads=1)))
    for name, codec in codecs:
        enc = VideoEncoder(work / f"{name}.mp4", w, h, 30, codec)
        for t in range(40):
            enc.encode(synthetic_frame(h, w, t, 0.7))
        enc.close()
        out[f"{name} {h}x{w}"] = hashlib.sha256((work / f"{name}.mp4").read_bytes()).hexdigest()
    raw = work / "raw.mp4"  # the synthetic sources' writer: libx264, its default GOP with B-frames
    write_synthetic_mp4(raw, 60, 30, h, w, 1.5, crf=16, preset="veryfast", threads=1)
    out[f"synthetic {h}x{w}"] = hashlib.sha256(raw.read_bytes()).hexdigest()
print(json.dumps(out))
"""


def encoded(fill: str, work: Path) -> dict[str, str]:
    env = {**os.environ, "MALLOC_PERTURB_": fill, "PYTHONPATH": str(REPO), "SVT_LOG": "1"}
    command = [sys.executable, "-c", ENCODE, str(work)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_same_frames_give_the_same_bytes_whatever_the_heap_held(tmp_path: Path) -> None:
    runs = {fill: encoded(fill, tmp_path) for fill in ("", "1", "165")}
    first = runs[""]
    assert len(first) == 8
    differ = {name for got in runs.values() for name, digest in got.items() if digest != first[name]}
    assert differ == set(), f"encoded differently under another heap fill: {sorted(differ)}"


SHIPPED = ("schemas", "adapters", "ingest", "training", "jobs", "tests/fixtures")
DOOR = "adapters/encoder_stream.py"


def test_every_encoder_stream_opens_through_the_door() -> None:
    """`.add_stream(` (PyAV's, a codec by name) only in the door; a VRS writer's own `add_stream` is not an encoder."""
    bypass = []
    for top in SHIPPED:
        for path in sorted((REPO / top).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel == DOOR:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add_stream"
                    and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "vrs")
                ):
                    bypass.append(f"{rel}:{node.lineno}")
    assert bypass == []
