"""Where a dataset lives when it is not a local path: the URL contract and the credentials a job may carry.

A `root:` or `output:` is a path or an fsspec URL (`s3://bucket/prefix`, `gs://`, `hf://`, `file://`). Credentials come
the standard way (the AWS environment variables and config files, read by botocore itself; for gs://,
GOOGLE_APPLICATION_CREDENTIALS or gcloud's application default credentials, read by google-auth) or from
`StorageOptions`, a spec option; the secret is a `SecretStr`, so it is never printed, never dumped into a spec,
lineage, log or report, and a Google key stays in its file (the option names the file).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_serializer

from schemas.frozen import Frozen

LOCAL_PROTOCOLS = ("file", "local")
MIN_PART_BYTES = 5 << 20  # S3: every part of a multipart upload but the last
MAX_PART_BYTES = 5 << 30  # S3: a part, and a single PUT


def protocol_of(url: str) -> str:
    """`s3` for `s3://b/k`, `file` for a plain path or `file://`."""
    head, sep, _ = str(url).partition("://")
    return head.lower() if sep else "file"


def is_remote(url: str) -> bool:
    return protocol_of(url) not in LOCAL_PROTOCOLS


class StorageOptions(Frozen):
    """Object-store options of a job; every credential field unset means: the environment decides (AWS_* variables,
    ~/.aws). The multipart fields say how an output puts its large objects."""

    endpoint_url: str | None = Field(
        None,
        description="S3-compatible endpoint (else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL); for gs://, a GCS JSON-API"
        " endpoint (else STORAGE_EMULATOR_HOST)",
    )
    access_key_id: str | None = Field(None, description="access key id (else AWS_ACCESS_KEY_ID or the profile)")
    secret_access_key: SecretStr | None = Field(None, description="secret key; never printed nor serialised")
    region: str | None = Field(None, description="region (else AWS_REGION / the profile)")
    profile: str | None = Field(None, description="a profile of the AWS config files")
    anon: bool = Field(False, description="unsigned requests (public buckets)")
    google_credentials: str | None = Field(
        None,
        description="gs://: the path of a JSON key file, a service account's or an authorized user's (else"
        " GOOGLE_APPLICATION_CREDENTIALS, then gcloud's application default credentials)",
    )
    # S3's limits (docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html): a part is 5 MiB to 5 GiB, the last
    # shorter, 10,000 parts at most; one PUT is at most 5 GiB. Larger objects go in parts
    # (adapters/storage/multipart.py)
    multipart_threshold: int = Field(
        128 << 20,
        ge=MIN_PART_BYTES,
        le=MAX_PART_BYTES,
        description="an output object larger than this many bytes is put in parts (multipart upload), not one PUT",
    )
    multipart_part_size: int = Field(
        64 << 20, ge=MIN_PART_BYTES, le=MAX_PART_BYTES, description="bytes per part of a multipart upload"
    )
    multipart_concurrency: int = Field(
        4, ge=1, le=16, description="parts of one object in flight at once, each held in memory"
    )

    @field_serializer("secret_access_key")
    def _never_dump_secret(self, v: SecretStr | None) -> str | None:
        # a dumped spec or lineage says a secret was given, never what it is
        return None if v is None else "**********"


# ---- what the storage room shares with the house: its errors (typed here, raised there) and the names of its files --


class StorageError(OSError):
    """A root or output that cannot be used: wrong credential, missing bucket or prefix, unreachable endpoint."""


class NotACorpus(ValueError):
    """A job that reads a corpus was pointed at a folder or prefix holding no datasets/."""


class CatalogError(RuntimeError):
    """A dataset's meta and files disagree, so its catalog rows cannot be trusted."""


class OutputLeasedError(RuntimeError):
    """Another job holds the output's lease."""


class LockHeldError(RuntimeError):
    """Another process holds a lock file past the wait its taker allowed (`Root.lock`): `pid` its pid ("unknown"
    where nothing says), `holder` who it is as its record says (`pid N (its command, since when)`)."""

    def __init__(self, path: object, pid: str, holder: str) -> None:
        self.path, self.pid, self.holder = path, pid, holder
        super().__init__(f"{path}: held by {holder}")


class SourceVanishedError(OSError):
    """The source went away under a reader (`vanished`'s cause): the environment's by its class name (`faults.toml`)."""


class DryRunWriteError(RuntimeError):
    """Something asked a dry run's output to change (a bug of the command: its plan must go through `fill`)."""


MARKER = ".eidata-export.json"  # an exported tree's completion record, written last (a local --out's too)
SOURCE_KEY = "source"  # in it: the corpus dataset the export was made from (its absolute path, or its URL)
STATE_DIR = ".eidata"  # an output's or a dataset's own state (lease, records, claims): never part of its data
EVENT = "eidata.open"  # the audit event of an open: (the file's path or URL, whether the library failed inside)
