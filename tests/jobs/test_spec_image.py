"""`canonicalize.image` in a job spec: the stored camera size per source / camera, validated with field and line like
every other key; the demo spec stores the training size."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from jobs.spec import SpecError, load_spec
from schemas.image_size import Fit

REPO = Path(__file__).resolve().parents[2]


def _spec(tmp_path: Path, image: str) -> Path:
    (tmp_path / "raw" / "egodex").mkdir(parents=True, exist_ok=True)
    text = "output: corpus\nsources:\n  - name: egodex\n    adapter: egodex\n    root: raw/egodex\ncanonicalize:\n"
    path = tmp_path / "spec.yaml"
    path.write_text(text + textwrap.indent(textwrap.dedent(image), "  "))
    return path


def test_sizes_per_source_and_camera_resolve(tmp_path: Path) -> None:
    spec = load_spec(
        _spec(
            tmp_path,
            """\
        image:
          size: 224x224
          fit: pad
          sources:
            egodex: {size: 256x256, fit: crop, cameras: {wrist_left: {size: native}}}
        """,
        )
    )
    img = spec.canonicalize.image
    assert img.resolve("egodex", "head").hw == (256, 256) and img.resolve("egodex", "head").fit is Fit.crop
    assert img.resolve("egodex", "wrist_left").hw is None
    assert img.resolve("other", "head").hw == (224, 224)


@pytest.mark.parametrize(
    ("image", "loc", "line", "message"),
    [
        ("image:\n  size: 224 x 224\n", "canonicalize.image.size", 8, "WIDTHxHEIGHT"),
        ("image:\n  size: 225x224\n", "canonicalize.image.size", 8, "even"),
        ("image:\n  fit: letterbox\n", "canonicalize.image.fit", 8, "pad"),
        ("image:\n  sources:\n    ego4d: {size: 224x224}\n", "canonicalize.image.sources.ego4d", 9, "no source"),
        ("image:\n  cameras:\n    belly: {size: 224x224}\n", "canonicalize.image.cameras.belly", 9, "head"),
    ],
)
def test_bad_image_options_name_field_and_line(tmp_path: Path, image: str, loc: str, line: int, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(_spec(tmp_path, image))
    (issue,) = info.value.errors
    assert issue.loc.startswith(loc) and issue.line == line and message in issue.message, issue


def test_the_demo_stores_the_training_size(tmp_path: Path) -> None:
    text = (REPO / "jobs" / "specs" / "demo.yaml").read_text()
    for source in yaml.safe_load(text)["sources"]:  # the roots `make demo` writes
        (tmp_path / source["root"]).mkdir(parents=True)
        if source["adapter"] == "lerobot":  # a LeRobot root must look like one (its layout is checked)
            (tmp_path / source["root"] / "meta").mkdir()
            (tmp_path / source["root"] / "meta" / "info.json").write_text("{}")
    (tmp_path / "demo.yaml").write_text(text)
    image = load_spec(tmp_path / "demo.yaml").canonicalize.image
    assert image.hw == (224, 224) and image.fit is Fit.pad and image.pad_color == (123, 116, 103)
