"""The LingBot-VA export's `--out s3://bucket/prefix` (`jobs.export.lingbot.job`): the export runs unchanged in the
output's scratch folder, and each dataset, once its meta is written there, is published by `ingest.storage.tree`
(its files at their final keys with `If-None-Match`, `info.json` then the completion record last). The settings record
and `empty_emb.pt` go to the output's top before any dataset's file. A rerun reads the bucket's settings record first
(other settings are refused, as on a local output), keeps every dataset whose completion record matches (a fingerprint
of the settings, the cameras and the source's meta: nothing of it is fetched or encoded again), and exports the others
again over what a killed run left."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest.storage.tree import MARKER, BucketTree, export_target
from jobs.export.bucket_source import source_identity
from jobs.export.lingbot.plan import EMPTY_EMB, FORMAT, SETTINGS_PATH, DatasetPlan, LingbotExportSpec, portable
from schemas.lerobot import EPISODES_PATH, EPISODES_STATS_PATH, INFO_PATH, TASKS_PATH
from schemas.storage import StorageOptions, is_remote


@contextmanager
def bucket_target(out: Path | str, storage: StorageOptions | None, dry_run: bool) -> Iterator[BucketTree | None]:
    """A bucket --out under its lease (a dry run only reads it: no lease), else None."""
    if not is_remote(str(out)):
        yield None
    elif dry_run:
        yield BucketTree(str(out), storage, job=f"export-{FORMAT}")
    else:
        with export_target(out, storage, f"export-{FORMAT}") as target:
            yield target


class Published:
    """What a bucket --out holds of this export: the settings record and `EMPTY_EMB` at its top, and per dataset a
    completion record (`MARKER`: a fingerprint of the settings, the cameras and the source's meta) put after the
    dataset's files (`ingest.storage.tree`); a dataset whose record matches is not exported again."""

    def __init__(self, target: BucketTree, spec: LingbotExportSpec, settings: dict[str, Any]) -> None:
        self.target, self.out = target, spec.out
        self.base = json.dumps({"settings": portable(settings), "cameras": spec.cameras}, sort_keys=True)

    def hydrate(self) -> None:
        """The bucket's settings record into the scratch, so that `check_settings` refuses other settings, and its
        `EMPTY_EMB`, so that a run with nothing left to encode loads no model."""
        for rel in (SETTINGS_PATH, EMPTY_EMB):
            data = self.target.read(rel)
            if data is not None:
                (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
                (self.out / rel).write_bytes(data)

    def fingerprint(self, plan: DatasetPlan) -> str:
        meta = (INFO_PATH, EPISODES_PATH, TASKS_PATH, EPISODES_STATS_PATH)
        return hashlib.sha256((self.base + source_identity(plan.src, meta)).encode()).hexdigest()

    def complete(self, plan: DatasetPlan) -> bool:
        record = self.target.read(f"{plan.rel}/{MARKER}")
        return record is not None and json.loads(record).get("fingerprint") == self.fingerprint(plan)

    def top(self) -> None:
        for rel in (SETTINGS_PATH, EMPTY_EMB):  # the settings before any dataset's file
            if (self.out / rel).exists():
                self.target.put_file("", self.out / rel, drop=False)

    def dataset(self, plan: DatasetPlan) -> None:
        """Publish a dataset whose meta was just written in the scratch, its completion record last."""
        self.top()
        self.target.begin(plan.rel, retract=[MARKER, INFO_PATH])
        record = {"fingerprint": self.fingerprint(plan)}
        (plan.out / MARKER).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        self.target.finish(plan.rel, last=[INFO_PATH, MARKER])
