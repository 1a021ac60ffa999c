"""Per-worker camera intrinsics of Egocentric-10K / Egocentric-100K (Build AI): `intrinsics.json` in each worker's
folder, beside its shards (`factory_XXX/workers/worker_YYY/intrinsics.json`).

The format, from the maker's dataset card (huggingface.co/datasets/builddotai/Egocentric-100K, section "Camera
Intrinsics"; the Egocentric-10K card ships the same file per worker) and its example file: one JSON object
`{"model": "fisheye", "image_width": 456, "image_height": 256, "fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4"}`,
"the OpenCV fisheye model (Kannala-Brandt equidistant projection) with 4 distortion coefficients", values in pixels of
the 456x256 video. Read as `schemas.camera_model.KannalaBrandtCamera`, coefficients as given; never as a pinhole.
A `"model": "pinhole"` file (no coefficients) is read as a pinhole; any other model name is an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from schemas.camera_model import CameraModel, KannalaBrandtCamera, PinholeCamera
from schemas.findings import SourceFinding

INTRINSICS_FILE = "intrinsics.json"
NO_LENS = "no_intrinsics"  # the finding code of a shard whose folder has no intrinsics file
# the maker's model names -> ours
MODELS: dict[str, type[PinholeCamera] | type[KannalaBrandtCamera]] = {
    "fisheye": KannalaBrandtCamera,
    "kannala_brandt": KannalaBrandtCamera,
    "pinhole": PinholeCamera,
}
# the maker's field -> ours (the rest keep their names)
RENAMED = {"image_width": "width", "image_height": "height"}


class BadIntrinsics(ValueError):
    """A malformed intrinsics file: `field` names the maker's field at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def parse_intrinsics(raw: Any) -> CameraModel:
    """The lens model of a Build AI `intrinsics.json` (parsed JSON); BadIntrinsics naming the field otherwise."""
    if not isinstance(raw, dict):
        raise BadIntrinsics(f"expected a JSON object, got {type(raw).__name__}", "intrinsics.json")
    name = raw.get("model")
    if name not in MODELS:
        raise BadIntrinsics(f"unknown camera model {name!r} (known: {', '.join(MODELS)})", "model")
    cls = MODELS[name]
    ours = {RENAMED.get(k, k): v for k, v in raw.items() if k != "model"}
    unknown = sorted(set(ours) - set(cls.model_fields))
    if unknown:
        back = {v: k for k, v in RENAMED.items()}
        raise BadIntrinsics(f"field not in the {name} model: {unknown[0]!r}", back.get(unknown[0], unknown[0]))
    try:
        return cls.model_validate(ours)
    except ValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "intrinsics.json"
        field = {v: k for k, v in RENAMED.items()}.get(field, field)
        raise BadIntrinsics(f"{err['msg']} (got {err.get('input')!r})", field) from e


_LENS: TypeAdapter[CameraModel] = TypeAdapter(CameraModel)


def lens_for(dumped: dict | None, hw: tuple[int, int]) -> CameraModel | None:
    """The lens model a ref carries, in pixels of the (height, width) video read (the file's are for its own size)."""
    if dumped is None:
        return None
    lens = _LENS.validate_python(dumped)
    if abs(lens.width * hw[0] - lens.height * hw[1]) > 0.01 * lens.width * hw[0]:  # not one picture resized
        raise ValueError(f"intrinsics for {lens.width}x{lens.height} px do not fit a {hw[1]}x{hw[0]} px video")
    return lens if (lens.height, lens.width) == hw else lens.resized(hw)  # type: ignore[return-value]


def no_lens_message(file_name: str) -> str:
    return f"no {file_name} beside the shard: its videos carry no lens model"


def no_lens_finding(adapter: str, root: str, shard: object, raw_id: str, file_name: str) -> SourceFinding:
    """One episode's part of discovery's `no_intrinsics` finding, for its lineage (read may run in another process)."""
    msg = no_lens_message(file_name)
    fields = {"source": adapter, "adapter": adapter, "root": root, "code": NO_LENS, "severity": "warning"}
    return SourceFinding(**fields, message=msg, path=str(shard), episodes=(raw_id,))
