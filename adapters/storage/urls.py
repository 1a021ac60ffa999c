"""A root URL to an fsspec filesystem and a path in it, with credentials the standard way, checked before work starts.

S3 (s3fs over botocore): unset options leave the choice to botocore (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_PROFILE, ~/.aws/{config,credentials}). GCS (gcsfs over google-auth): a
key file named by the option, else GOOGLE_APPLICATION_CREDENTIALS, else gcsfs's own chain; the endpoint is the option,
else STORAGE_EMULATOR_HOST. Nothing here logs or formats a secret; errors name the URL, the endpoint and the cause.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from typing import Any

import fsspec
import fsspec.asyn
from fsspec.implementations.local import LocalFileSystem

from adapters.storage.objects import put_if_absent, split_key
from adapters.storage.stalls import StoreStalledError
from schemas.storage import StorageError, StorageOptions, is_remote, protocol_of

# fsspec's async filesystems (s3fs, gcsfs) run on one event loop in a thread of the process that made it; a forked
# parse process (adapters.hostile.sandbox) has no such thread, and its first call on an object store waited on that loop
# forever (tests/s3, an ingest's discovery from a bucket). Forgotten in the child, a new loop is made there
# (fsspec.asyn.reset_lock: "called only on the init of a forked process"); filesystems are cached per process.
os.register_at_fork(after_in_child=fsspec.asyn.reset_lock)

# every s3:// filesystem of this process, ours or one a library makes through fsspec's registry (universal_pathlib's
# UPath, `adapters.storage.location`), is s3fs's with each request watched: a stalled store is said, then deferred
# (`adapters.storage.s3_watched`; registered by name, so s3fs is imported only when a bucket is used)
for _protocol in ("s3", "s3a"):
    fsspec.register_implementation(_protocol, "adapters.storage.s3_watched.WatchedS3FileSystem", clobber=True)


class UnknownScheme(StorageError, ValueError):
    """A URL whose scheme no fsspec filesystem implements."""


def filesystem_class(url: str) -> type[fsspec.AbstractFileSystem]:
    """The fsspec filesystem of the URL's scheme; `UnknownScheme`, the one message, for a scheme none implements."""
    protocol = protocol_of(url)
    try:
        return fsspec.get_filesystem_class(protocol)
    except (ValueError, ImportError) as e:
        raise UnknownScheme(
            f"{url}: unknown storage scheme {protocol}:// (a folder, file://, s3://, gs:// or hf://)"
        ) from e


def endpoint_of(options: StorageOptions | None) -> str | None:
    """The S3 endpoint in force: the option, else botocore's service-specific then global variable."""
    if options is not None and options.endpoint_url:
        return options.endpoint_url
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


def gcs_endpoint(options: StorageOptions | None) -> str | None:
    """The GCS endpoint in force when not Google's: the option, else STORAGE_EMULATOR_HOST (gcsfs/core.py
    `_location` reads it the same way, adding http:// to a bare host:port)."""
    if options is not None and options.endpoint_url:
        return options.endpoint_url
    host = os.environ.get("STORAGE_EMULATOR_HOST", "")
    if host in ("", "default"):
        return None
    return host if host.startswith(("http://", "https://")) else f"http://{host}"


def _gcs_kwargs(o: StorageOptions) -> dict[str, Any]:
    """gcsfs's `token` and `endpoint_url` (gcsfs/core.py GCSFileSystem, gcsfs/credentials.py connect). Left to
    itself, gcsfs tries google_default, its token cache, the metadata server, then anonymous, so a broken
    GOOGLE_APPLICATION_CREDENTIALS silently became anonymous reads: named, it is loaded or fails."""
    kw: dict[str, Any] = {}
    endpoint = gcs_endpoint(o)
    if o.endpoint_url:
        kw["endpoint_url"] = o.endpoint_url
    if o.anon:
        kw["token"] = "anon"
    elif o.google_credentials:
        # gcsfs takes a string that names no file as a raw access token: a mistyped path must not become one
        if not os.path.isfile(o.google_credentials):
            raise StorageError(f"google_credentials: no such key file {o.google_credentials!r}")
        kw["token"] = o.google_credentials
    elif os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        kw["token"] = "google_default"
    elif endpoint:
        # an emulator checks no credential; google-cloud-storage's Client sends anonymous credentials to one too
        # (googleapis/python-storage google/cloud/storage/client.py: STORAGE_EMULATOR_HOST -> AnonymousCredentials)
        kw["token"] = "anon"
    return kw


