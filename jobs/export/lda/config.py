"""What a user pastes into LDA's repository to train on an LDA export: one data-config class per layout, its
`ROBOT_TYPE_CONFIG_MAP` / `ROBOT_TYPE_TO_EMBODIMENT_TAG` entries, and a `DATASET_NAMED_MIXTURES` entry naming every
exported dataset (jiangranlv/latent-dynamics-action@99bf08b: `lda/dataloader/gr00t_lerobot/data_config.py:26-53`,
`:852-890`, `embodiment_tags.py:158-`, `mixtures.py:10-36`).

The classes subclass LDA's own `BaseDataConfig` (robots) or `HumanBaseDataConfig` (human hands) and change only what
eidata's datasets need: the keys of the layout, `video.main`, `video_backend = "decord"` (its default
`torchvision_av` returns consecutive frames from a keyframe, not the frames asked for) and `action_indices`, which
depend on the training config's `use_delta_action` (one switch printed first, `EIDATA_USE_DELTA_ACTION`, for the user
to set as the training config has it). Rows hold the pose observed at their own frame (`schemas.actions` LDA timing);
for an observation at t, LDA keeps the first 5 rows (`history_action_indices = range(-5, 0)`) as history
(`gr00t_lerobot/datasets.py:1997-2001,2039-2044` @ 99bf08b) and the rest as the chunk:
- `use_delta_action=true`: `range(-5, 17)` (LDA's own): rows t-5..t-1 and t..t+16; LDA differences each part
  (`datasets.py:1918-1953`), giving the motions t->t+1 .. t+15->t+16, and moves gripper rows one on (`get_next_state`,
  `:1909-1916`): targets t+1 .. t+16. 16 steps.
- `use_delta_action=false` (fine-tuning, absolute rows read as they are): `range(-4, 17)`, LDA's fine-tuning
  `range(-5, 16)` shifted by one: history rows t-4..t (the targets the previous 5 steps reached), the chunk rows
  t+1..t+16, the poses and gripper openings reached after t. With `range(-5, 16)` the chunk would start with the pose
  at t, the observation itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.lda import ACTION_PARTS_OF, LANGUAGE_KEY, LAYOUT_TAGS, LAYOUTS, MAIN_VIDEO, Layout

MIXTURE = "eidata"
BASES: dict[Layout, str] = {
    "single_arm": "BaseDataConfig",
    "dual_arm": "BaseDataConfig",
    "human": "HumanBaseDataConfig",
}


def robot_type(layout: Layout) -> str:
    return f"eidata_{layout}"


def class_name(layout: Layout) -> str:
    return "Eidata" + "".join(w.capitalize() for w in layout.split("_")) + "DataConfig"


def keys(layout: Layout, group: str) -> list[str]:
    """`state.left_eef_position` ...: the keys a data config of `layout` names, LDA's order (hand by hand)."""
    hands, parts = LAYOUTS[layout]
    if layout == "human" and group == "state":  # HumanBaseDataConfig: both wrists, then both hands (:134-141)
        return [f"state.{h}_{p}" for h in hands for p in parts[:2]] + [f"state.{h}_{parts[2]}" for h in hands]
    if group == "action":
        parts = ACTION_PARTS_OF.get(layout, parts)
    return [f"{group}.{h}_{p}" for h in hands for p in parts]


SWITCH = "EIDATA_USE_DELTA_ACTION"
# (use_delta_action=true, false) -> action_indices of an end-effector layout (the module's docstring)
ACTION_INDICES = ("list(range(-5, 17))", "list(range(-4, 17))")


def switch_line(use_delta_action: bool = True) -> str:
    return f"{SWITCH} = {use_delta_action}  # = your training config's use_delta_action (pretraining True)"


def data_config(layout: Layout) -> str:
    """The class, as Python source, for LDA's `data_config.py`."""
    state, action = keys(layout, "state"), keys(layout, "action")
    pretrain, finetune = ACTION_INDICES
    lines = [
        f"class {class_name(layout)}({BASES[layout]}):",
        '    video_backend = "decord"',
        f'    video_keys = ["video.{MAIN_VIDEO}"]',
        f'    future_video_keys = ["future_video.{MAIN_VIDEO}"]',
        f"    state_keys = {state!r}",
        f"    action_keys = {action!r}",
        f'    language_keys = ["annotation.{LANGUAGE_KEY}"]',
        "    history_action_indices = list(range(-5, 0))",
        f"    action_indices = {pretrain} if {SWITCH} else {finetune}  # chunk: targets t+1 .. t+16",
    ]
    return "\n".join(lines)


def registry_lines(layout: Layout) -> list[str]:
    tag = LAYOUT_TAGS[layout]
    return [
        f'ROBOT_TYPE_CONFIG_MAP["{robot_type(layout)}"] = {class_name(layout)}()',
        f'ROBOT_TYPE_TO_EMBODIMENT_TAG["{robot_type(layout)}"] = EmbodimentTag("{tag}")',
    ]


def mixture(datasets: Iterable[tuple[str, Layout]], name: str = MIXTURE) -> str:
    """The `DATASET_NAMED_MIXTURES` entry: every exported dataset (its path below --out), weight 1."""
    rows = [f'    ("{path}", 1.0, "{robot_type(layout)}"),' for path, layout in datasets]
    return "\n".join([f'DATASET_NAMED_MIXTURES["{name}"] = [', *rows, "]"])


def entry(datasets: list[tuple[str, Layout]], out: str) -> str:
    """Everything to paste, per file of LDA's, and the two settings of its training config."""
    layouts = sorted({layout for _, layout in datasets})
    parts = ["# lda/dataloader/gr00t_lerobot/data_config.py (after ROBOT_TYPE_CONFIG_MAP)", switch_line()]
    for layout in layouts:
        parts += [data_config(layout), registry_lines(layout)[0]]
    parts += ["# lda/dataloader/gr00t_lerobot/embodiment_tags.py (at the end)"]
    parts += [registry_lines(layout)[1] for layout in layouts]
    parts += ["# lda/dataloader/gr00t_lerobot/mixtures.py (at the end)", mixture(datasets)]
    parts += [f"# training config: data_root_dir={out} data_mix={MIXTURE} use_delta_action: as {SWITCH} above"]
    return "\n".join(parts)
