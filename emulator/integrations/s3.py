"""S3 through `arn:aws:states:::aws-sdk:s3:<action>`, on the local object store.

Requests and results use the SDK's PascalCase shapes (Bucket, Key, Body, ETag, Contents, ...);
object store errors become `S3.<Code>Exception`, as Step Functions names SDK errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from emulator.backends.objectstore import ObjectInfo, ObjectStore, S3Error
from emulator.errors import StatesError
from emulator.integrations.registry import Handler, Registry, Resource, backend_handler, register
from emulator.workspace import write_atomic

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


def create_bucket(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    (bucket,) = _required(params, "Bucket")
    store.create_bucket(bucket)  # us-east-1 answers its owner's re-create with success, as here
    return {"Location": f"/{bucket}"}


def delete_bucket(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    (bucket,) = _required(params, "Bucket")
    store.delete_bucket(bucket)
    return {}


def _require_bucket(store: ObjectStore, bucket: str) -> None:
    if not store.bucket_root(bucket).is_dir():
        raise S3Error("NoSuchBucket", "The specified bucket does not exist")


def list_buckets(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    buckets = []
    for name in store.buckets():
        folder = store.bucket_root(name)
        if folder.is_dir():
            created = datetime.fromtimestamp(folder.stat().st_mtime, tz=UTC)
            buckets.append({"Name": name, "CreationDate": _timestamp(created)})
    return {"Buckets": buckets, "Owner": {"DisplayName": "local", "ID": "sfn-local"}}


def head_bucket(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    (bucket,) = _required(params, "Bucket")
    _require_bucket(store, bucket)
    return {"BucketRegion": "us-east-1", "AccessPointAlias": False}


def list_objects(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    """ListObjects (v1): Marker instead of a continuation token; NextMarker only with a Delimiter, as S3 gives it."""
    (bucket,) = _required(params, "Bucket")
    prefix, marker, delimiter = params.get("Prefix") or "", params.get("Marker") or "", params.get("Delimiter")
    requested = params.get("MaxKeys")
    max_keys = 1000 if requested is None else max(0, min(int(requested), 1000))
    listing = store.list(bucket, prefix, delimiter, max_keys, None, marker or None)
    out: dict[str, Any] = {
        "IsTruncated": listing.is_truncated, "Marker": marker,
        "Contents": [{"Key": o.key, "LastModified": _timestamp(o.last_modified), "ETag": o.etag, "Size": o.size,
                      "StorageClass": "STANDARD", "Owner": {"DisplayName": "local", "ID": "sfn-local"}}
                     for o in listing.objects],
        "Name": bucket, "Prefix": prefix, "MaxKeys": max_keys,
    }
    if delimiter:
        out["Delimiter"] = delimiter
        if listing.is_truncated and listing.next_token:
            out["NextMarker"] = listing.next_token
    if listing.common_prefixes:
        out["CommonPrefixes"] = [{"Prefix": p} for p in listing.common_prefixes]
    return out


def delete_objects(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    bucket, delete = _required(params, "Bucket", "Delete")
    _require_bucket(store, bucket)
    objects = delete.get("Objects") if isinstance(delete, dict) else None
    if not isinstance(objects, list) or not 1 <= len(objects) <= 1000:
        raise _error("MalformedXML", "Delete.Objects must list 1 to 1,000 objects")
    deleted, errors = [], []
    for item in objects:
        key = item.get("Key") if isinstance(item, dict) else None
        try:
            store.delete(bucket, key)
        except S3Error as exc:
            errors.append({"Key": key, "Code": exc.code, "Message": exc.message})
            continue
        deleted.append({"Key": key})
    out: dict[str, Any] = {} if delete.get("Quiet") else {"Deleted": deleted}
    if errors:
        out["Errors"] = errors
    return out


def _tag_file(store: ObjectStore, bucket: str) -> Path:
    store.bucket_root(bucket)  # a valid bucket name, so a safe file name
    return store.workspace.path("s3-tagging") / f"{bucket}.json"


def _version(info: ObjectInfo) -> list[str]:
    """What makes tags belong to one object version: a replaced or re-created object has none."""
    return [info.etag, info.last_modified.isoformat()]


def put_object_tagging(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key, tagging = _required(params, "Bucket", "Key", "Tagging")
    tags = tagging.get("TagSet") if isinstance(tagging, dict) else None
    if not isinstance(tags, list) or len(tags) > 10:
        raise _error("BadRequest", "Object tags cannot be greater than 10")
    names = [t.get("Key") if isinstance(t, dict) else None for t in tags]
    for tag in tags:
        if not isinstance(tag, dict) or not isinstance(tag.get("Key"), str) or not isinstance(tag.get("Value"), str) \
                or not 1 <= len(tag["Key"]) <= 128 or len(tag["Value"]) > 256:
            raise _error("InvalidTag", f"The TagKey or TagValue you have provided is invalid: {tag!r}")
    if len(set(names)) != len(names):
        raise _error("InvalidTag", "Cannot provide multiple Tags with the same key")
    info = store.head(bucket, key)
    path = _tag_file(store, bucket)
    with store.workspace.lock("s3-tagging"):
        saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        saved[key] = {"Version": _version(info), "TagSet": [{"Key": t["Key"], "Value": t["Value"]} for t in tags]}
        write_atomic(path, json.dumps(saved).encode("utf-8"))
    return {}


def get_object_tagging(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = _required(params, "Bucket", "Key")
    info = store.head(bucket, key)
    path = _tag_file(store, bucket)
    entry = (json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}).get(key)
    return {"TagSet": entry["TagSet"] if entry and entry["Version"] == _version(info) else []}


_ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


def get_object_attributes(store: ObjectStore, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key, wanted = _required(params, "Bucket", "Key", "ObjectAttributes")
    unknown = [a for a in wanted if a not in _ATTRIBUTES]
    if unknown:
        raise _error("InvalidArgument", f"Invalid attribute name specified: {unknown[0]}")
    info = store.head(bucket, key)
    out: dict[str, Any] = {"LastModified": _timestamp(info.last_modified)}
    if "ETag" in wanted:
        out["ETag"] = info.etag.strip('"')  # GetObjectAttributes gives the ETag without its quotes
    if "StorageClass" in wanted:
        out["StorageClass"] = "STANDARD"
    if "ObjectSize" in wanted:
        out["ObjectSize"] = info.size
    return out


ACTIONS: dict[str, Action] = {
    "putObject": put_object,
    "getObject": get_object,
    "headObject": head_object,
    "listObjectsV2": list_objects_v2,
    "copyObject": copy_object,
    "deleteObject": delete_object,
    "createBucket": create_bucket,
    "deleteBucket": delete_bucket,
    "listBuckets": list_buckets,
    "headBucket": head_bucket,
    "listObjects": list_objects,
    "deleteObjects": delete_objects,
    "putObjectTagging": put_object_tagging,
    "getObjectTagging": get_object_tagging,
    "getObjectAttributes": get_object_attributes,
}


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    action = ACTIONS.get(resource.action)
    if action is None:
        return None
    return backend_handler(action, lambda: registry.backends.object_store, S3Error,
                           lambda e: _error(e.code, e.message, 404 if e.code.startswith("NoSuch") else 400))


register("aws-sdk:s3", _factory)
