"""Open X-Embodiment / RLDS: TFDS builder directories read without TensorFlow (`oxe`).

Layout: `<dataset>/<version>/{dataset_info.json, features.json, <dataset>-<split>.tfrecord-XXXXX-of-YYYYY}`
(shard names from `splits[].filepathTemplate`, episodes per shard from `splits[].shardLengths`). One TFRecord record
is one episode, a flat `tf.train.Example` whose `steps/...` features hold every step (T x shape, flattened).

| native (under `steps/` unless noted) | canonical | unit, frame | rate |
| --- | --- | --- | --- |
| `observation/<camera>`: JPEG/PNG per step | `cameras[<camera>]`, lazy `EncodedImagesCamera` (1) | RGB | ctrl Hz |
| state tensors, e.g. `observation/state` | `states[<key>]` or `states["<key>:<part>"]` per slice (2) | (2) | ctrl Hz |
| `action`, `action/*`, `action_dict/*` | `actions[<key>]` or `actions["<key>:<part>"]` (2) | (2) | ctrl Hz |
| `language_instruction*`, `observation/*language_instruction` | `Language` per run of equal text (3) | | per step |
| `is_first`, `is_last`, `is_terminal` | checked; `metadata["rlds"]` | | |
| `reward`, `discount` | `signals` (`Stream`s) | | ctrl Hz |
| `*language_embedding`, depth tensors | not read: `metadata["skipped"]` | | |
| `episode_metadata/*`, top-level keys | `metadata["episode_metadata"]`; `success` (4) | | episode |

(1) Canonical camera per subset: bridge `image_0` third_person, `image_3` wrist_right (`image_1`, `image_2` native
only); fractal `image` head; kuka `image` third_person; taco_play `rgb_static` third_person, `rgb_gripper`
wrist_right; droid `exterior_image_1_left` third_person, `wrist_image_left` wrist_right; berkeley_autolab_ur5 `image`
third_person, `hand_image` wrist_right (BGR in the raw 480x640 copy: flipped; RGB in re-encoded copies).
(2) Slices with their own unit and frame, from `adapters.oxe.subsets`: bridge `observation/state` = `eef_xyz` (m,
robot_base) + `eef_rpy` (rad, relative to a top-down default rotation) + `gripper` (0..1, 1 open), `action` =
`delta_xyz` (m) + `delta_rpy` (rad) + `gripper` (0..1); fractal/kuka `base_pose_tool_reached` = `eef_xyz` +
`eef_quat`, actions `action/world_vector` (m), `action/rotation_delta` (rad), `action/gripper_closedness_action`
(-1..1 relative); taco_play `robot_obs` = tcp xyz/euler, gripper width (m), 7 joints, gripper action (+1 open),
actions `action/rel_actions_world` (normalized: / 0.02 m, / 0.05 rad; + absolute and gripper-frame variants); droid
`observation/cartesian_position` (xyz + Euler), `joint_position`, `gripper_position` and `action_dict/*` (velocities
normalized); berkeley_autolab_ur5 `robot_state` = 6 joints + eef xyz + quaternion + gripper.
(3) Whole episode when constant; `structured_language_instruction` (taco_play) has kind "description".
(4) kuka's top-level `success`; droid's `/success/` or `/failure/` in `episode_metadata/file_path`.

Timestamps are `step / control_hz` (bridge 5, fractal20220817_data 3, kuka 10, taco_play 15, droid 15,
berkeley_autolab_ur5 5 Hz; `adapters.oxe.subsets`), float64 seconds from the episode start. Tensors are reshaped from
`features.json` and cast back to their declared dtype (TFDS stores float64 as float32 and bool as int64);
`encoding: zlib|bytes` tensors (kuka) are decompressed. Embodiment, robot type and default tier come from the subset
table; `features.json` decides what exists (configured keys it lacks are listed in `metadata["missing_keys"]`,
unconfigured keys are still read with unit "").

Raw ids are `<split>/<shard:05d>/<record:06d>` (stable, sorted like the files); `episode_metadata/file_path` and
`episode_id`, when present, are in the ref's `locator`. Discovery reads every record once (CRC check, protobuf parse,
no image decoding) to hash its content.

Quirks handled:
- `is_last`/`is_terminal` never set (Octo's Bridge copy): the record end is the episode end; recorded as
  `metadata["rlds"]["is_last_missing"]`. `is_first` must mark step 0 only; `is_last`, when set, only the last step.
- The same episode in several splits (Octo's Bridge: train == val): duplicates are found by a content hash (actions,
  states, step signals and language text, not the image bytes). The first copy in sorted order is kept; with
  `duplicates="report"` (default) each later copy comes back as a ref with `error` set ("duplicate of ...") and
  `locator["duplicate_of"]`, so it is quarantined with a reason instead of counted twice; `"skip"` leaves it out
  (listed in `adapter.duplicates`); `"keep"` turns detection off.
- `has_image_*` flags are wrong (all 0 in the real sample): a camera is present when its bytes are; a camera whose
  images are all empty, or constant (first, middle and last frames one flat colour: a padded dummy view such as
  Bridge's `image_3`), is left out and listed in `metadata["absent_cameras"]`.
- BGR-stored cameras (berkeley_autolab_ur5 `hand_image` when features.json declares the raw 480x640, or the cameras
  named by option `bgr_cameras`) are flipped; the decision is in `metadata["notes"]`. features.json descriptions
  that are template text (Bridge's state/action) are ignored in favour of the table.
- A state orientation stored relative to a reference rotation (Bridge) is declared to canonicalization as the
  end-effector frame, `R_state · D` (`adapters.oxe.hands`); the native stream keeps the stored angles.

Bad input (per episode, other episodes go on): a truncated shard (the cut record and every record after it in that
shard, counted from `shardLengths`), a payload CRC mismatch (that record only), a corrupt length CRC (framing lost for
the rest of the shard), a missing shard file, a record that is not an `Example`, a tensor whose size is not
T x shape, an undecodable or partly empty image stream, misplaced `is_first`/`is_last`. Each is an `AdapterError`
naming adapter, shard file, episode (raw id) and field (`tfrecord:<kind>` or the native key).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from google.protobuf.message import DecodeError
from pydantic import Field

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, Language, RawEpisode, SourceAdapter, Stream
from adapters.cameras import EncodedImagesCamera, decode_image
from adapters.oxe.builder import (
    ADAPTER,
    MAX_GENERIC_STATE,
    RLDS_FLAGS,
    STEP_SIGNALS,
    STEPS,
    Builder,
    FeatureInfo,
    find_builders,
    load_builder,
    version_key,
)
from adapters.oxe.decode import content_hash, decode_tensor, text_runs, texts_of
from adapters.oxe.hands import hand_signals
from adapters.oxe.subsets import CameraSpec, OXESubset, StreamSpec, find_subset
from adapters.oxe.tfrecord import FeatureValue, TFRecordError, parse_example, read_record, scan_records
from adapters.registry import register
from schemas.embodiment import default_registry
from schemas.tiers import QualityTier

# --- the adapter ------------------------------------------------------------------------------------------------


class OXEOptions(AdapterOptions):
    splits: list[str] | None = Field(None, description="TFDS splits to read (default: all in dataset_info.json)")
    version: str | None = Field(None, description="builder version directory to read (default: the highest)")
    verify_crc: bool = Field(True, description="check the masked CRC32C of every record length and payload")
    duplicates: Literal["report", "skip", "keep"] = Field(
        "report",
        description="episodes whose content equals an earlier one (e.g. the same episode in train and val): "
        "'report' yields them with error set, 'skip' leaves them out (adapter.duplicates), 'keep' disables detection",
    )
    detect_blank_cameras: bool = Field(True, description="leave out cameras whose images are empty or one flat colour")
    control_hz: float | None = Field(
        None, gt=0, description="override the control frequency (required for a dataset not in the subset table)"
    )
    embodiment: str | None = Field(None, description="override the embodiment (required for an unknown dataset)")
    tier: QualityTier | None = Field(None, description="override the subset's default tier")
    bgr_cameras: list[str] | None = Field(
        None,
        description="camera names (or keys under steps/) whose pixels are stored BGR, replacing the subset table's "
        "rule (berkeley_autolab_ur5 hand_image: BGR only when features.json declares 480x640); [] flips none",
    )


@dataclass
class _DiscoveryState:
    """What one discovery walk over a builder remembers."""

    seen: dict[str, str] = field(default_factory=dict)  # content hash -> raw id of the kept copy


@register
class OXEAdapter(SourceAdapter):
    name: ClassVar[str] = ADAPTER
    options_model: ClassVar[type[AdapterOptions]] = OXEOptions
    options: OXEOptions

    def __init__(self, options: AdapterOptions | dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.duplicates: list[dict[str, str]] = []  # with duplicates="skip": {"raw_id", "duplicate_of", "subset"}

    # -- configuration --

    def subset_config(self, builder: Builder) -> OXESubset:
        cfg = find_subset(builder.name)
        o = self.options
        if cfg is None:
            if o.control_hz is None or o.embodiment is None:
                raise self.error(
                    f"dataset {builder.name!r} is not in the OXE subset table (adapters/oxe/subsets.py); pass "
                    "control_hz and embodiment options to read it generically",
                    file=builder.path / "dataset_info.json",
                )
            cfg = OXESubset(
                name=builder.name,
                control_hz=o.control_hz,
                hz_source="option control_hz",
                embodiment=o.embodiment,
                robot_type=builder.name,
                tier=o.tier or QualityTier.low,
                tier_reason="dataset not in the OXE subset table: no expert-data guarantee",
                cameras=(),
                states=(),
                actions=(),
                action_semantics="unknown (dataset not in the subset table)",
                language=(),
            )
        updates: dict[str, Any] = {}
        if o.control_hz is not None:
            updates.update(control_hz=o.control_hz, hz_source="option control_hz")
        if o.embodiment is not None:
            updates["embodiment"] = o.embodiment
        if o.tier is not None:
            updates.update(tier=o.tier, tier_reason="option tier")
        cfg = cfg.model_copy(update=updates) if updates else cfg
        if cfg.embodiment not in default_registry():
            raise self.error(f"unknown embodiment {cfg.embodiment!r}", file=builder.path / "dataset_info.json")
        return cfg

    def _builders(self, root: Path) -> list[Builder]:
        paths = find_builders(root)
        if not paths:
            raise self.error("no TFDS builder directory (dataset_info.json) found", file=root)
        by_name: dict[str, list[Builder]] = {}
        for p in paths:
            b = load_builder(p)
            by_name.setdefault(b.name, []).append(b)
        chosen = []
        for name in sorted(by_name):
            want, cfg = self.options.subset, find_subset(name)
            if want is not None and want != name and (cfg is None or not cfg.matches(want)):
                continue
            versions = by_name[name]
            if self.options.version is not None:
                versions = [b for b in versions if self.options.version in (b.version, b.path.name)]
            if versions:
                chosen.append(max(versions, key=lambda b: version_key(b.version)))
        if not chosen:
            raise self.error(
                f"no builder matches subset={self.options.subset!r} version={self.options.version!r}", file=root
            )
        return chosen

    # -- discovery --

    def discover(self, root: Path) -> Iterator[EpisodeRef]:
        root = Path(root)
        count = 0
        self.duplicates = []
        for builder in self._builders(root):
            self.subset_config(builder)  # fail early on an unusable configuration
            state = _DiscoveryState()
            for split in builder.splits:
                if self.options.splits is not None and split.name not in self.options.splits:
                    continue
                for shard_idx, shard in enumerate(split.shards):
                    expected = split.shard_lengths[shard_idx] if split.shard_lengths else None
                    for ref in self._discover_shard(builder, split.name, shard_idx, shard, expected, state):
                        yield ref
                        count += 1
                        if self.options.max_episodes is not None and count >= self.options.max_episodes:
                            return

    def _ref(
        self,
        builder: Builder,
        split: str,
        shard_idx: int,
        shard: Path,
        index: int,
        *,
        error: tuple[str, str] | None = None,
        **locator: Any,
    ) -> EpisodeRef:
        raw_id = f"{split}/{shard_idx:05d}/{index:06d}"
        loc = {"builder_dir": str(builder.path), "split": split, "shard": shard_idx, "record": index, **locator}
        message = None
        if error is not None:
            reason, fld = error
            loc.update(error_reason=reason, error_field=fld)
            message = str(self.error(reason, file=shard, episode=raw_id, field=fld))
        return EpisodeRef(
            adapter=ADAPTER,
            source=ADAPTER,
            subset=builder.name,
            raw_id=raw_id,
            paths=(str(shard), str(builder.path / "features.json")),
            locator=loc,
            error=message,
        )

    def _discover_shard(
        self, builder: Builder, split: str, shard_idx: int, shard: Path, expected: int | None, state: _DiscoveryState
    ) -> Iterator[EpisodeRef]:
        if not shard.is_file():
            for i in range(expected or 0):
                yield self._ref(
                    builder,
                    split,
                    shard_idx,
                    shard,
                    i,
                    error=("shard file listed in dataset_info.json is missing", "tfrecord:missing"),
                )
            return
        hashing = self.options.duplicates != "keep"
        found = 0
        for rec in scan_records(shard, read_payloads=hashing, verify=self.options.verify_crc):
            if rec.span is None:  # framing lost: this record and every later one in the shard are unreadable
                err = rec.error
                assert err is not None
                index = err.index if err.index is not None else found
                yield self._ref(
                    builder,
                    split,
                    shard_idx,
                    shard,
                    index,
                    offset=err.offset,
                    error=(f"{err.reason} (byte offset {err.offset})", f"tfrecord:{err.kind}"),
                )
                for later in range(index + 1, expected or 0):
                    yield self._ref(
                        builder,
                        split,
                        shard_idx,
                        shard,
                        later,
                        error=(
                            f"record not reachable: the shard's framing breaks at byte offset {err.offset} "
                            f"(record {index}: {err.kind}); dataset_info.json lists {expected} records",
                            f"tfrecord:{err.kind}",
                        ),
                    )
                return
            span = rec.span
            found = span.index + 1
            where = {"offset": span.offset, "length": span.length}
            if rec.error is not None:
                yield self._ref(
                    builder,
                    split,
                    shard_idx,
                    shard,
                    span.index,
                    **where,
                    error=(f"{rec.error.reason} (byte offset {span.offset})", f"tfrecord:{rec.error.kind}"),
                )
                continue
            if not hashing:
                yield self._ref(builder, split, shard_idx, shard, span.index, **where)
                continue
            assert rec.payload is not None
            yield from self._discover_record(builder, split, shard_idx, shard, span.index, rec.payload, where, state)
        for missing in range(found, expected or 0):
            yield self._ref(
                builder,
                split,
                shard_idx,
                shard,
                missing,
                error=(
                    f"shard ends after {found} records, dataset_info.json lists {expected} (truncated at a record "
                    "boundary)",
                    "tfrecord:truncated",
                ),
            )

    def _discover_record(
        self,
        builder: Builder,
        split: str,
        shard_idx: int,
        shard: Path,
        index: int,
        payload: bytes,
        where: dict[str, Any],
        state: _DiscoveryState,
    ) -> Iterator[EpisodeRef]:
        try:
            ex = parse_example(payload)
        except DecodeError as e:
            yield self._ref(
                builder,
                split,
                shard_idx,
                shard,
                index,
                **where,
                error=(f"record is not a tf.train.Example: {e}", "tf.train.Example"),
            )
            return
        meta: dict[str, Any] = dict(where)
        fp = ex.get("episode_metadata/file_path")
        if isinstance(fp, list) and fp:
            meta["file_path"] = fp[0].decode("utf-8", errors="replace")
        eid = ex.get("episode_metadata/episode_id")
        if isinstance(eid, np.ndarray) and eid.size:
            meta["episode_id"] = int(eid[0])
        first = ex.get("steps/is_first")
        if isinstance(first, np.ndarray):
            meta["num_steps"] = int(first.size)
        digest = content_hash(ex, builder.features)
        meta["content_hash"] = digest
        raw_id = f"{split}/{shard_idx:05d}/{index:06d}"
        kept = state.seen.get(digest)
        if kept is None:
            state.seen[digest] = raw_id
            yield self._ref(builder, split, shard_idx, shard, index, **meta)
        elif self.options.duplicates == "skip":
            self.duplicates.append({"subset": builder.name, "raw_id": raw_id, "duplicate_of": kept})
        else:
            yield self._ref(
                builder,
                split,
                shard_idx,
                shard,
                index,
                **meta,
                duplicate_of=kept,
                error=(
                    f"duplicate of episode {kept} (same actions, states and language; content hash {digest[:12]}): "
                    "not counted twice",
                    "content_hash",
                ),
            )

    # -- reading --

    def read(self, ref: EpisodeRef) -> RawEpisode:
        shard = Path(ref.paths[0])
        loc = ref.locator
        if ref.error is not None:
            raise self.error(
                loc.get("error_reason", ref.error), file=shard, episode=ref.raw_id, field=loc.get("error_field")
            )
        builder = load_builder(Path(loc["builder_dir"]))
        cfg = self.subset_config(builder)

        def fail(message: str, fld: str | None) -> AdapterError:
            return self.error(message, file=shard, episode=ref.raw_id, field=fld)

        try:
            payload = read_record(shard, int(loc["offset"]), index=int(loc["record"]), verify=self.options.verify_crc)
        except TFRecordError as e:
            raise fail(f"{e.reason} (byte offset {e.offset})", f"tfrecord:{e.kind}") from e
        except OSError as e:
            raise fail(f"cannot read the shard: {e}", "tfrecord:missing") from e
        try:
            ex = parse_example(payload)
        except DecodeError as e:
            raise fail(f"record is not a tf.train.Example: {e}", "tf.train.Example") from e
        if "content_hash" in loc and content_hash(ex, builder.features) != loc["content_hash"]:
            raise fail("record content changed since discovery (content hash differs)", "content_hash")
        return _EpisodeReader(self, ref, builder, cfg, ex, fail).build()


class _EpisodeReader:
    """Turns one parsed Example into a RawEpisode following features.json and the subset table."""

    def __init__(
        self,
        adapter: OXEAdapter,
        ref: EpisodeRef,
        builder: Builder,
        cfg: OXESubset,
        ex: dict[str, FeatureValue],
        fail: Any,
    ) -> None:
        self.adapter, self.ref, self.builder, self.cfg, self.ex, self.fail = adapter, ref, builder, cfg, ex, fail
        self.options: OXEOptions = adapter.options

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
        except (ValueError, zlib.error) as e:
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
                raise self.fail(
                    f"is_first must mark step 0 only, found it at steps {where} of {steps}"
                    + (" (several episodes in one record)" if len(where) > 1 else ""),
                    "steps/is_first",
                )
        last = flags.get("is_last")
        rlds: dict[str, Any] = {"num_steps": steps, "is_last_missing": True, "is_terminal": False}
        if last is not None and last.any():
            where = np.flatnonzero(last).tolist()
            if where != [steps - 1]:
                raise self.fail(
                    f"is_last must mark the final step {steps - 1} only, found it at steps {where}", "steps/is_last"
                )
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
    ) -> None:
        key = info.rel
        if spec is None:
            target[key] = Stream(t, values)
            return
        if spec.parts and values.ndim == 2 and values.shape[1] == spec.shape[0]:
            layout = []
            for p in spec.parts:
                name = f"{key}:{p.name}"
                target[name] = Stream(t, values[:, p.start : p.stop], p.names, p.unit, p.frame)
                layout.append({"stream": name, "start": p.start, "stop": p.stop, "doc": p.doc})
            meta["layouts"][key] = layout
        else:
            target[key] = Stream(t, values, spec.names, spec.unit, spec.frame)
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
            "layouts": {},
            "stream_docs": {},
            "skipped": {},
            "absent_cameras": {},
            "episode_metadata": {},
            "notes": list(cfg.notes),
            "tier_reason": cfg.tier_reason,
        }
        self._rlds_flags(steps, meta)
        states: dict[str, Stream] = {}
        actions: dict[str, Stream] = {}
        signals: dict[str, Stream] = {}
        cameras: dict[str, Any] = {}
        language: list[Language] = []
        skipped = {s.key: s.doc or "configured as not read" for s in cfg.skipped}
        text_kinds = {s.key: s.kind for s in cfg.language}
        for info in sorted(self.builder.features.values(), key=lambda f: f.key):
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
                cam = self._camera(info, t, meta)
                if cam is not None:
                    cameras[key.rsplit("/", 1)[-1]] = cam
                continue
            if info.kind == "text":
                for text, i0, i1 in text_runs(texts_of(self._raw(info.key))):
                    whole = i0 == 0 and i1 == steps - 1
                    language.append(
                        Language(
                            text,
                            text_kinds.get(key, "instruction"),
                            None if whole else float(t[i0]),
                            None if whole else float(t[i1]),
                        )
                    )
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
            if key in STEP_SIGNALS:
                signals[key] = Stream(t, values)
            elif key == "action" or key.startswith(("action/", "action_dict/")):
                self._add_stream(actions, spec, info, values, t, meta)
            else:
                self._add_stream(states, spec, info, values, t, meta)
        configured = [s.key for s in (*cfg.states, *cfg.actions)] + [c.key for c in cfg.cameras]
        configured += [s.key for s in cfg.language]
        meta["missing_keys"] = [k for k in configured if STEPS + k not in self.builder.features]
        return RawEpisode(
            ref=self.ref,
            robot_type=cfg.robot_type,
            embodiment=cfg.embodiment,
            tier=cfg.tier,
            native_fps=float(cfg.control_hz),
            states=states,
            actions=actions,
            cameras=cameras,
            language=language,
            success=self._success(meta["episode_metadata"]),
            tier_reasons=[] if cfg.tier is QualityTier.high else [f"subset default {cfg.tier}: {cfg.tier_reason}"],
            signals=signals,
            metadata=meta,
            hands=hand_signals(states, cfg.eef_reference_rotation),
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

    def _camera(self, info: FeatureInfo, t: np.ndarray, meta: dict[str, Any]) -> EncodedImagesCamera | None:
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
        try:
            cam = EncodedImagesCamera(raw, key.rsplit("/", 1)[-1], spec.canonical if spec else None, t, bgr=bgr)
        except ValueError as e:
            raise self.fail(f"undecodable image at step 0: {e}", info.key) from e
        if spec is not None and spec.doc:
            meta["stream_docs"][key] = spec.doc
        return cam
