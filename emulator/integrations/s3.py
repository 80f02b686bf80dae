"""S3 through `arn:aws:states:::aws-sdk:s3:<action>`, on the local object store.

Requests and results use the SDK's PascalCase shapes (Bucket, Key, Body, ETag, Contents, ...);
object store errors become `S3.<Code>Exception`, as Step Functions names SDK errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from emulator.backends.objectstore import ObjectInfo, ObjectStore, S3Error
from emulator.errors import StatesError
from emulator.integrations.registry import Handler, Registry, Resource, backend_handler, register

Action = Callable[[ObjectStore, dict[str, Any]], Any]


def _error(code: str, message: str, status: int = 400) -> StatesError:
    return StatesError(f"S3.{code}Exception",
                       f"{message} (Service: S3, Status Code: {status}, Error Code: {code})")


def _timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _required(params: dict[str, Any], *names: str) -> list[Any]:
    missing = [n for n in names if params.get(n) in (None, "")]
    if missing:
        raise _error("S3", f"The request is missing the required parameter(s): {', '.join(missing)}")
    return [params[n] for n in names]


def _body(value: Any) -> bytes:
    """Body as Step Functions sends it: a string as is, any other JSON value serialised."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _head_shape(info: ObjectInfo) -> dict[str, Any]:
    return {"AcceptRanges": "bytes", "ContentLength": info.size, "ContentType": info.content_type,
            "ETag": info.etag, "LastModified": _timestamp(info.last_modified), "Metadata": info.metadata}


def put_object(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = _required(params, "Bucket", "Key")
    info = store.put(bucket, key, _body(params.get("Body", "")), params.get("ContentType"), params.get("Metadata"))
    return {"ETag": info.etag}


def get_object(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = _required(params, "Bucket", "Key")
    body, info = store.get(bucket, key)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _error("S3", f"Object '{key}' is not UTF-8 text; Step Functions returns Body as a string") from None
    return {"Body": text, **_head_shape(info)}


def head_object(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = _required(params, "Bucket", "Key")
    return _head_shape(store.head(bucket, key))


def list_objects_v2(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    (bucket,) = _required(params, "Bucket")
    prefix = params.get("Prefix") or ""
    requested = params.get("MaxKeys")
    max_keys = 1000 if requested is None else max(0, min(int(requested), 1000))  # at most 1,000 keys a page
    listing = store.list(bucket, prefix, params.get("Delimiter"), max_keys, params.get("ContinuationToken"),
                         params.get("StartAfter"))
    out: dict[str, Any] = {
        "Contents": [{"ETag": o.etag, "Key": o.key, "LastModified": _timestamp(o.last_modified), "Size": o.size,
                      "StorageClass": "STANDARD"} for o in listing.objects],
        "IsTruncated": listing.is_truncated,
        "KeyCount": len(listing.objects) + len(listing.common_prefixes),
        "MaxKeys": max_keys,
        "Name": bucket,
        "Prefix": prefix,
    }
    if listing.common_prefixes:
        out["CommonPrefixes"] = [{"Prefix": p} for p in listing.common_prefixes]
    if params.get("Delimiter"):
        out["Delimiter"] = params["Delimiter"]
    if listing.next_token:
        out["NextContinuationToken"] = listing.next_token
    return out


def copy_object(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key, source = _required(params, "Bucket", "Key", "CopySource")
    # CopySource is "bucket/key", URL-encoded, optionally with "?versionId=...".
    src_bucket, _, src_key = unquote(source.partition("?")[0].lstrip("/")).partition("/")
    info = store.copy(src_bucket, src_key, bucket, key)
    return {"CopyObjectResult": {"ETag": info.etag, "LastModified": _timestamp(info.last_modified)}}


def delete_object(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = _required(params, "Bucket", "Key")
    store.delete(bucket, key)
    return {}


ACTIONS: dict[str, Action] = {
    "putObject": put_object,
    "getObject": get_object,
    "headObject": head_object,
    "listObjectsV2": list_objects_v2,
    "copyObject": copy_object,
    "deleteObject": delete_object,
}


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    action = ACTIONS.get(resource.action)
    if action is None:
        return None
    return backend_handler(action, lambda: registry.backends.object_store, S3Error,
                           lambda e: _error(e.code, e.message, 404 if e.code.startswith("NoSuch") else 400))


register("aws-sdk:s3", _factory)
