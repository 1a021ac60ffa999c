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