def fs_kwargs(protocol: str, options: StorageOptions | None) -> dict[str, Any]:
    """The filesystem's constructor arguments; only the options set, so the rest stays botocore's default chain."""
    o = options or StorageOptions()
    if protocol in ("gs", "gcs"):
        return _gcs_kwargs(o)
    if protocol not in ("s3", "s3a"):
        return {}
    kw = {
        "anon": True if o.anon else None,
        "key": o.access_key_id or None,
        "secret": None if o.secret_access_key is None else o.secret_access_key.get_secret_value(),
        "profile": o.profile or None,
        "endpoint_url": endpoint_of(o) or None,
        "client_kwargs": {"region_name": o.region} if o.region else None,
    }
    return {k: v for k, v in kw.items() if v is not None}


def filesystem(url: str, options: StorageOptions | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, path inside it) for a URL or a local path; the path has no protocol and no trailing slash."""
    url = str(url)
    protocol = protocol_of(url)
    if not is_remote(url):
        path = url.split("://", 1)[1] if "://" in url else url
        return LocalFileSystem(), os.path.abspath(os.path.expanduser(path))
    cls = filesystem_class(url)
    fs = cls(**fs_kwargs(protocol, options))
    return fs, cls._strip_protocol(url).rstrip("/")


def preflight(url: str, options: StorageOptions | None = None, *, write: bool = False) -> None:
    """Fail before any work when `url` cannot be used: a read root must exist (a bucket, a prefix with objects, or a
    file); an output's (`write`) bucket must exist, accept our credential and, on S3, honour the conditional create.
    Raises StorageError naming the URL and the cause."""
    protocol = protocol_of(url)
    where = _where(url, protocol, options)
    path = url
    try:
        if protocol in ("gs", "gcs"):
            _google_key_loads(options)
        fs, path = filesystem(url, options)
        if not is_remote(url):
            if not write and not os.path.exists(path):
                raise StorageError(f"{where}: no such file or folder")
            return
        bucket = split_key(path)[0]
        if protocol in ("gs", "gcs"):
            _preflight_gcs(fs, path, where, write)
            return
        if protocol not in ("s3", "s3a"):  # hf:// and other fsspec stores: no bucket to ask about, the root answers
            fs.info(path)
            return
        fs.call_s3("head_bucket", Bucket=bucket)  # 403: credential refused; 404: no bucket
        if write:
            _conditional_create_honoured(fs, path, where)
        elif path != bucket and not fs.exists(path):
            raise StorageError(f"{where}: nothing under {path!r} in bucket {bucket!r}")
    except StorageError as e:
        if str(e).startswith(url):
            raise
        raise StorageError(f"{where}: {e}") from None
    except StoreStalledError:  # the store is there but does not answer: the environment's, not a bad root (75)
        raise
    except PermissionError as e:
        raise StorageError(f"{where}: credential refused ({_cause(e)})") from None
    except FileNotFoundError as e:
        if protocol in ("s3", "s3a"):
            raise StorageError(f"{where}: bucket {split_key(path)[0]!r} does not exist ({_cause(e)})") from None
        raise StorageError(f"{where}: nothing at {path!r} ({_cause(e)})") from None
    except OSError as e:
        raise StorageError(f"{where}: {_cause(e)}") from None
    except Exception as e:  # botocore's NoCredentialsError, EndpointConnectionError, google-auth's: not OSErrors
        raise StorageError(f"{where}: {type(e).__name__}: {_cause(e)}") from None


def _conditional_create_honoured(fs: Any, path: str, where: str) -> None:
    """An S3 output's store writes and honours the conditional create the commit protocol stands on (a store that
    ignored `If-None-Match` would let two writers commit the same sequence number, silently)."""
    probe = f"{path}/.eidata/preflight/{uuid.uuid4().hex}"
    try:
        first = put_if_absent(fs, probe, b"probe")
        second = put_if_absent(fs, probe, b"probe again")
    except PermissionError as e:
        raise StorageError(f"{where}: the credential may not write ({e})") from None
    except OSError as e:
        raise StorageError(f"{where}: a test write failed ({e})") from None
    finally:
        with contextlib.suppress(OSError):  # a probe never written is no garbage
            fs.rm_file(probe)
    if not (first and not second):
        raise StorageError(
            f"{where}: the store does not honour conditional writes (If-None-Match), which exactly-once commits need"
        )


def _google_key_loads(options: StorageOptions | None) -> None:
    """The Google key file in force (the option, else GOOGLE_APPLICATION_CREDENTIALS) loads, or a StorageError names
    the file and what is wrong with it, never the key. gcsfs would report a file that is no key as a JSON or KeyError,
    or take a missing one for a raw access token (gcsfs/credentials.py `_connect_token`)."""
    o = options or StorageOptions()
    key = None if o.anon else (o.google_credentials or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
    if not key:
        return
    from google.auth.exceptions import GoogleAuthError
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    try:
        with open(key) as f:
            info = json.load(f)
    except FileNotFoundError:
        raise StorageError(f"credential unusable (key file {key} was not found)") from None
    except (OSError, ValueError) as e:
        raise StorageError(f"credential unusable (key file {key} is not a JSON key file: {_named(e)})") from None
    kind = info.get("type") if isinstance(info, dict) else None
    try:
        # the two kinds gcsfs loads from a file (a service account's key, gcloud's authorized-user file); other types
        # in GOOGLE_APPLICATION_CREDENTIALS (workload identity federation, ...) are google-auth's own to load
        if kind == "service_account":
            service_account.Credentials.from_service_account_info(info)
        elif kind == "authorized_user":
            user_credentials.Credentials.from_authorized_user_info(info)
        elif o.google_credentials:
            raise ValueError(f"type {kind!r}, not a service account's or an authorized user's key")
    except (ValueError, GoogleAuthError) as e:
        raise StorageError(f"credential unusable (key file {key}: {_named(e)})") from None


def _where(url: str, protocol: str, options: StorageOptions | None) -> str:
    if protocol in ("s3", "s3a"):
        return f"{url} (endpoint {endpoint_of(options)})"
    endpoint = gcs_endpoint(options) if protocol in ("gs", "gcs") else None
    return f"{url} (endpoint {endpoint})" if endpoint else url


def _preflight_gcs(fs: Any, path: str, where: str, write: bool) -> None:
    """The credential first, then one listing of the root's prefix: objects.list is what a public bucket grants its
    readers (the bucket's own metadata needs more), and it answers both 'no bucket' (404) and 'refused' (403)."""
    from gcsfs.retry import HttpError
    from google.auth.exceptions import GoogleAuthError

    bucket, _, key = path.partition("/")
    try:
        # a key the token endpoint refuses fails here at once; inside a request gcsfs would retry it six times
        fs.credentials.maybe_refresh()
    except HttpError as e:  # gcsfs/credentials.py maybe_refresh: google-auth's RefreshError as a 401
        cause = e.__cause__ or e
        raise StorageError(f"{where}: credential refused ({_named(cause)})") from None
    except GoogleAuthError as e:
        raise StorageError(f"{where}: credential unusable ({type(e).__name__}: {_cause(e)})") from None
    try:
        page = fs.call("GET", "b/{}/o", bucket, prefix=f"{key}/" if key else None, maxResults=1, json_out=True)
        found = bool(page.get("items") or page.get("prefixes"))
        if not (write or found or not key or fs.isfile(path)):  # a root may be one object
            raise StorageError(f"{where}: nothing under {key!r} in bucket {bucket!r}")
    except FileNotFoundError:
        raise StorageError(f"{where}: bucket {bucket!r} does not exist") from None
    except HttpError as e:
        refused = e.code in (401, 403)
        raise StorageError(f"{where}: {'credential refused' if refused else 'listing failed'} ({_cause(e)})") from None
    except OSError as e:
        if str(e).startswith("Forbidden"):  # gcsfs/retry.py validate_response: a 403 as OSError('Forbidden: ...')
            raise StorageError(f"{where}: credential refused ({_cause(e)})") from None
        raise


def _cause(e: BaseException) -> str:
    return str(e).splitlines()[0][:300] if str(e) else type(e).__name__


def _named(e: BaseException) -> str:
    """`Type: message`, or the type alone when the message is empty."""
    return f"{type(e).__name__}: {_cause(e)}" if str(e) else type(e).__name__
