"""One OXE episode read: a parsed `tf.train.Example` turned into a `RawEpisode` by features.json and the subset table
(`adapters.oxe.adapter` has the native -> canonical table and the quirks handled)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from adapters.base import EpisodeRef, Language, RawEpisode, Relative, Stream, reraised
from adapters.cameras import EncodedImagesCamera, decode_image
from adapters.oxe.builder import MAX_GENERIC_STATE, RLDS_FLAGS, STEP_SIGNALS, STEPS, Builder, FeatureInfo
from adapters.oxe.decode import decode_tensor, text_runs, texts_of
from adapters.oxe.hands import fk_hand_signals, hand_signals, joint_space_options
from adapters.oxe.layout import LAYOUT_HAND_LOST, layout_diff
from adapters.oxe.options import OXEOptions
from adapters.oxe.subsets import CameraSpec, OXESubset, StreamSpec
from adapters.oxe.tfrecord import FeatureValue
from schemas.canonical import Camera
from schemas.corpus import SourceAnnotation
from schemas.tiers import QualityTier, TierVerdict, source_default


class OXEEpisodeMetadata(SourceAnnotation):
    """The builder's episode-level features as read (`episode_metadata/*`, top-level keys such as kuka's `success`):
    the episode's lineage keeps them (`EpisodeLineage.source_annotation`)."""

    kind: str = "oxe_episode_metadata"
    values: dict[str, Any]


