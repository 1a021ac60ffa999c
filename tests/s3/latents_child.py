"""`eidata latents` on a bucket corpus for the kill tests (tests/s3/test_latents_bucket.py), SIGKILLing its own driver
at the point `--kill` names (the test then kills the process group: the embedded Ray dies with it):

- `local`: the first batch of files written in the scratch, nothing of it published;
- `object`: the first latents object put at its final key, its record not written;
- `record`: the first derived commit record put, the local files not yet dropped;
- `end`: every record put, the stage's end (meta, catalog, job folder) cut at its first put.

Credentials and endpoint come from the AWS_* environment, the lease's ttl from the settings (schemas.settings)."""

from __future__ import annotations

import argparse
from pathlib import Path

from adapters.storage import multipart, objects
from adapters.storage import root as root_module
from adapters.storage.object_store import ObjectStore
from ingest.encoders.dinov3.model import EncoderSpec
from jobs.stages.latents import LatentsJob, LatentsStage
from tests.s3.publish_child import die, die_after


def latents_job(root: Path | str, model_dir: Path) -> LatentsJob:
    """The job of the tests: every camera, batches of 5 frames, calls of about 8 frames (several records a run)."""
    encoder = EncoderSpec(model=str(model_dir), batch_size=5)
    return LatentsJob(root=root, encoder=encoder, camera="all", frames_per_call=8, num_cpus=2)


def arm(point: str) -> None:
    """Patch the one call after (or before) which this driver dies."""
    if point == "local":
        real = ObjectStore.publish_files

        def publish_or_die(self: ObjectStore, paths: object, what: str) -> int:
            files = list(paths)  # type: ignore[call-overload]
            if files:
                die()
            return real(self, files, what)

        ObjectStore.publish_files = publish_or_die  # type: ignore[method-assign]
    if point == "object":
        die_after(multipart, "put_if_absent", lambda key: "/latents/" in key)
    if point == "record":
        die_after(root_module, "put_if_absent", lambda key: "/.eidata/commits/" in key)  # Root.create
    if point == "end":
        die_after(objects, "put", lambda key: "/datasets/" not in key)  # the first put of catalog/ or job/


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("model", type=Path)
    ap.add_argument("--kill", default="")
    a = ap.parse_args()
    arm(a.kill)
    LatentsStage(latents_job(a.url, a.model)).run(progress=False)


if __name__ == "__main__":
    main()
