"""Where a dataset lives when it is not a local path: the URL contract and the credentials a job may carry.

A `root:` or `output:` is a path or an fsspec URL (`s3://bucket/prefix`, `gs://`, `hf://`, `file://`). Credentials come
the standard way (the AWS environment variables and config files, read by botocore itself) or from `StorageOptions`, a
spec option; the secret is a `SecretStr`, so it is never printed, never dumped into a spec, lineage, log or report.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer

LOCAL_PROTOCOLS = ("file", "local")


def protocol_of(url: str) -> str:
    """`s3` for `s3://b/k`, `file` for a plain path or `file://`."""
    head, sep, _ = str(url).partition("://")
    return head.lower() if sep else "file"


def is_remote(url: str) -> bool:
    return protocol_of(url) not in LOCAL_PROTOCOLS


class StorageOptions(BaseModel):
    """Object-store options of a job; every field unset means: the environment decides (AWS_* variables, ~/.aws)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint (else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)"
    )
    access_key_id: str | None = Field(None, description="access key id (else AWS_ACCESS_KEY_ID or the profile)")
    secret_access_key: SecretStr | None = Field(None, description="secret key; never printed nor serialised")
    region: str | None = Field(None, description="region (else AWS_REGION / the profile)")
    profile: str | None = Field(None, description="a profile of the AWS config files")
    anon: bool = Field(False, description="unsigned requests (public buckets)")

    @field_serializer("secret_access_key")
    def _never_dump_secret(self, v: SecretStr | None) -> str | None:
        # a dumped spec or lineage says a secret was given, never what it is
        return None if v is None else "**********"
