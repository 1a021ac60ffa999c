"""s3fs's filesystem with every request watched (`stalls.watched`), made by `urls.filesystem` for s3:// and s3a://.

Every request of s3fs, through its `_call_s3` or a paginator (listings: s3fs/core.py `_iterdir`), is one call of the
aiobotocore client's `_make_api_call` (aiobotocore/client.py), botocore's own retries inside it; the client s3fs
makes in `set_session` gets that method watched on the instance. s3fs's retries around a call (`_error_wrapper`) do not
retry `StoreStalledError`, so one request waits at most the deadline. The wait for a response's body after its
headers came is left to botocore's read timeout.
"""

from __future__ import annotations

from typing import Any

from fsspec.asyn import sync_wrapper
from s3fs import S3FileSystem

from adapters.storage.stalls import watched

_WATCHED = "_eidata_watched"


class WatchedS3FileSystem(S3FileSystem):
    async def set_session(self, refresh: bool = False, kwargs: dict[str, Any] | None = None) -> Any:
        client = await super().set_session(refresh, kwargs or {})
        if not getattr(client, _WATCHED, False):
            call = client._make_api_call
            endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None)

            async def watched_call(operation_name: str, api_params: dict[str, Any]) -> Any:
                return await watched(call(operation_name, api_params), _request(operation_name, api_params, endpoint))

            client._make_api_call = watched_call
            setattr(client, _WATCHED, True)
        return client

    connect = sync_wrapper(set_session)


def _request(operation: str, params: dict[str, Any], endpoint: str | None) -> str:
    """`operation s3://bucket/key (endpoint ...)`: never a body or a credential."""
    key = params.get("Key", params.get("Prefix", ""))
    where = f"s3://{params.get('Bucket', '')}/{key}".rstrip("/")
    return f"{operation} {where}" + (f" (endpoint {endpoint})" if endpoint else "")


# one instance cache with s3fs's (fsspec's `_Cached` gives each class its own; the token names the class, so the two
# never collide): `S3FileSystem.clear_instance_cache()`, the documented way to drop instances that read the
# environment's credential when they were made, drops these too
WatchedS3FileSystem._cache = S3FileSystem._cache
