"""A gs:// root checked before any work, against the GCS emulator: a missing bucket, an empty prefix, a key file that
does not load and a key its token endpoint refuses are each one clear error naming the URL, the endpoint and the
cause, never the key; the environment alone (STORAGE_EMULATOR_HOST, GOOGLE_APPLICATION_CREDENTIALS) decides when the
spec gives no option, as gcsfs and google-auth read it."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import gcsfs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.storage.location import locate
from adapters.storage.urls import filesystem, preflight
from jobs.spec import SpecError, dump_spec, load_spec
from schemas.storage import StorageError, StorageOptions
from tests.gcs.server import GcsServer


@pytest.fixture
def root(gcs: GcsServer, prefix: str) -> str:
    fs, _ = filesystem("gs://", gcs.options())
    fs.pipe_file(f"raw/{prefix}/bridge/dataset_info.json", b"{}")
    return f"gs://raw/{prefix}/bridge"


@pytest.fixture
def fresh_gcsfs() -> Iterator[None]:
    """gcsfs instances are cached by their arguments, not by the environment they read: none kept across a change."""
    gcsfs.GCSFileSystem.clear_instance_cache()
    yield
    gcsfs.GCSFileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def refused_key(gcs: GcsServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A well-formed service-account key (a fresh RSA key, the fields Google's key files carry) whose token endpoint
    refuses it: the emulator, which serves no OAuth endpoint, answers the token request with an error status."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "eidata-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "reader@eidata-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{gcs.endpoint}/token",
    }
    path = tmp_path_factory.mktemp("key") / "key.json"
    path.write_text(json.dumps(info))
    return path, pem.splitlines()[1]  # a line of the private key, to look for in every message


def test_preflight_accepts_a_prefix_an_object_and_a_bucket(gcs: GcsServer, root: str) -> None:
    for url in (root, f"{root}/dataset_info.json", "gs://raw"):
        preflight(url, gcs.options())


@pytest.mark.parametrize(
    ("url", "cause"),
    [("gs://no-such-bucket/x", "bucket 'no-such-bucket' does not exist"), ("{root}-missing", "nothing under")],
)
def test_preflight_names_a_missing_bucket_or_prefix(gcs: GcsServer, root: str, url: str, cause: str) -> None:
    url = url.format(root=root)
    with pytest.raises(StorageError, match=cause) as e:
        preflight(url, gcs.options())
    assert str(e.value).startswith(f"{url} (endpoint {gcs.endpoint})")


def test_a_refused_key_fails_before_work_without_showing_it(
    gcs: GcsServer, root: str, refused_key: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, fresh_gcsfs: None
) -> None:
    path, secret_line = refused_key
    with pytest.raises(StorageError, match="credential refused") as by_option:
        preflight(root, StorageOptions(endpoint_url=gcs.endpoint, google_credentials=str(path)))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))  # the standard variable, no option
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.endpoint)
    with pytest.raises(StorageError, match="credential refused") as by_env:
        preflight(root)
    for e in (by_option, by_env):
        assert str(e.value).startswith(f"{root} (endpoint {gcs.endpoint})") and secret_line not in str(e.value)


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        ("not json", "is not a JSON key file"),
        ('{"type": "service_account"}', "missing fields"),
        (None, "was not found"),
    ],
)
def test_a_key_file_that_does_not_load_is_named(
    gcs: GcsServer, root: str, tmp_path: Path, content: str | None, cause: str
) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(StorageError, match=f"credential unusable .*{path}.*{cause}"):
        preflight(root, StorageOptions(endpoint_url=gcs.endpoint, google_credentials=str(path)))
    # read without a preflight, a missing key file is refused too, never sent as a raw access token (gcsfs would)
    if content is None:
        with pytest.raises(StorageError, match="no such key file"):
            locate(root, StorageOptions(endpoint_url=gcs.endpoint, google_credentials=str(path)))


def test_the_environment_alone_reaches_the_emulator(
    gcs: GcsServer, root: str, monkeypatch: pytest.MonkeyPatch, fresh_gcsfs: None
) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.endpoint.removeprefix("http://"))  # host:port, as gcloud sets it
    preflight(root)
    assert (locate(root) / "dataset_info.json").read_text() == "{}"


def _spec(folder: Path, root: str, storage: str) -> Path:
    path = folder / "spec.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        output: corpus
        sources:
          - name: bridge
            adapter: oxe
            root: {root}
            storage:
        """)
        + textwrap.indent(storage, "      ")
    )
    return path


def test_a_gs_root_in_a_spec(gcs: GcsServer, root: str, tmp_path: Path, refused_key: tuple[Path, str]) -> None:
    spec = load_spec(_spec(tmp_path, root + "/", f"endpoint_url: {gcs.endpoint}\nanon: true\n"))
    assert spec.sources[0].root == root and spec.sources[0].storage is not None
    assert root in dump_spec(spec)
    for storage, cause in (
        (f"endpoint_url: {gcs.endpoint}\nanon: true\n", "nothing under"),
        (f"endpoint_url: {gcs.endpoint}\ngoogle_credentials: {refused_key[0]}\n", "credential refused"),
    ):
        url = root if cause == "credential refused" else f"{root}-missing"
        with pytest.raises(SpecError) as info:
            load_spec(_spec(tmp_path, url, storage))
        [issue] = info.value.errors
        assert (issue.loc, issue.line) == ("sources[0].root", 5) and url in issue.message and cause in issue.message
        assert refused_key[1] not in str(info.value)
