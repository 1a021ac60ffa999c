"""The `features.json` of a synthetic TFDS/RLDS builder (`adapters.synthetic.rlds`): the per-step features of one OXE
subset with their (possibly shrunk) shapes (`layout`), written as TFDS's nested FeaturesDict / Dataset / Tensor /
Scalar / Image / Text classes, shaped like the Octo Bridge sample's real file (`features_json`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.oxe.subsets import CameraSpec, OXESubset, StreamSpec

_CLASS = "tensorflow_datasets.core.features."


def _described(node: dict[str, Any], desc: str) -> dict[str, Any]:
    return node | {"description": desc} if desc else node


def _tensor_json(shape: Sequence[int], dtype: str, encoding: str = "none", desc: str = "") -> dict[str, Any]:
    cls = "scalar.Scalar" if not shape else "tensor_feature.Tensor"
    tensor = {"shape": {"dimensions": [str(d) for d in shape]} if shape else {}, "dtype": dtype, "encoding": encoding}
    return _described({"pythonClassName": _CLASS + cls, "tensor": tensor}, desc)


def _image_json(shape: Sequence[int], fmt: str, dtype: str = "uint8", desc: str = "") -> dict[str, Any]:
    image = {"shape": {"dimensions": [str(d) for d in shape]}, "dtype": dtype, "encodingFormat": fmt}
    return _described({"pythonClassName": _CLASS + "image_feature.Image", "image": image}, desc)


def _text_json(old_style: bool, desc: str = "") -> dict[str, Any]:
    node = _tensor_json((), "string") if old_style else {"pythonClassName": _CLASS + "text_feature.Text", "text": {}}
    return _described(node, desc)


def _features_dict(features: dict[str, Any]) -> dict[str, Any]:
    return {"pythonClassName": _CLASS + "features_dict.FeaturesDict", "featuresDict": {"features": features}}


def _nest(flat: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{'observation/state': node, 'action': node} -> nested FeaturesDicts, split at the first '/' only (kuka's
    'clip_function_input/base_pose_tool_reached' is one feature name inside 'observation')."""
    out: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, node in flat.items():
        if "/" in key:
            group, rest = key.split("/", 1)
            groups.setdefault(group, {})[rest] = node
        else:
            out[key] = node
    for group, members in groups.items():
        out[group] = _features_dict(members)
    return out


@dataclass
class Layout:
    """The per-step features of one builder, with their (possibly shrunk) shapes."""

    cameras: list[tuple[CameraSpec, tuple[int, int, int]]]
    tensors: list[tuple[StreamSpec, tuple[int, ...]]]  # states, actions and skipped tensors
    images_skipped: list[tuple[StreamSpec, tuple[int, ...]]]  # non-RGB image features (float depth)


def steps_layout(cfg: OXESubset, image_size: tuple[int, int]) -> Layout:
    h, w = image_size
    cameras = [(c, (h, w, c.shape[2])) for c in cfg.cameras]
    tensors: list[tuple[StreamSpec, tuple[int, ...]]] = [(s, s.shape) for s in (*cfg.states, *cfg.actions)]
    images_skipped = []
    for s in cfg.skipped:
        if s.feature == "image":
            images_skipped.append((s, (h, w, s.shape[-1])))
        elif len(s.shape) == 2:  # depth tensors: shrink like the images
            tensors.append((s, (h // 2, w // 2)))
        else:
            tensors.append((s, s.shape))
    return Layout(cameras, tensors, images_skipped)


def features_json(cfg: OXESubset, layout: Layout) -> dict[str, Any]:
    old_style = not cfg.has_discount  # the RT-X conversions (fractal, kuka, taco, ur5): string Tensors, no discount
    steps: dict[str, Any] = {}
    for cam, shape in layout.cameras:
        steps[cam.key] = _image_json(shape, cam.encoding_format, desc=cam.doc)
    for spec, shape in layout.images_skipped:
        steps[spec.key] = _image_json(shape, "png", dtype="float32", desc=spec.doc)
    for spec, shape in layout.tensors:
        steps[spec.key] = _tensor_json(shape, spec.dtype, spec.encoding, spec.doc)
    for text in cfg.language:
        steps[text.key] = _text_json(old_style and text.key.startswith("observation/"), text.doc)
    for flag, doc in (
        ("is_first", "True on first step of the episode."),
        ("is_last", "True on last step of the episode."),
        ("is_terminal", "True on last step of the episode if it is a terminal step."),
    ):
        steps[flag] = _tensor_json((), "bool", desc=doc)
    steps["reward"] = _tensor_json((), "float32", desc="Reward if provided, 1 on final step for demos.")
    if cfg.has_discount:
        steps["discount"] = _tensor_json((), "float32", desc="Discount if provided, default to 1.")
    top: dict[str, Any] = {
        "steps": {
            "pythonClassName": _CLASS + "dataset_feature.Dataset",
            "sequence": {"feature": _features_dict(_nest(steps)), "length": "-1"},
        }
    }
    episode_meta = {}
    for m in cfg.episode_metadata:
        node = _text_json(False, m.doc) if m.dtype == "string" else _tensor_json((), m.dtype, desc=m.doc)
        if m.key.startswith("episode_metadata/"):
            episode_meta[m.key.split("/", 1)[1]] = node
        else:
            top[m.key] = node
    if cfg.success_key is not None:
        top[cfg.success_key] = _tensor_json((), "bool")
    if episode_meta:
        top["episode_metadata"] = _features_dict(episode_meta)
    return _features_dict(top)
