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
| `reward`, `discount` | `outcomes` (`Stream`s; `next.native`) | | ctrl Hz |
| `*language_embedding`, depth tensors | not read: `metadata["skipped"]` | | |
| `episode_metadata/*`, top-level keys | `metadata["episode_metadata"]`, `annotation`; `success` (4) | | episode |

(1) Canonical camera per subset: `cameras[].canonical` in the subset table `adapters/oxe/subsets.yaml` (null: kept
natively only); a camera the table does not name takes the shared vocabulary's (`adapters/camera_roles.yaml`) when
that role is free; berkeley_autolab_ur5 `hand_image` is BGR in the raw 480x640 copy (flipped), RGB in re-encoded copies.
(2) Slices with their own unit and frame: the `parts` of the subset table's states and actions (e.g. bridge
`observation/state` = `eef_xyz` + `eef_rpy` relative to a top-down default rotation + `gripper`). The action streams
the subset's `action_encoding` names (from the maker's code, cited there: Bridge's and RT-1's EEF deltas) carry
`Stream.relative`, so resampling accumulates them over each 0.1 s; grippers and unsettled streams stay absolute.
(3) Whole episode when constant; `structured_language_instruction` (taco_play) has kind "description".
(4) kuka's top-level `success`; droid's `/success/` or `/failure/` in `episode_metadata/file_path`. All of them go to
the lineage (`source_annotation`, `adapters.oxe.episode.OXEEpisodeMetadata`).

A dataset in no table is read as natives (embodiment `unknown`, tier low by its verdict `source_default`, 10 Hz
unless option `control_hz`; finding `unknown_subset`), never refused. A row whose state holds a described robot's
joints names them in `joint_fk` (`adapters.oxe.hands`: the joint-space options that send them to forward kinematics,
the canonical wrist where no pose is recorded); a row with neither says why in `natives_reason` (metadata, notes).

