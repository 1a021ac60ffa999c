"""A job spec's `root:` as an s3:// URL: checked before any work (a wrong credential, a missing bucket or an empty
prefix is one issue at `sources[i].root`, naming the URL, never the secret), its `storage:` options registered for
the adapters in this process and in any process the spec is pickled to (a Ray worker), and the secret never dumped."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from adapters.storage.urls import filesystem
from jobs.spec import SpecError, dump_spec, load_spec
from tests.s3.server import SECRET_KEY, S3Server


def _spec(folder: Path, root: str, s3: S3Server, secret: str = SECRET_KEY) -> Path:
    path = folder / "spec.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        output: corpus
        sources:
          - name: bridge
            adapter: oxe
            root: {root}
            storage:
              endpoint_url: {s3.endpoint}
              access_key_id: {s3.access_key}
              secret_access_key: {secret}
        """)
    )
    return path


@pytest.fixture
def root(s3: S3Server, prefix: str) -> str:
    fs, _ = filesystem("s3://", s3.options())
    fs.pipe_file(f"raw/{prefix}/bridge/dataset_info.json", b"{}")
    return f"s3://raw/{prefix}/bridge"


def test_url_root_validates_carries_its_options_and_never_dumps_the_secret(
    s3: S3Server, root: str, tmp_path: Path
) -> None:
    spec = load_spec(_spec(tmp_path, root + "/", s3))
    source = spec.sources[0]
    assert source.root == root  # kept as the URL, trailing slash dropped
    clone = pickle.loads(pickle.dumps(source))  # what a Ray worker receives: the options ride on the spec
    assert clone.storage == source.storage and clone.storage is not None
    assert clone.storage.secret_access_key is not None
    assert clone.storage.secret_access_key.get_secret_value() == SECRET_KEY
    dumped = dump_spec(spec)  # what the corpus records as job/spec.yaml
    assert SECRET_KEY not in dumped and root in dumped and "**********" in dumped


@pytest.mark.parametrize(
    ("where", "secret", "cause"),
    [
        ("{root}", "wrong-secret", "credential refused"),
        ("s3://no-such-bucket/x", SECRET_KEY, "bucket 'no-such-bucket' does not exist"),
        ("{root}-missing", SECRET_KEY, "nothing under"),
    ],
)
def test_bad_url_root_is_one_issue_at_the_root(
    s3: S3Server, root: str, tmp_path: Path, where: str, secret: str, cause: str
) -> None:
    url = where.format(root=root)
    with pytest.raises(SpecError) as info:
        load_spec(_spec(tmp_path, url, s3, secret))
    [issue] = info.value.errors
    assert (issue.loc, issue.line) == ("sources[0].root", 5)
    assert url in issue.message and cause in issue.message and s3.endpoint in issue.message
    assert SECRET_KEY not in str(info.value)
