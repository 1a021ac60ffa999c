"""How the LeRobot exports lay the canonical features out for the trainers that read them as written (lerobot-train
0.6.1 and lerobot 0.3.3's policies, lerobot's dataset tools and v2.1 -> v3.0 converter): the contract that
`jobs/export/layout.py` implements for `--format lerobot-v3` and `--format lerobot-v21`.

Per-frame flags and masks leave lerobot's policy namespaces. lerobot types a feature by its key alone
(`dataset_to_policy_features`, lerobot 0.6.1 `src/lerobot/utils/feature_utils.py`, the same rule in 0.3.3
`src/lerobot/datasets/utils.py`): video/image -> VISUAL, `observation.environment_state` -> ENV, any other key that
`startswith("observation")` -> STATE, any key that `startswith("action")` -> ACTION, and every other key is skipped
(`continue`): loaded into the batch, never normalized, never fed to a policy (0.6.1's `batch_to_transition` keeps only
`observation.*`, `action`, `*_is_pad` and its complementary keys). Every STATE and ACTION feature is normalized: 0.6.1
casts the feature's stats to the tensor's dtype and subtracts (`processor/normalize_processor.py` `_apply_transform`:
"Subtraction, the `-` operator, with two bool tensors is not supported"), 0.3.3 subtracts float32 buffers
(`policies/normalize.py` `Normalize.forward`; torch refuses `-` with any bool operand). A bool flag under
`observation.` therefore stops training before its first step in both, and the same flag cast to float would train,
but as a state input a policy is not meant to see. So flags and masks move out of both namespaces, under
`FRAME_PREFIX`, and keep their dtype: every frame still carries them for whoever wants them.

Multi-dimensional features are flattened. lerobot's dataset tools read the data parquets with pandas and concatenate
them (0.6.1 `datasets/aggregate.py` `concat_data_files`, `dataset_tools.py` for delete_episodes/split), and a 2-5-D
feature (datasets' ArrayND, a `PandasArrayExtensionDtype` column) fails there (`'PandasArrayExtensionDtype' object has
no attribute 'v'`; merge: `ArrowTypeError`), as does the v2.1 -> v3.0 converter. A feature of shape (a, b, c) is
exported as shape (a*b*c,) in C order, its names the flat product of the nested names joined by "." (`left.wrist.x`),
and its info keeps `ND_SHAPE_KEY` (the shape) and `ND_NAMES_KEY` (the nested names): `values.reshape(n, *nd_shape)`
restores it. `--keep-nd` keeps the canonical shapes for readers that want them (lerobot loads them; its tools do not).

Episode columns every export carries (v3.0 `meta/episodes/*.parquet`, v2.1 `meta/episodes.jsonl`): the episode's action
mask (1 for each of the 50 canonical dims that holds real data: a manifest mixes embodiments, so it is no longer one
value in the feature's info), its caption when a caption job wrote one (null otherwise), and per camera its 3x3
intrinsics (row-major, pixels of the exported video; null where the source gave none). A manifest mixes sources, so a
camera feature's info keeps no intrinsics there: each episode's are in its row.
"""

from __future__ import annotations

import pyarrow as pa

POLICY_PREFIXES = ("observation", "action")  # lerobot's OBS_STR and ACTION, matched by `str.startswith`
FRAME_PREFIX = "frame."  # per-frame flags and masks: outside both, so no lerobot policy takes them as input or output
ND_SHAPE_KEY = "nd_shape"  # info of a flattened feature: its shape before flattening
ND_NAMES_KEY = "nd_names"  # info of a flattened feature: its nested names before flattening

ACTION_MASK_COLUMN = "action_mask"
CAPTION_COLUMN = "caption"
INTRINSICS_COLUMN = "cameras/{video_key}/intrinsics"
# A manifest's camera slot (`primary`, `wrist`: jobs/export/lerobot_v3/cameras.py) is filled per dataset: the camera
# of the episode's own dataset that it holds, e.g. `observation.images.third_person` in `observation.images.primary`
CAMERA_SOURCE_COLUMN = "cameras/{video_key}/source"

# Arrow types of the episode columns (a batch of rows where every value is null must still get the column's type)
EPISODE_COLUMN_TYPES: dict[str, pa.DataType] = {ACTION_MASK_COLUMN: pa.list_(pa.int64()), CAPTION_COLUMN: pa.string()}
INTRINSICS_TYPE = pa.list_(pa.float64())


def intrinsics_column(video_key: str) -> str:
    return INTRINSICS_COLUMN.format(video_key=video_key)


def camera_source_column(video_key: str) -> str:
    return CAMERA_SOURCE_COLUMN.format(video_key=video_key)


def is_policy_key(key: str) -> bool:
    """Whether lerobot would make the feature a policy input or output (see the module doc)."""
    return key.startswith(POLICY_PREFIXES)


def frame_flag_key(key: str) -> str:
    """Where a per-frame flag or mask under a policy namespace goes: `observation.interpolated` ->
    `frame.interpolated` (the namespace's first component dropped, the rest kept)."""
    rest = key.split(".", 1)[1] if "." in key else key
    return FRAME_PREFIX + rest