Timestamps are `step / control_hz` (the subset table's rate, with its source), float64 seconds from the episode
start. Tensors are reshaped from `features.json` and cast back to their declared dtype (TFDS stores float64 as
float32 and bool as int64); `encoding: zlib|bytes` tensors (kuka) are decompressed. Embodiment, robot type and
default tier come from the subset table; `features.json` decides what exists (configured keys it lacks are listed in
`metadata["missing_keys"]`, unconfigured keys are still read with unit ""; a builder that differs from its row
gets the finding `layout_differs` naming each missing, extra and reshaped field, and tier low where the row's wrist
or gripper fields are among them: `adapters.oxe.layout`).

Raw ids are `<split>/<shard:05d>/<record:06d>` (stable, sorted like the files); `episode_metadata/file_path` and
`episode_id`, when present, are in the ref's `locator` (discovery: `adapters.oxe.discovery`).

Quirks handled:
- `is_last`/`is_terminal` never set (Octo's Bridge copy): the record end is the episode end; recorded as
  `metadata["rlds"]["is_last_missing"]`. `is_first` must mark step 0 only; `is_last`, when set, only the last step.
- The same episode in several splits (Octo's Bridge: train == val): found by a content hash (actions, states, step
  signals and language text, not the image bytes), the first copy in sorted order kept; option `duplicates` says what
  becomes of the others (`OXEOptions`, `OXEAdapter._split_refs`).
- `has_image_*` flags are wrong (all 0 in the real sample): a camera is present when its bytes are; a camera whose
  images are all empty, or constant (a padded dummy view such as Bridge's `image_3`), is left out and listed in
  `metadata["absent_cameras"]`.
- BGR-stored cameras (berkeley_autolab_ur5 `hand_image` when features.json declares the raw 480x640, or the cameras
  named by option `bgr_cameras`) are flipped; the decision is in `metadata["notes"]`. features.json descriptions
  that are template text (Bridge's state/action) are ignored in favour of the table.
- A state orientation stored relative to a reference rotation (Bridge) is declared to canonicalization as the
  end-effector frame, `R_state · D` (`adapters.oxe.hands`); the native stream keeps the stored angles.

Bad input (a truncated shard, a CRC mismatch, a missing shard, a record that is not an `Example`, a tensor whose size
is not T x shape, an undecodable image stream, misplaced `is_first`/`is_last`) fails its episodes only, each an
`AdapterError` naming shard file, episode (raw id) and field (`tfrecord:<kind>` or the native key).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from google.protobuf.message import DecodeError

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, RawEpisode, reraised
from adapters.oxe.builder import ADAPTER, Builder, find_builders, load_builder, version_key
from adapters.oxe.decode import content_hash
from adapters.oxe.discovery import RecordDiscovery
from adapters.oxe.episode import EpisodeReader
from adapters.oxe.layout import LAYOUT_DIFFERS, layout_diff
from adapters.oxe.options import OXEOptions, builders_at, camera_typos, subset_typos
from adapters.oxe.subsets import OXESubset, find_subset
from adapters.oxe.tfrecord import TFRecordError, parse_example, read_record
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from schemas.findings import SourceFinding
from schemas.robots.registry import default_registry
from schemas.spelling import did_you_mean
from schemas.storage import StorageOptions
from schemas.tiers import QualityTier

# A dataset in no table and no option: its rate is not in its files (TFDS builders carry none) nor in the OXE sheet
# rows here, so it is read at the canonical grid's rate and said so (`unknown_subset` finding; option control_hz).
UNKNOWN_HZ = 10.0
UNKNOWN_HZ_SOURCE = "unknown: not in the subset table; read at 10 Hz, the canonical rate (option control_hz sets it)"
SPLIT_COPY_HELD = 100_000  # copies of one split held while deciding whether the split is a whole copy


class OXEAdapter(SourceAdapter[OXEOptions]):
    name: ClassVar[str] = ADAPTER
    expects: ClassVar[str] = (
        "TFDS builder folders <dataset>/<version>/ with dataset_info.json, features.json and *.tfrecord-* shards"
    )

    def __init__(
        self, options: AdapterOptions | dict[str, Any] | None = None, storage: StorageOptions | None = None
    ) -> None:
        super().__init__(options, storage)
        self.duplicates: list[dict[str, str]] = []  # with duplicates="skip": {"raw_id", "duplicate_of", "subset"}
        self._root: Location | None = None  # the root discovery last read

    def subset_config(self, builder: Builder) -> OXESubset:
        cfg = find_subset(builder.name)
        o = self.options
        if cfg is None:  # not in any table: natives, never refused (the finding is `refs`' unknown_subset)
            cfg = OXESubset(
                name=builder.name,
                control_hz=UNKNOWN_HZ,
                hz_source=UNKNOWN_HZ_SOURCE,
                embodiment="unknown",
                robot_type=builder.name,
                tier=QualityTier.low,
                tier_reason="dataset not in the OXE subset table: no expert-data guarantee",
                cameras=(),
                states=(),
                actions=(),
                action_semantics="unknown (dataset not in the subset table): streams kept as recorded",
                language=(),
                natives_reason=f"dataset {builder.name!r} is not in the OXE subset table (adapters/oxe/subsets.yaml): "
                "which state is a pose is unknown (option embodiment names the robot; a table row maps it)",
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

    def spec_problems(self, root: Location) -> list[tuple[tuple[str, ...], str]]:
        """A builder folder one letter off the subset table, a camera no builder declares (`options.py`)."""
        builders = builders_at(root)
        return subset_typos(builders, self.options) + camera_typos(builders, self.options)

    def _builders(self, root: Location) -> list[Builder]:
        paths = find_builders(root)
        if not paths:
            raise self.error("no TFDS builder directory (dataset_info.json) found", file=root)
        by_name: dict[str, list[Builder]] = {}
        self._unreadable: list[tuple[Location, AdapterError]] = []
        for p in paths:
            try:
                b = load_builder(p)
            except AdapterError as e:  # one builder's meta (a 1e5-deep features.json): that builder only
                self._unreadable.append((p, e))
                continue
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
        if not chosen and not self._unreadable:
            found = ", ".join(f"{n} ({', '.join(b.version for b in bs)})" for n, bs in sorted(by_name.items()))
            near = did_you_mean(self.options.subset or "", by_name) if self.options.subset else ""
            raise self.error(
                f"no builder matches subset={self.options.subset!r} version={self.options.version!r}; "
                f"{near + '; ' if near.startswith('did') else ''}builders here: {found or 'none readable'}",
                file=root,
            )
        return chosen

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        self._root = root
        self.duplicates = []
        builders = self._builders(root)
        for path, e in self._unreadable:  # one flagged ref per builder whose meta cannot be read, named by its file
            name = path.parent.name
            yield self.new_ref(f"{name}/{path.name}/meta", [str(e.file or path)], subset=name, error=e)
        for builder in builders:
            cfg = self.subset_config(builder)  # fail early on an unusable configuration
            if find_subset(builder.name) is None:
                self.note(
                    "unknown_subset",
                    f"dataset {builder.name!r} is not in the OXE subset table: read as natives (no canonical wrist), "
                    f"tier {cfg.tier}, {cfg.control_hz:g} Hz ({cfg.hz_source}); embodiment {cfg.embodiment}",
                    root=str(root),
                    subset=builder.name,
                    path=str(builder.path),
                )
            if diff := layout_diff(cfg, builder):
                lost = (
                    f"; the wrist or gripper cannot be read ({', '.join(diff.hand_loss)}): tier low"
                    if diff.hand_loss
                    else ""
                )
                self.note(
                    LAYOUT_DIFFERS,
                    f"builder {builder.name!r} differs from its row {cfg.name!r} (adapters/oxe/subsets.yaml): "
                    f"{diff.message}{lost}",
                    root=str(root),
                    subset=builder.name,
                    path=str(builder.path),
                )
            walk = RecordDiscovery(builder, self.options, self.error, self.new_ref, self.duplicates)
            originals: dict[str, set[str]] = {}  # split -> raw ids of its episodes kept (not copies)
            for split in builder.splits:
                if self.options.splits is not None and split.name not in self.options.splits:
                    continue
                refs = (
                    ref
                    for shard_idx, shard in enumerate(split.shards)
                    for ref in walk.discover_shard(
                        split.name, shard_idx, shard, split.shard_lengths[shard_idx] if split.shard_lengths else None
                    )
                )
                yield from self._split_refs(builder.name, split.name, refs, originals)

    def _split_refs(
        self, subset: str, split: str, refs: Iterator[EpisodeRef], originals: dict[str, set[str]]
    ) -> Iterator[EpisodeRef]:
        """A split's refs as discovered; except a split that is a whole copy of an earlier one (Octo's Bridge: val
        holds train's 25 episodes): said once as a source finding, its episodes neither read nor quarantined one by
        one. Its copies are held until the split ends (at most `SPLIT_COPY_HELD`); a split with one episode of its
        own, or copying only part of another, has its copies reported each (`duplicates="report"`)."""
        kept = originals.setdefault(split, set())
        held: list[EpisodeRef] | None = [] if self.options.duplicates == "report" else None  # None: streaming
        for ref in refs:
            copy = ref.locator.get("duplicate_of")
            if copy is None and ref.error is None:
                kept.add(ref.raw_id)
            if held is not None:
                if copy is not None and len(held) < SPLIT_COPY_HELD:
                    held.append(ref)
                    continue
                yield from held  # an episode of its own (or more copies than held): not a whole copy
                held = None
            yield ref
        if held:
            of = {str(r.locator["duplicate_of"]) for r in held}
            source = {o.split("/", 1)[0] for o in of}
            whole = len(source) == 1 and not kept and of == originals.get(next(iter(source)), set())
            if whole and len(of) == len(held):
                (other,) = source
                n = len(held)
                self.note(
                    "duplicate_split",
                    f"split {split} is a copy of split {other}: each of its {n} episodes equals one there (same "
                    "actions, states and language; content hash), so it is not ingested twice and nothing is "
                    "quarantined for it (duplicates: keep would ingest it)",
                    root=str(self._root),
                    subset=subset,
                    episodes=[r.raw_id for r in held],
                )
                return
            yield from held

    def findings(self) -> list[SourceFinding]:
        """What was noted, and the copies `duplicates="skip"` left out: one finding per subset naming them."""
        for subset in sorted({d["subset"] for d in self.duplicates}):
            dups = [d for d in self.duplicates if d["subset"] == subset]
            shown = ", ".join(f"{d['raw_id']} (copy of {d['duplicate_of']})" for d in dups[:3])
            more = f" and {len(dups) - 3} more" if len(dups) > 3 else ""
            msg = f"{len(dups)} episodes skipped as copies of earlier ones (duplicates: skip): {shown}{more}"
            ids = [d["raw_id"] for d in dups]
            self.note("duplicates_skipped", msg, root=str(self._root), subset=subset, episodes=ids)
        return super().findings()

    def read(self, ref: EpisodeRef) -> RawEpisode:
        shard = self.file(ref.paths[0])
        loc = ref.locator  # a ref discovery flagged raised its error before (`confined.flagged_first`)
        builder = load_builder(self.file(loc["builder_dir"]))
        cfg = self.subset_config(builder)
        fail = self.failing(shard, ref.raw_id)
        try:
            payload = read_record(shard, int(loc["offset"]), index=int(loc["record"]), verify=self.options.verify_crc)
        except TFRecordError as e:
            raise fail(f"{e.reason} (byte offset {e.offset})", f"tfrecord:{e.kind}") from e
        except OSError as e:
            raise fail(f"cannot read the shard: {e}", "tfrecord:missing") from e
        with reraised(DecodeError, lambda e: fail(f"record is not a tf.train.Example: {e}", "tf.train.Example")):
            ex = parse_example(payload)
        if "content_hash" in loc and content_hash(ex, builder.features) != loc["content_hash"]:
            raise fail("record content changed since discovery (content hash differs)", "content_hash")
        return EpisodeReader(self.options, ref, builder, cfg, ex, fail).build()
