"""Where a dataset lives (schemas/storage.py): which URLs are remote, and object-store options whose secret never
leaves the process in a dump, a repr or a spec written back."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from schemas.storage import StorageOptions, is_remote, protocol_of


@pytest.mark.parametrize(
    ("url", "protocol", "remote"),
    [
        ("s3://bucket/prefix/ds", "s3", True),
        ("S3://Bucket/x", "s3", True),
        ("gs://b/k", "gs", True),
        ("hf://datasets/lerobot/pusht", "hf", True),
        ("file:///data/corpus", "file", False),
        ("local://data", "local", False),
        ("/data/corpus", "file", False),
        ("relative/dir", "file", False),
        ("C:/data", "file", False),
    ],
)
def test_protocol_and_remoteness(url: str, protocol: str, remote: bool) -> None:
    assert protocol_of(url) == protocol and is_remote(url) is remote


def test_the_secret_is_never_dumped() -> None:
    options = StorageOptions(
        endpoint_url="http://127.0.0.1:9000", access_key_id="AKIA-test", secret_access_key="s3cr3t!"
    )
    assert options.secret_access_key is not None and options.secret_access_key.get_secret_value() == "s3cr3t!"
    for text in (options.model_dump_json(), json.dumps(options.model_dump(mode="json")), repr(options), str(options)):
        assert "s3cr3t!" not in text
    assert options.model_dump()["secret_access_key"] == "**********"  # it says a secret was given
    assert StorageOptions().model_dump()["secret_access_key"] is None


def test_unknown_options_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as err:
        StorageOptions(endpoint="http://x")  # type: ignore[call-arg]
    assert [(e["loc"], e["type"]) for e in err.value.errors()] == [(("endpoint",), "extra_forbidden")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("multipart_part_size", (5 << 20) - 1),  # S3's smallest part is 5 MiB
        ("multipart_part_size", (5 << 30) + 1),  # and its largest 5 GiB
        ("multipart_threshold", (5 << 30) + 1),  # one PUT carries at most 5 GiB
        ("multipart_concurrency", 0),
    ],
)
def test_multipart_sizes_s3_refuses_are_refused_by_field(field: str, value: int) -> None:
    with pytest.raises(ValidationError) as err:
        StorageOptions(**{field: value})
    assert [e["loc"] for e in err.value.errors()] == [(field,)]
    assert StorageOptions().multipart_threshold == 128 << 20 and StorageOptions().multipart_part_size == 64 << 20
