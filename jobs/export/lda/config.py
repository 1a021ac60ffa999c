"""What a user pastes into LDA's repository to train on an LDA export: one data-config class per layout, its
`ROBOT_TYPE_CONFIG_MAP` / `ROBOT_TYPE_TO_EMBODIMENT_TAG` entries, and a `DATASET_NAMED_MIXTURES` entry naming every
exported dataset (jiangranlv/latent-dynamics-action@99bf08b: `lda/dataloader/gr00t_lerobot/data_config.py:26-53`,
`:852-890`, `embodiment_tags.py:158-`, `mixtures.py:10-36`; why each value: jobs/export/README.md, "LDA-1B").

The classes subclass LDA's own `BaseDataConfig` (robots), `HumanBaseDataConfig` (human hands) or, for layout
`native`, its `FourierGr1ArmsWaist_twohistoryDataConfig`, and change only the layout's keys, `video.main`,
`video_backend = "decord"` (its default `torchvision_av` returns consecutive frames from a keyframe, not the frames
asked for) and `action_indices`, which depend on the training config's `use_delta_action` (`EIDATA_USE_DELTA_ACTION`,
printed first). Rows hold the pose observed at their own frame (`schemas.actions` LDA timing); LDA keeps the first 5
rows of a window as history (`gr00t_lerobot/datasets.py:1997-2001,2039-2044` @ 99bf08b): `use_delta_action=true` takes
`range(-5, 17)` (LDA's own: differenced into the motions t->t+1 .. t+15->t+16, `datasets.py:1918-1953`, gripper
rows moved one on, `get_next_state` `:1909-1916`); `false` takes `range(-4, 17)`, the chunk rows t+1..t+16 (LDA's
fine-tuning `range(-5, 16)` would start the chunk at the observation itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from schemas.corpus import DATASETS_DIR
from schemas.lda import ACTION_PARTS_OF, LANGUAGE_KEY, LAYOUT_TAGS, LAYOUTS, MAIN_VIDEO, NATIVE_KEY, NATIVE_TAGS, Layout

MIXTURE = "eidata"
BASES: dict[Layout, str] = {
    "single_arm": "BaseDataConfig",
    "dual_arm": "BaseDataConfig",
    "human": "HumanBaseDataConfig",
    # LDA's joint-space config whose transform takes any keys (`{key: ... for key in self.action_keys}`,
    # data_config.py:222-309); BaseDataConfig's names its six end-effector keys (KeyError on others)
    "native": "FourierGr1ArmsWaist_twohistoryDataConfig",
}
Widths = tuple[int, int] | None  # a native robot's state and command widths (its robot type and tag), else None


def robot_type(layout: Layout, widths: Widths = None) -> str:
    return f"eidata_native_s{widths[0]}_a{widths[1]}" if layout == "native" and widths else f"eidata_{layout}"


def class_name(layout: Layout) -> str:
    return "Eidata" + "".join(w.capitalize() for w in layout.split("_")) + "DataConfig"


def keys(layout: Layout, group: str) -> list[str]:
    """`state.left_eef_position` ...: the keys a data config of `layout` names, LDA's order (hand by hand)."""
    if layout == "native":
        return [f"{group}.{NATIVE_KEY}"]
    hands, parts = LAYOUTS[layout]
    if layout == "human" and group == "state":  # HumanBaseDataConfig: both wrists, then both hands (:134-141)
        return [f"state.{h}_{p}" for h in hands for p in parts[:2]] + [f"state.{h}_{parts[2]}" for h in hands]
    if group == "action":
        parts = ACTION_PARTS_OF.get(layout, parts)
    return [f"{group}.{h}_{p}" for h in hands for p in parts]


SWITCH = "EIDATA_USE_DELTA_ACTION"
# (use_delta_action=true, false) -> action_indices (the module's docstring). A native command's row t is the command
# given at t (`schemas.actions`: commanded), read as it is: the chunk rows t..t+15. LDA's history is 5 rows without
# differencing and 4 with it, whatever the keys (`history_len`, datasets.py:1997-2001): so range(-5, 16) (its own
# joint configs') fine-tuning, range(-4, 16) pretraining, both 16 steps from t.
ACTION_INDICES: dict[bool, tuple[str, str]] = {
    False: ("list(range(-5, 17))", "list(range(-4, 17))"),  # end-effector poses observed at their frame
    True: ("list(range(-4, 16))", "list(range(-5, 16))"),  # a native command given at its frame
}


def switch_line(use_delta_action: bool = True) -> str:
    return f"{SWITCH} = {use_delta_action}  # = your training config's use_delta_action (pretraining True)"


