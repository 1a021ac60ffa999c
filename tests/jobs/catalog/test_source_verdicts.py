"""A source's default tier is a verdict with its code, overruled by `eidata curate --include-verdict` like any other
(issue 77 item 3; review 8, 1.5 caveat 1: OXE's low default for a dataset in no table and the actionless default of
the video sources were defaults, so `--include-verdict source_default` raised nothing). On real samples: the Bridge
debug set read as a dataset in no table, and the Ego4D clip of VITRA's example read as a plain video. Each episode's
tier is what the old fold gave (its source's default lowered by its other verdicts); overruled, its other verdicts'."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from adapters.lerobot_format.files import read_jsonl
from adapters.registry import get_adapter
from adapters.storage.corpus import Corpus
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.curate import curate
from jobs.catalog.manifest_read import entries_file
from jobs.catalog.overrule import VerdictChoice
from schemas.canonicalize import CanonicalizeSpec, ValidityConfig
from schemas.corpus import EpisodeLineage, dataset_dir
from schemas.image_size import ImageSpec
from schemas.lerobot import EPISODES_PATH
from schemas.tiers import QualityTier, tier_of
from tests.fixtures.corpus import tier_now
from tests.ingest.qa.planted_raw import ingest
from tests.realdata import realdata

UNKNOWN = "my_widowx_set"  # in no OXE table


def _unknown_bridge(tmp: Path) -> Path:
    """The real Bridge debug builder under a name no table has (its dataset_info.json name and shard names)."""
    src = realdata("octo_bridge_debug_rlds") / "bridge_dataset/1.0.0"
    out = tmp / "oxe" / UNKNOWN / "1.0.0"
    out.mkdir(parents=True)
    for f in src.iterdir():
        shutil.copyfile(f, out / f.name.replace("bridge_dataset", UNKNOWN))
    info = json.loads((out / "dataset_info.json").read_text())
    (out / "dataset_info.json").write_text(json.dumps(info | {"name": UNKNOWN}))
    return tmp / "oxe"


def _video_folder(tmp: Path) -> Path:
    out = tmp / "video"
    out.mkdir()
    shutil.copyfile(
        realdata("vitra_ego4d_example") / "videos/03cc49c3-a7d1-445b-9a2a-545c4fae6843.mp4", out / "clip.mp4"
    )
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, QualityTier]]:
    """The corpus, and each episode's tier as the old fold gives it: its raw episode's default tier (the adapter's)
    lowered by its verdicts other than the default's own."""
    tmp = tmp_path_factory.mktemp("source_verdicts")
    # the Ego4D clip is 0.8 s (8 frames at 10 Hz): kept, as VITRA's own episode of it is
    spec = CanonicalizeSpec(image=ImageSpec(size="32x32"), validity=ValidityConfig(min_length_frames=1))
    root, before = tmp / "corpus", {}
    oxe, video = get_adapter("oxe"), get_adapter("ego_video", {"layout": "folder", "min_duration_s": 0.5})
    raws = [oxe.read(r) for r in oxe.discover(_unknown_bridge(tmp)) if r.error is None][:2]
    raws += [video.read(r) for r in video.discover(_video_folder(tmp))]
    assert len(raws) >= 2
    for raw in raws:
        kept, why = ingest(raw, spec, root / dataset_dir(raw.ref.source, raw.ref.subset))
        assert kept, (raw.ref.source, why)
        for ep in kept:
            others = [v for v in ep.verdicts if v.code not in ("source_default", "source_no_action")]
            old_default = QualityTier.low if raw.ref.source == "oxe" else QualityTier.actionless
            before[ep.uid] = tier_of(old_default, others)
    rebuild_catalog(Corpus(root))
    return root, before


def _tiers(root: Path, name: str, **kw: object) -> dict[str, str]:
    out = Path(curate(root, name, "true", val_fraction=0.0, **kw))  # type: ignore[arg-type]
    return {e["episode_uid"]: e["tier"] for e in pq.read_table(entries_file(out)).to_pylist()}


def test_a_source_default_is_a_verdict_a_curator_overrules_by_its_code(
    corpus: tuple[Path, dict[str, QualityTier]],
) -> None:
    root, before = corpus
    # the Bridge episodes: the table's low default overruled, their tier is their other verdicts' (here high)
    raised = _tiers(root, "raised", verdicts=VerdictChoice(include=("source_default",)))
    assert {raised[u] for u in raised if u.startswith("oxe/")} == {"high"}
    lineages = {
        (lin := EpisodeLineage.of(line)).episode_uid: lin
        for folder in root.glob("datasets/*/*")
        for _, line in read_jsonl(folder / EPISODES_PATH)
    }
    assert set(lineages) == set(before) and {u.split("/")[0] for u in lineages} == {"oxe", "ego_video"}
    for uid, lin in lineages.items():
        default = next(v for v in lin.tier_verdicts or [] if v.code in ("source_default", "source_no_action"))
        want = QualityTier.low if uid.startswith("oxe/") else QualityTier.actionless
        assert default.tier is want and lin.default_tier is QualityTier.high, uid
        assert lin.tier is before[uid], uid  # the tier the default gave before it was a verdict
    assert {u: QualityTier(t) for u, t in _tiers(root, "as_judged").items()} == before
    for uid, tier in raised.items():
        assert tier == tier_now(lineages[uid], overrule=("source_default",)).value, uid
    # the video: no action, so the judging's own verdict (quality_no_action) keeps it actionless without its default
    video = _tiers(root, "video", verdicts=VerdictChoice(include=("source_no_action",)))
    assert {video[u] for u in video if u.startswith("ego_video/")} == {"actionless"}
    both = VerdictChoice(include=("source_no_action", "quality_no_action"))
    assert {t for u, t in _tiers(root, "both", verdicts=both).items() if u.startswith("ego_video/")} == {"high"}
