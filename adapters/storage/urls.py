"""A root URL to an fsspec filesystem and a path in it, with credentials the standard way, checked before work starts.

For S3 (s3fs over botocore), unset options leave the choice to botocore: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_PROFILE and ~/.aws/{config,credentials}. Nothing here logs or formats a
secret; errors name the URL, the endpoint and the cause, never the key.
"""

from __future__ import annotations

import os
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from schemas.storage import StorageOptions, is_remote, protocol_of


class StorageError(OSError):
    """A root or output that cannot be used: wrong credential, missing bucket or prefix, unreachable endpoint."""


def endpoint_of(options: StorageOptions | None) -> str | None:
    """The S3 endpoint in force: the option, else botocore's service-specific then global variable."""
    if options is not None and options.endpoint_url:
        return options.endpoint_url
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


def fs_kwargs(protocol: str, options: StorageOptions | None) -> dict[str, Any]:
    """The filesystem's constructor arguments; only the options set, so the rest stays botocore's default chain."""
    o = options or StorageOptions()
    if protocol not in ("s3", "s3a"):
        return {"token": "anon"} if o.anon and protocol in ("gs", "gcs") else {}
    kw: dict[str, Any] = {}
    if o.anon:
        kw["anon"] = True
    if o.access_key_id:
        kw["key"] = o.access_key_id
    if o.secret_access_key is not None:
        kw["secret"] = o.secret_access_key.get_secret_value()
    if o.profile:
        kw["profile"] = o.profile
    endpoint = endpoint_of(o)
    if endpoint:
        kw["endpoint_url"] = endpoint
    if o.region:
        kw["client_kwargs"] = {"region_name": o.region}
    return kw


def filesystem(url: str, options: StorageOptions | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, path inside it) for a URL or a local path; the path has no protocol and no trailing slash."""
    url = str(url)
    protocol = protocol_of(url)
    if not is_remote(url):
        path = url.split("://", 1)[1] if "://" in url else url
        return LocalFileSystem(), os.path.abspath(os.path.expanduser(path))
    cls = fsspec.get_filesystem_class(protocol)
    fs = cls(**fs_kwargs(protocol, options))
    return fs, cls._strip_protocol(url).rstrip("/")


def bucket_of(path: str) -> str:
    return path.split("/", 1)[0]


def preflight(url: str, options: StorageOptions | None = None, *, write: bool = False) -> None:
    """Fail before any work when `url` cannot be used: a read root must exist (a bucket, a prefix with objects, or a
    file); an output's bucket must exist and accept our credential. Raises StorageError naming the URL and the cause."""
    fs, path = filesystem(url, options)
    where = f"{url}" + (f" (endpoint {endpoint_of(options)})" if protocol_of(url) in ("s3", "s3a") else "")
    try:
        if not is_remote(url):
            if not write and not os.path.exists(path):
                raise StorageError(f"{where}: no such file or folder")
            return
        bucket = bucket_of(path)
        if protocol_of(url) in ("s3", "s3a"):
            fs.call_s3("head_bucket", Bucket=bucket)  # 403: credential refused; 404: no bucket
        elif not fs.exists(bucket):
            raise StorageError(f"{where}: bucket {bucket!r} does not exist")
        if not write and path != bucket and not fs.exists(path):
            raise StorageError(f"{where}: nothing under {path!r} in bucket {bucket!r}")
    except StorageError:
        raise
    except PermissionError as e:
        raise StorageError(f"{where}: credential refused ({_cause(e)})") from None
    except FileNotFoundError as e:
        raise StorageError(f"{where}: bucket {bucket_of(path)!r} does not exist ({_cause(e)})") from None
    except OSError as e:
        raise StorageError(f"{where}: {_cause(e)}") from None
    except Exception as e:  # botocore's NoCredentialsError, EndpointConnectionError: not OSErrors
        raise StorageError(f"{where}: {type(e).__name__}: {_cause(e)}") from None


def _cause(e: BaseException) -> str:
    return str(e).splitlines()[0][:300] if str(e) else type(e).__name__
