"""What a user pastes into LDA's repository to train on an LDA export: one data-config class per layout, its
`ROBOT_TYPE_CONFIG_MAP` / `ROBOT_TYPE_TO_EMBODIMENT_TAG` entries, and a `DATASET_NAMED_MIXTURES` entry naming every
exported dataset (jiangranlv/latent-dynamics-action@99bf08b: `lda/dataloader/gr00t_lerobot/data_config.py:26-53`,
`:852-890`, `embodiment_tags.py:158-`, `mixtures.py:10-36`).

The classes subclass LDA's own `BaseDataConfig` (robots) or `HumanBaseDataConfig` (human hands) and change only what
eidata's datasets need: the keys of the layout, `video.main`, and `video_backend = "decord"` (its default
`torchvision_av` returns consecutive frames from a keyframe, not the frames asked for). `action_indices` stays LDA's
`range(-5, 17)`: with `use_delta_action=true` (its pretraining setting) LDA differences 5 + 17 absolute poses into
4 + 16 steps; with `use_delta_action=false` it gives 17 steps, so the fine-tuning line sets `range(-5, 16)`.
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


def data_config(layout: Layout) -> str:
    """The class, as Python source, for LDA's `data_config.py`."""
    state, action = keys(layout, "state"), keys(layout, "action")
    lines = [
        f"class {class_name(layout)}({BASES[layout]}):",
        '    video_backend = "decord"',
        f'    video_keys = ["video.{MAIN_VIDEO}"]',
        f'    future_video_keys = ["future_video.{MAIN_VIDEO}"]',
        f"    state_keys = {state!r}",
        f"    action_keys = {action!r}",
        f'    language_keys = ["annotation.{LANGUAGE_KEY}"]',
        "    action_indices = list(range(-5, 17))  # use_delta_action=false: list(range(-5, 16)), 16 steps",
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
    parts = ["# lda/dataloader/gr00t_lerobot/data_config.py (after ROBOT_TYPE_CONFIG_MAP)"]
    for layout in layouts:
        parts += [data_config(layout), registry_lines(layout)[0]]
    parts += ["# lda/dataloader/gr00t_lerobot/embodiment_tags.py (at the end)"]
    parts += [registry_lines(layout)[1] for layout in layouts]
    parts += ["# lda/dataloader/gr00t_lerobot/mixtures.py (at the end)", mixture(datasets)]
    parts += [f"# training config: data_root_dir={out} data_mix={MIXTURE} (use_delta_action=true or false)"]
    return "\n".join(parts)
