"""One corpus of five robots for issue 65's "Done when" (`tests/jobs/test_one_action.py`), written as ingest writes
it (no Ray), each from its makers' layout or a real recording, through the fixture writers the other tests use:

- `lingzu` and `robocoin`: robots eidata has no description of, native commands 34 and 30 wide
  (`tests/fixtures/lerobot_layouts`, as tests/training/test_actions.py ingests them);
- `acme`: a planar arm declared in the job spec with its gripper from `action.gripper` (the declared-gripper
  recording of tests/jobs/test_spec_robots.py, `_command_recording`);
- `lerobot`: the real GR1 `gr00t_robot_sim_picknplace` (dexterous: fingertips), 2 episodes;
- `vitra`: the real human `vitra_ego4d_example` (MANO fingertips);
- `oxe`: the real Bridge `octo_bridge_debug_rlds` (a WidowX, one arm and its gripper), 2 episodes.

Latents and text embeddings are written for `eidata train` (tests/training/corpus.py), the catalog rebuilt, and one
manifest `every` of every episode (no val split)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from adapters.lerobot_format.files import load_info, read_jsonl
from adapters.registry import get_adapter
from adapters.storage.corpus import Corpus
from ingest.canonical.declared import as_declared
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.spec_robots import BASE_DIR, RobotSpec
from schemas.canonicalize import CanonicalizeSpec
from schemas.corpus import EpisodeLineage, dataset_dir
from schemas.image_size import ImageSpec
from schemas.lerobot import EPISODES_PATH, INFO_PATH
from schemas.robots.declared import registry_with
from tests.fixtures.layouts import load_case, materialize
from tests.ingest.qa.planted_raw import gr00t_raws, ingest
from tests.jobs.test_spec_robots import ARM, PLANAR, _command_recording
from tests.realdata import realdata
from tests.training.corpus import HIDDEN, world, write_latents, write_texts
from training.config import DataConfig

LAYOUTS = Path(__file__).resolve().parents[1] / "fixtures" / "lerobot_layouts"
NATIVE = {"lingzu": "lingzu_open50_v30", "robocoin": "robocoin_v21"}
NO_UNIFIED_EEF = {"robocoin": ("eef_sim_pose_state", "eef_sim_pose_action")}  # its pipeline before eef_sim
DECLARED = "acme_arm"
MANIFEST = "every"
# source -> (the robot's part with a gripper or fingers: "gripper" / "fingers" / None, native only)
ROBOTS = {
    "lingzu": None,
    "robocoin": None,
    "acme": "gripper",
    "lerobot": "fingers",
    "vitra": "fingers",
    "oxe": "gripper",
}


def _small_frames(layout: object) -> None:
    for ft in layout.info["features"].values():  # frames play no part in these checks: small ones
        if ft.get("dtype") == "video":
            ft["shape"], info = [48, 64, 3], ft.get("info") or {}
            info.update({k: v for k, v in (("video.height", 48), ("video.width", 64)) if k in info})


def build(tmp: Path) -> SimpleNamespace:
    root, raw_roots = tmp / "corpus", {}
    spec = CanonicalizeSpec(image=ImageSpec(size="32x32"))
    lerobot = get_adapter("lerobot")
    for source, case in NATIVE.items():
        layout = load_case(LAYOUTS / case)
        for key in NO_UNIFIED_EEF.get(source, ()):
            layout.info["features"].pop(key)
        _small_frames(layout)
        raw_roots[source] = materialize(layout, tmp / "raw" / source, episodes=2, seconds=3.0).root
        for ref in lerobot.discover(raw_roots[source]):
            kept, why = ingest(lerobot.read(ref), spec, root / dataset_dir(source, ref.subset))
            assert kept, (source, why)
    # the declared robot, as a job spec declares it (`robots: acme_arm: ...`, checked by jobs.spec_robots)
    (tmp / "robots").mkdir()
    (tmp / "robots/arm.urdf").write_text(PLANAR)
    arm = ARM | {"gripper": {"column": "action.gripper", "open": 1, "closed": 0}}
    robot = RobotSpec.model_validate(
        {"name": DECLARED, "urdf": "robots/arm.urdf", "units": "deg", "arms": {"right": arm}},
        context={BASE_DIR: tmp},
    )
    recorded_gripper = _command_recording(tmp / "raw" / "acme", cameras={"observation.images.top": (48, 64)})
    registry = registry_with({DECLARED: robot})
    for ref in lerobot.discover(tmp / "raw" / "acme"):
        raw = as_declared(lerobot.read(ref), DECLARED, robot)
        kept, why = ingest(raw, spec, root / dataset_dir("acme", ref.subset), registry)
        assert kept, ("acme", why)
    oxe, vitra = get_adapter("oxe"), get_adapter("vitra")
    bridge = [r for r in oxe.discover(realdata("octo_bridge_debug_rlds")) if r.error is None][:2]
    human = vitra.discover(realdata("vitra_ego4d_example"))
    for raw in [*gr00t_raws()[:2], *map(oxe.read, bridge), *map(vitra.read, human)]:
        kept, why = ingest(raw, spec, root / dataset_dir(raw.ref.source, raw.ref.subset))
        assert kept, (raw.ref.source, why)
    rng, w, lines = np.random.default_rng(3), world(), {}
    for folder in sorted(p.parent.parent for p in root.glob(f"datasets/*/*/{INFO_PATH}")):
        info = load_info(folder / INFO_PATH)
        camera = next(c for c in DataConfig().cameras if f"observation.images.{c}" in info.video_keys)
        for _, obj in read_jsonl(folder / EPISODES_PATH):
            lines[folder.relative_to(root).as_posix(), int(obj["episode_index"])] = EpisodeLineage.of(obj)
            x = rng.normal(size=(int(obj["length"]), HIDDEN)).astype(np.float32)
            write_latents(folder, int(obj["episode_index"]), x, w, camera=camera)
        write_texts(folder, skip=set())
    rebuild_catalog(Corpus(root))
    manifest = curate(root, MANIFEST, "true", val_fraction=0.0)
    return SimpleNamespace(
        root=root, tmp=tmp, raw=raw_roots, manifest=manifest, lines=lines, acme_gripper=recorded_gripper
    )