@dataclass
class EpisodeReader:
    options: OXEOptions
    ref: EpisodeRef
    builder: Builder
    cfg: OXESubset
    ex: dict[str, FeatureValue]
    fail: Any

    def _raw(self, key: str) -> FeatureValue:
        if key not in self.ex:
            raise self.fail("declared in features.json but missing from the record", key)
        return self.ex[key]

    def _num_steps(self) -> int:
        first = self.ex.get("steps/is_first")
        if isinstance(first, np.ndarray) and first.size:
            return int(first.size)
        for info in self.builder.features.values():  # no is_first: any fixed-shape step tensor tells T
            raw = self.ex.get(info.key)
            if info.in_steps and info.kind == "tensor" and None not in info.shape and isinstance(raw, np.ndarray):
                return raw.size // max(1, int(np.prod(info.shape)))
        raise self.fail("no steps: the record has neither steps/is_first nor a step tensor", "steps/is_first")

    def _wanted(self, camera: str) -> bool:
        wanted = self.options.cameras
        return wanted is None or camera.rsplit("/", 1)[-1] in wanted or camera in wanted

    def _tensor(self, info: FeatureInfo, steps: int | None) -> np.ndarray:
        try:
            return decode_tensor(info, self._raw(info.key), steps)
        except (ValueError, zlib.error) as e:  # zlib.error: a truncated or corrupt stream
            raise self.fail(f"{info.dtype}{list(info.shape)} tensor {e}", info.key) from e

    def _rlds_flags(self, steps: int, meta: dict[str, Any]) -> None:
        flags: dict[str, Any] = {}
        for name in RLDS_FLAGS:
            key = STEPS + name
            if key not in self.ex:
                continue
            arr = np.asarray(self.ex[key]).astype(bool).ravel()
            if arr.size != steps:
                raise self.fail(f"{arr.size} values for {steps} steps", key)
            flags[name] = arr
        first = flags.get("is_first")
        if first is not None:
            where = np.flatnonzero(first).tolist()
            if where != [0]:
                several = " (several episodes in one record)" if len(where) > 1 else ""
                msg = f"is_first must mark step 0 only, found it at steps {where} of {steps}{several}"
                raise self.fail(msg, "steps/is_first")
        last = flags.get("is_last")
        rlds: dict[str, Any] = {"num_steps": steps, "is_last_missing": True, "is_terminal": False}
        if last is not None and last.any():
            where = np.flatnonzero(last).tolist()
            if where != [steps - 1]:
                msg = f"is_last must mark the final step {steps - 1} only, found it at steps {where}"
                raise self.fail(msg, "steps/is_last")
            rlds["is_last_missing"] = False
        term = flags.get("is_terminal")
        if term is not None:
            rlds["is_terminal"] = bool(term[-1])
        meta["rlds"] = rlds

    def _add_stream(
        self,
        target: dict[str, Stream],
        spec: StreamSpec | None,
        info: FeatureInfo,
        values: np.ndarray,
        t: np.ndarray,
        meta: dict[str, Any],
        action: bool = False,
    ) -> None:
        key = info.rel

        def relative(name: str, width: int) -> Relative | None:  # the subset's action encoding: deltas, and why
            why = self.cfg.relative_why(name) if action else None
            return Relative(tuple(range(width)), why) if why is not None else None

        width = int(np.prod(values.shape[1:])) if values.ndim > 1 else 1
        if spec is None:
            target[key] = Stream(t, values, relative=relative(key, width))
            return
        if spec.parts and values.shape[1:] == spec.shape:
            values = values.reshape(len(values), spec.size)  # a matrix's parts slice it flattened (StreamSpec)
            layout = []
            for p in spec.parts:
                name = f"{key}:{p.name}"
                rel = relative(name, p.stop - p.start)
                target[name] = Stream(t, values[:, p.start : p.stop], p.names, p.unit, p.frame, rel)
                layout.append({"stream": name, "start": p.start, "stop": p.stop, "doc": p.doc})
            meta["layouts"][key] = layout
        else:
            target[key] = Stream(t, values, spec.names, spec.unit, spec.frame, relative(key, width))
        if spec.doc:
            meta["stream_docs"][key] = spec.doc

    def build(self) -> RawEpisode:
        cfg = self.cfg
        steps = self._num_steps()
        if steps == 0:
            raise self.fail("episode has no steps", "steps/is_first")
        t = np.arange(steps, dtype=np.float64) / cfg.control_hz
        meta: dict[str, Any] = {
            "dataset": self.builder.name,
            "version": self.builder.version,
            "subset_config": cfg.name,
            "control_hz_source": cfg.hz_source,
            "action_semantics": cfg.action_semantics,
            "action_encoding": cfg.action_encoding.model_dump() if cfg.action_encoding is not None else None,
            "layouts": {},
            "stream_docs": {},
            "skipped": {},
            "absent_cameras": {},
            "episode_metadata": {},
            "notes": list(cfg.notes),
            "tier_reason": cfg.tier_reason,
            "natives_reason": cfg.natives_reason or None,
        }
        self._rlds_flags(steps, meta)
        states: dict[str, Stream] = {}
        actions: dict[str, Stream] = {}
        signals: dict[str, Stream] = {}
        outcomes: dict[str, Stream] = {}
        cameras: dict[str, Any] = {}
        language: list[Language] = []
        skipped = {s.key: s.doc or "configured as not read" for s in cfg.skipped}
        text_kinds = {s.key: s.kind for s in cfg.language}
        features = sorted(self.builder.features.values(), key=lambda f: f.key)
        roles = cfg.camera_roles([f.rel for f in features if f.in_steps and f.kind == "image"])
        for info in features:
            key = info.rel
            if not info.in_steps:
                if info.kind in ("tensor", "text"):
                    meta["episode_metadata"][info.key] = self._episode_value(info)
                continue
            if key in RLDS_FLAGS:
                continue
            if info.kind == "image":
                if key in skipped or info.dtype != "uint8":
                    meta["skipped"][key] = skipped.get(key, f"{info.dtype} image (not RGB)")
                    continue
                if not self._wanted(key):
                    continue
                cam = self._camera(info, t, meta, roles[key])
                if cam is not None:
                    cameras[key.rsplit("/", 1)[-1]] = cam
                continue
            if info.kind == "text":
                for text, i0, i1 in text_runs(texts_of(self._raw(info.key))):
                    span = (None, None) if i0 == 0 and i1 == steps - 1 else (float(t[i0]), float(t[i1]))
                    language.append(Language(text, text_kinds.get(key, "instruction"), *span))
                continue
            if info.kind != "tensor":
                meta["skipped"][key] = f"unsupported feature type {info.kind}"
                continue
            spec = cfg.stream(key)
            large = None not in info.shape and int(np.prod(info.shape)) > MAX_GENERIC_STATE
            if spec is None and (key in skipped or large):
                meta["skipped"][key] = skipped.get(key, f"large per-step tensor {list(info.shape)} (not a state)")
                continue
            values = self._tensor(info, steps)
            if key in STEP_SIGNALS:  # the RLDS step's reward and discount: outcomes, beside the state
                outcomes[key] = Stream(t, values)
            elif key == "action" or key.startswith(("action/", "action_dict/")):
                self._add_stream(actions, spec, info, values, t, meta, action=True)
            else:
                self._add_stream(states, spec, info, values, t, meta)
        configured = [s.key for s in (*cfg.states, *cfg.actions)] + [c.key for c in cfg.cameras]
        configured += [s.key for s in cfg.language]
        meta["missing_keys"] = [k for k in configured if STEPS + k not in self.builder.features]
        diff = layout_diff(cfg, self.builder)  # the source finding `layout_differs` names it per builder
        if diff:
            meta["layout_diff"] = diff.as_metadata()
        hands = (
            fk_hand_signals(cfg, states)
            if cfg.fk_wrist
            else hand_signals(states, cfg.eef_reference_rotation, cfg.natives_reason)
        )
        verdicts = source_default(cfg.tier, f"subset default {cfg.tier}: {cfg.tier_reason}") + diff.verdicts(cfg.name)
        if cfg.has_wrist and not diff.hand_loss and not hands.hands[1].has_wrist:  # e.g. a pose of no rigid transform
            why = f"the wrist of subset {cfg.name}'s row was not read: {'; '.join(hands.notes) or 'no pose'}"
            verdicts += (TierVerdict(tier=QualityTier.low, reason=why, code=LAYOUT_HAND_LOST),)
        annotation = OXEEpisodeMetadata(values=meta["episode_metadata"]) if meta["episode_metadata"] else None
        return RawEpisode(
            ref=self.ref,
            robot_type=cfg.robot_type,
            embodiment=cfg.embodiment,
            tier=QualityTier.high,  # lowered by its verdict where the subset's default is below high
            native_fps=float(cfg.control_hz),
            states=states,
            actions=actions,
            cameras=cameras,
            language=language,
            success=self._success(meta["episode_metadata"]),
            # its subset's default (the table's, or option `tier`) a verdict, so a curator overrules it by its code;
            # tier low where the shard lacks or reshapes the row's hand fields (`adapters.oxe.layout`)
            verdicts=verdicts,
            signals=signals,
            outcomes=outcomes,
            metadata=meta,
            hands=hands,
            joint_space=joint_space_options(cfg, states),
            annotation=annotation,
        )

    def _episode_value(self, info: FeatureInfo) -> Any:
        raw = self.ex.get(info.key)
        if raw is None:
            return None
        if info.kind == "text" or (isinstance(raw, list) and info.encoding == "none"):
            texts = texts_of(raw)
            return texts[0] if len(texts) == 1 else texts
        values = self._tensor(info, None)
        return values.item() if values.size == 1 else values.tolist()

    def _success(self, episode_meta: dict[str, Any]) -> bool | None:
        cfg = self.cfg
        if cfg.success_key is not None and cfg.success_key in episode_meta:
            return bool(episode_meta[cfg.success_key])
        if cfg.success_from_file_path:
            fp = str(episode_meta.get("episode_metadata/file_path") or "")
            if "/success/" in fp:
                return True
            if "/failure/" in fp:
                return False
        return None

    def _stores_bgr(self, info: FeatureInfo, spec: CameraSpec | None, meta: dict[str, Any]) -> bool:
        """BGR-stored pixels: by the `bgr_cameras` option, else the table's rule on the declared image shape."""
        key = info.rel
        if self.options.bgr_cameras is not None:
            bgr = key in self.options.bgr_cameras or key.rsplit("/", 1)[-1] in self.options.bgr_cameras
            why = "option bgr_cameras"
        else:
            bgr = spec is not None and spec.stores_bgr(info.shape)
            why = f"features.json declares {list(info.shape)}"
        if bgr or (spec is not None and spec.bgr_at_shape is not None):
            meta["notes"].append(f"{key}: {'BGR, channels flipped' if bgr else 'RGB, not flipped'} ({why})")
        return bgr

    def _camera(
        self, info: FeatureInfo, t: np.ndarray, meta: dict[str, Any], canonical: Camera | None
    ) -> EncodedImagesCamera | None:
        key = info.rel
        raw = self._raw(info.key)
        if not isinstance(raw, list):
            raise self.fail("image feature stored as numbers, expected encoded bytes", info.key)
        if len(raw) != len(t):
            raise self.fail(f"{len(raw)} images for {len(t)} steps", info.key)
        empty = [i for i, b in enumerate(raw) if not b]
        if len(empty) == len(raw):
            meta["absent_cameras"][key] = "every image is empty"
            return None
        if empty:
            raise self.fail(f"empty image bytes at steps {empty[:10]} of {len(raw)} (partly missing camera)", info.key)
        spec = self.cfg.camera(key)
        bgr = self._stores_bgr(info, spec, meta)
        if self.options.detect_blank_cameras:
            probes = sorted({0, len(raw) // 2, len(raw) - 1})
            frames = []
            for i in probes:
                try:
                    frames.append(decode_image(raw[i]))
                except ValueError as e:
                    raise self.fail(f"undecodable image at step {i}: {e}", info.key) from e
            if all(int(f.max()) == int(f.min()) for f in frames):
                meta["absent_cameras"][key] = (
                    f"constant images (value {int(frames[0].flat[0])} at steps {probes}): a padded dummy view"
                )
                return None
        with reraised(ValueError, lambda e: self.fail(f"undecodable image at step 0: {e}", info.key)):
            cam = EncodedImagesCamera(raw, key.rsplit("/", 1)[-1], canonical, t, bgr=bgr)
        if spec is not None and spec.doc:
            meta["stream_docs"][key] = spec.doc
        return cam