def data_config(layout: Layout) -> str:
    """The class, as Python source, for LDA's `data_config.py`."""
    state, action = keys(layout, "state"), keys(layout, "action")
    pretrain, finetune = ACTION_INDICES[layout == "native"]
    chunk = "commands t .. t+15" if layout == "native" else "targets t+1 .. t+16"
    lines = [
        f"class {class_name(layout)}({BASES[layout]}):",
        '    video_backend = "decord"',
        f'    video_keys = ["video.{MAIN_VIDEO}"]',
        f'    future_video_keys = ["future_video.{MAIN_VIDEO}"]',
        f"    state_keys = {state!r}",
        f"    action_keys = {action!r}",
        f'    language_keys = ["annotation.{LANGUAGE_KEY}"]',
        "    observation_indices = [-5, 0]",
        "    future_observation_indices = [5]",
        "    img_interval = 3",
        "    history_action_indices = list(range(-5, 0))",
        f"    action_indices = {pretrain} if {SWITCH} else {finetune}  # chunk: {chunk}",
    ]
    return "\n".join(lines)


def _types(datasets: Iterable[tuple[str, Layout, Widths]]) -> dict[tuple[Layout, Widths], str]:
    """Each (layout, native widths) of the export -> its embodiment tag: a layout's own, a native robot's the next of
    `NATIVE_TAGS` (plan.py refuses more native widths than those)."""
    out: dict[tuple[Layout, Widths], str] = {}
    natives = 0
    for _, layout, widths in datasets:
        if (layout, widths) not in out:
            out[(layout, widths)] = NATIVE_TAGS[natives] if layout == "native" else LAYOUT_TAGS[layout]
            natives += layout == "native"
    return out


def mixture(
    datasets: Iterable[tuple[str, Layout, Widths]], name: str = MIXTURE, weights: Mapping[str, float] | None = None
) -> str:
    """The `DATASET_NAMED_MIXTURES` entry: every exported dataset (its path below --out) with its sampling weight,
    `weights[path]` (a manifest's, `manifest_weights`), else 1."""
    weights = weights or {}
    rows = [
        f'    ("{path}", {round(weights.get(path, 1.0), 6)!r}, "{robot_type(layout, widths)}"),'
        for path, layout, widths in datasets
    ]
    return "\n".join([f'DATASET_NAMED_MIXTURES["{name}"] = [', *rows, "]"])


def manifest_weights(mixture: Iterable[tuple[str, float]]) -> dict[str, float]:
    """LDA's weight of each dataset (its path below ROOT/datasets/) of a manifest's `mixture` (dataset, share of the
    draws): the manifest's balance carried over. LDA's training draws a dataset with probability weight / sum
    (`get_vla_dataset` leaves `balance_dataset_weights` False, lda/dataloader/lerobot_datasets.py:152 and
    dataloader/__init__.py:43 @ 99bf08b; `LeRobotMixtureDataset` normalizes, gr00t_lerobot/datasets.py:1784-1803),
    then a step of it uniformly (`sample_step`, `:1878-1888`), as the manifest's shares are of frames drawn. Scaled
    so the largest is 1.0: LDA calls the datasets of weight 1.0 its primary ones and warns when there is none
    (`:1829-1835`)."""
    shares: dict[str, float] = {}
    for dataset, share in mixture:
        name = dataset.removeprefix(f"{DATASETS_DIR}/")
        shares[name] = shares.get(name, 0.0) + share  # a dataset's robots alike: LDA's unit is the dataset
    top = max(shares.values(), default=0.0)
    return {k: v / top for k, v in shares.items()} if top > 0 else {}


def entry(
    datasets: Iterable[tuple[str, Layout] | tuple[str, Layout, Widths]],
    out: str,
    weights: Mapping[str, float] | None = None,
) -> str:
    """Everything to paste, per file of LDA's, and the settings of its training config; `weights`: `mixture`'s."""
    items = [(path, layout, rest[0] if rest else None) for path, layout, *rest in datasets]
    types = _types(items)
    parts = ["# lda/dataloader/gr00t_lerobot/data_config.py (after ROBOT_TYPE_CONFIG_MAP)", switch_line()]
    for layout in sorted({layout for layout, _ in types}):
        parts += [data_config(layout)]
    parts += [f'ROBOT_TYPE_CONFIG_MAP["{robot_type(*t)}"] = {class_name(t[0])}()' for t in types]
    parts += ["# lda/dataloader/gr00t_lerobot/embodiment_tags.py (at the end)"]
    parts += [f'ROBOT_TYPE_TO_EMBODIMENT_TAG["{robot_type(*t)}"] = EmbodimentTag("{tag}")' for t, tag in types.items()]
    parts += ["# lda/dataloader/gr00t_lerobot/mixtures.py (at the end)", mixture(items, weights=weights)]
    parts += [f"# training config: data_root_dir={out} data_mix={MIXTURE} use_delta_action: as {SWITCH} above"]
    return "\n".join(parts)
