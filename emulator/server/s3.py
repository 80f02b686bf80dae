"""S3's REST-XML API over the local object store (the same store `aws-sdk:s3:*` Tasks use).

Path-style (`/bucket/key`) and virtual-host (`bucket.localhost`) addressing. Bodies boto3 sends
as `aws-chunked` (signed or `STREAMING-UNSIGNED-PAYLOAD-TRAILER`) are decoded and their trailing
checksums checked, as are `Content-MD5` and `x-amz-checksum-*` headers. Multipart uploads keep
their parts under `<workspace>/s3-multipart/<UploadId>/` until CompleteMultipartUpload joins them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
import uuid
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from emulator.backends import Backends
from emulator.backends.objectstore import ObjectInfo, ObjectStore, S3Error, check_key
from emulator.integrations.s3 import list_objects_v2
from emulator.server.protocol import ServiceError

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_OWNER = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
_STATUS = {"NoSuchKey": 404, "NoSuchBucket": 404, "NoSuchUpload": 404, "BucketNotEmpty": 409,
           "BucketAlreadyOwnedByYou": 409, "AccessDenied": 403, "InvalidRange": 416, "NotImplemented": 501,
           "PreconditionFailed": 412, "MethodNotAllowed": 405}
_VIRTUAL_HOST = re.compile(r"(?P<bucket>.+?)\.(?:localhost|s3(?:[.-][\w-]+)*\.amazonaws\.com)")
_REGION = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[\w-]+)/s3/")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
# Subresources this store has no model for: answered NotImplemented rather than mistaken for a listing.
_UNSUPPORTED = {"acl", "policy", "cors", "lifecycle", "tagging", "versioning", "versions", "website", "logging",
                "notification", "encryption", "replication", "object-lock", "retention", "legal-hold", "torrent",
                "restore", "select", "attributes", "accelerate", "requestPayment", "ownershipControls",
                "publicAccessBlock", "analytics", "metrics", "inventory", "intelligent-tiering"}
_MIN_PART = 5 * 1024 * 1024  # S3's smallest part, except the last


@dataclass
class _Call:
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    backends: Backends

    @property
    def store(self) -> ObjectStore:
        return self.backends.object_store


async def handle(request: Request, backends: Backends) -> Response:
    """Any request that is not another service's: S3 REST-XML."""
    bucket, key = _address(request)
    resource = "/" + "/".join(p for p in (bucket, key) if p)
    try:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        if "aws-chunked" in headers.get("content-encoding", "") or \
                headers.get("x-amz-content-sha256", "").startswith("STREAMING-"):
            body = _decode_chunked(body, headers)
        _verify_checksums(body, headers)
        call = _Call(request.method, bucket, key, dict(parse_qsl(request.url.query, keep_blank_values=True)),
                     headers, body, backends)
        return await run_in_threadpool(_dispatch, call)
    except ServiceError as exc:
        return error_response(exc, request.method, resource)


def error_response(exc: ServiceError, method: str, resource: str) -> Response:
    if method == "HEAD":  # S3 answers HEAD errors with the status alone; boto3 names them "404", ...
        return Response(status_code=exc.status)
    root = ET.Element("Error")
    for tag, text in (("Code", exc.code), ("Message", exc.message), ("Resource", resource),
                      ("RequestId", uuid.uuid4().hex[:16].upper())):
        ET.SubElement(root, tag).text = text
    return Response(_bytes(root), exc.status, media_type="application/xml")


def _address(request: Request) -> tuple[str, str]:
    """(bucket, key) from a virtual host name, else from the path."""
    path = unquote(request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0] or request.url.path)
    host = request.headers.get("host", "").rsplit(":", 1)[0]
    if match := _VIRTUAL_HOST.fullmatch(host):
        return match.group("bucket"), path[1:]
    bucket, _, key = path[1:].partition("/")
    return bucket, key


def _dispatch(call: _Call) -> Response:
    try:
        return _route(call)
    except S3Error as exc:
        raise ServiceError(exc.code, exc.message, _STATUS.get(exc.code, 400)) from None


def _route(call: _Call) -> Response:
    q, method = call.query, call.method
    subresources = set(q) & _UNSUPPORTED
    if subresources:
        raise ServiceError("NotImplemented", f"The {sorted(subresources)[0]} subresource is not implemented locally",
                           501)
    if not call.bucket:
        if method == "GET":
            return _list_buckets(call)
        raise ServiceError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
    if not call.key:
        routes = {"PUT": _create_bucket, "DELETE": _delete_bucket, "HEAD": _head_bucket}
        if method == "GET":
            if "location" in q:
                return _location(call)
            if "uploads" in q:
                raise ServiceError("NotImplemented", "ListMultipartUploads is not implemented locally", 501)
            return _list_v2(call) if q.get("list-type") == "2" else _list_v1(call)
        if method == "POST" and "delete" in q:
            return _delete_objects(call)
        if method in routes:
            return routes[method](call)
    else:
        if method == "PUT":
            if "uploadId" in q:
                return _upload_part(call)
            return _copy_object(call) if "x-amz-copy-source" in call.headers else _put_object(call)
        if method in ("GET", "HEAD"):
            return _get_object(call, head=method == "HEAD")
        if method == "DELETE":
            return _abort_upload(call) if "uploadId" in q else _delete_object(call)
        if method == "POST" and "uploads" in q:
            return _create_upload(call)
        if method == "POST" and "uploadId" in q:
            return _complete_upload(call)
    raise ServiceError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)


# -- bodies ------------------------------------------------------------------------------------------
def _decode_chunked(body: bytes, headers: dict[str, str]) -> bytes:
    """aws-chunked: `<hex size>[;chunk-signature=..]\\r\\n<data>\\r\\n` ... `0\\r\\n` then trailer lines."""
    out = bytearray()
    pos = 0
    try:
        while True:
            end = body.index(b"\r\n", pos)
            size = int(body[pos:end].split(b";", 1)[0], 16)
            pos = end + 2
            if size == 0:
                break
            out += body[pos:pos + size]
            pos += size
            if body[pos:pos + 2] != b"\r\n":
                raise ValueError("chunk not terminated")
            pos += 2
    except ValueError:
        raise ServiceError("IncompleteBody", "The aws-chunked request body is malformed") from None
    for line in body[pos:].decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep and name.strip().lower().startswith("x-amz-checksum-"):
            headers[name.strip().lower()] = value.strip()
    declared = headers.get("x-amz-decoded-content-length")
    if declared is not None and declared.isdigit() and int(declared) != len(out):
        raise ServiceError("IncompleteBody", f"The request body has {len(out)} bytes, not the {declared} declared")
    return bytes(out)


_CHECKSUMS = {
    "x-amz-checksum-crc32": lambda b: (zlib.crc32(b) & 0xFFFFFFFF).to_bytes(4, "big"),
    "x-amz-checksum-sha1": lambda b: hashlib.sha1(b).digest(),
    "x-amz-checksum-sha256": lambda b: hashlib.sha256(b).digest(),
    "content-md5": lambda b: hashlib.md5(b).digest(),
}


def _verify_checksums(body: bytes, headers: dict[str, str]) -> None:
    """Content-MD5 and the checksums boto3 sends (CRC32C / CRC64NVME need libraries this tool lacks)."""
    for header, digest in _CHECKSUMS.items():
        expected = headers.get(header)
        if expected is not None and base64.b64encode(digest(body)).decode() != expected:
            code = "BadDigest" if header == "content-md5" else "XAmzContentChecksumMismatch"
            raise ServiceError(code, f"The {header} you specified did not match what we received.")


# -- XML -----------------------------------------------------------------------------------------------
def _bytes(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _xml(root: ET.Element) -> Response:
    return Response(_bytes(root), media_type="application/xml")


def _element(tag: str) -> ET.Element:
    return ET.Element(tag, xmlns=_NS)


def _add(parent: ET.Element, tag: str, text: Any) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = str(text).lower() if isinstance(text, bool) else str(text)
    return child


def _parse_xml(body: bytes) -> ET.Element:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                                           "against our published schema") from None
    for node in root.iter():  # requests may or may not carry S3's namespace
        node.tag = node.tag.rsplit("}", 1)[-1]
    return root


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# -- buckets -----------------------------------------------------------------------------------------
def _list_buckets(call: _Call) -> Response:
    root = _element("ListAllMyBucketsResult")
    owner = ET.SubElement(root, "Owner")
    _add(owner, "ID", _OWNER)
    _add(owner, "DisplayName", "local")
    buckets = ET.SubElement(root, "Buckets")
    for name in call.store.buckets():
        folder = call.store.bucket_root(name)
        if folder.is_dir():
            bucket = ET.SubElement(buckets, "Bucket")
            _add(bucket, "Name", name)
            _add(bucket, "CreationDate", _iso(datetime.fromtimestamp(folder.stat().st_mtime, tz=UTC)))
    return _xml(root)


def _create_bucket(call: _Call) -> Response:
    if not call.store.create_bucket(call.bucket):
        region = _REGION.search(call.headers.get("authorization", ""))
        # us-east-1 answers 200 to its owner re-creating a bucket; other regions answer 409.
        if region and region.group("region") != "us-east-1":
            raise ServiceError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                                                          "succeeded and you already own it.", 409)
    return Response(headers={"Location": f"/{call.bucket}"})


def _delete_bucket(call: _Call) -> Response:
    call.store.delete_bucket(call.bucket)
    return Response(status_code=204)


def _require_bucket(call: _Call) -> None:
    if not call.store.bucket_root(call.bucket).is_dir():
        raise ServiceError("NoSuchBucket", "The specified bucket does not exist", 404)


def _head_bucket(call: _Call) -> Response:
    _require_bucket(call)
    return Response(headers={"x-amz-bucket-region": "us-east-1"})


def _location(call: _Call) -> Response:
    _require_bucket(call)
    return _xml(_element("LocationConstraint"))  # empty: us-east-1


# -- listings ----------------------------------------------------------------------------------------
def _max_keys(call: _Call) -> int:
    text = call.query.get("max-keys", "1000")
    if not text.isdigit():
        raise ServiceError("InvalidArgument", "Provided max-keys not an integer or within integer range")
    return min(int(text), 1000)


def _encoder(call: _Call) -> Any:
    if call.query.get("encoding-type") == "url":
        return lambda text: quote(text, safe="/")
    return lambda text: text


def _contents(root: ET.Element, objects: list[dict[str, Any]], encode: Any, owner: bool) -> None:
    for obj in objects:
        item = ET.SubElement(root, "Contents")
        _add(item, "Key", encode(obj["Key"]))
        _add(item, "LastModified", obj["LastModified"])
        _add(item, "ETag", obj["ETag"])
        _add(item, "Size", obj["Size"])
        if owner:
            node = ET.SubElement(item, "Owner")
            _add(node, "ID", _OWNER)
            _add(node, "DisplayName", "local")
        _add(item, "StorageClass", "STANDARD")


def _prefixes(root: ET.Element, prefixes: list[str], encode: Any) -> None:
    for prefix in prefixes:
        _add(ET.SubElement(root, "CommonPrefixes"), "Prefix", encode(prefix))


def _list_v2(call: _Call) -> Response:
    q, encode = call.query, _encoder(call)
    token = q.get("continuation-token")
    params: dict[str, Any] = {"Bucket": call.bucket, "Prefix": q.get("prefix", ""), "MaxKeys": _max_keys(call),
                              "Delimiter": q.get("delimiter") or None, "StartAfter": q.get("start-after") or None,
                              "ContinuationToken": _untoken(token) if token else None}
    listing = list_objects_v2(call.store, params)
    root = _element("ListBucketResult")
    _add(root, "Name", call.bucket)
    _add(root, "Prefix", encode(listing["Prefix"]))
    if "Delimiter" in listing:
        _add(root, "Delimiter", encode(listing["Delimiter"]))
    _add(root, "MaxKeys", listing["MaxKeys"])
    _add(root, "KeyCount", listing["KeyCount"])
    _add(root, "IsTruncated", listing["IsTruncated"])
    if token:
        _add(root, "ContinuationToken", token)
    if "NextContinuationToken" in listing:
        _add(root, "NextContinuationToken", _token(listing["NextContinuationToken"]))
    if q.get("start-after"):
        _add(root, "StartAfter", encode(q["start-after"]))
    if q.get("encoding-type") == "url":
        _add(root, "EncodingType", "url")
    _contents(root, listing["Contents"], encode, q.get("fetch-owner") == "true")
    _prefixes(root, [p["Prefix"] for p in listing.get("CommonPrefixes", [])], encode)
    return _xml(root)


def _token(key: str) -> str:
    """Continuation tokens are opaque to clients: the last key listed, encoded."""
    return base64.urlsafe_b64encode(key.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise ServiceError("InvalidArgument", "The continuation token provided is incorrect") from None


def _list_v1(call: _Call) -> Response:
    q, encode = call.query, _encoder(call)
    prefix, delimiter, marker = q.get("prefix", ""), q.get("delimiter") or None, q.get("marker", "")
    max_keys = _max_keys(call)
    listing = call.store.list(call.bucket, prefix, delimiter, max_keys, None, marker or None)
    root = _element("ListBucketResult")
    _add(root, "Name", call.bucket)
    _add(root, "Prefix", encode(prefix))
    _add(root, "Marker", encode(marker))
    if delimiter:
        _add(root, "Delimiter", encode(delimiter))
    _add(root, "MaxKeys", max_keys)
    _add(root, "IsTruncated", listing.is_truncated)
    if listing.is_truncated and delimiter and listing.next_token:
        _add(root, "NextMarker", encode(listing.next_token))  # S3 gives NextMarker only with a delimiter
    if q.get("encoding-type") == "url":
        _add(root, "EncodingType", "url")
    objects = [{"Key": o.key, "LastModified": _iso(o.last_modified), "ETag": o.etag, "Size": o.size}
               for o in listing.objects]
    _contents(root, objects, encode, owner=True)
    _prefixes(root, listing.common_prefixes, encode)
    return _xml(root)


# -- objects -----------------------------------------------------------------------------------------
def _metadata(headers: dict[str, str]) -> dict[str, str]:
    return {k[len("x-amz-meta-"):]: v for k, v in headers.items() if k.startswith("x-amz-meta-")}


def _object_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {"ETag": info.etag, "Last-Modified": format_datetime(info.last_modified, usegmt=True),
               "Content-Type": info.content_type, "Accept-Ranges": "bytes"}
    headers.update({f"x-amz-meta-{k}": v for k, v in info.metadata.items()})
    return headers


def _put_object(call: _Call) -> Response:
    _require_bucket(call)
    info = call.store.put(call.bucket, call.key, call.body, call.headers.get("content-type"), _metadata(call.headers))
    return Response(headers={"ETag": info.etag})


def _check_conditions(call: _Call, info: ObjectInfo) -> Response | None:
    if_match, if_none = call.headers.get("if-match"), call.headers.get("if-none-match")
    if if_match is not None and info.etag not in (if_match, "*") and f'"{if_match}"' != info.etag:
        raise ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)
    if if_none is not None and (if_none == "*" or info.etag in (if_none, f'"{if_none}"')):
        return Response(status_code=304, headers={"ETag": info.etag})
    return None


def _get_object(call: _Call, head: bool) -> Response:
    info = call.store.head(call.bucket, call.key)
    if (not_modified := _check_conditions(call, info)) is not None:
        return not_modified
    headers = _object_headers(info)
    start, end, status = 0, info.size - 1, 200
    if (spec := call.headers.get("range")) and (match := _RANGE.fullmatch(spec.strip())):
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last), info.size - 1) if last else info.size - 1
        elif last:
            start = max(0, info.size - int(last))
        if start >= info.size or start > end:
            raise ServiceError("InvalidRange", "The requested range is not satisfiable", 416)
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    length = max(0, end - start + 1)
    headers["Content-Length"] = str(length)
    if head:
        return Response(status_code=status, headers=headers)
    body, _ = call.store.get(call.bucket, call.key)
    return Response(body[start:start + length], status, headers=headers)


def _delete_object(call: _Call) -> Response:
    call.store.delete(call.bucket, call.key)
    return Response(status_code=204)


def _copy_source(call: _Call) -> tuple[str, str]:
    source = unquote(call.headers["x-amz-copy-source"].split("?versionId=", 1)[0]).lstrip("/")
    bucket, _, key = source.partition("/")
    if not bucket or not key:
        raise ServiceError("InvalidArgument", "Copy Source must mention the source bucket and key: "
                                              "sourcebucket/sourcekey")
    return bucket, key


def _copy_object(call: _Call) -> Response:
    src_bucket, src_key = _copy_source(call)
    _require_bucket(call)
    if call.headers.get("x-amz-metadata-directive", "COPY").upper() == "REPLACE":
        body, _ = call.store.get(src_bucket, src_key)
        info = call.store.put(call.bucket, call.key, body, call.headers.get("content-type"), _metadata(call.headers))
    else:
        info = call.store.copy(src_bucket, src_key, call.bucket, call.key)
    root = _element("CopyObjectResult")
    _add(root, "LastModified", _iso(info.last_modified))
    _add(root, "ETag", info.etag)
    return _xml(root)


def _delete_objects(call: _Call) -> Response:
    _require_bucket(call)
    request = _parse_xml(call.body)
    quiet = (request.findtext("Quiet") or "").lower() == "true"
    root = _element("DeleteResult")
    for item in request.findall("Object"):
        key = item.findtext("Key") or ""
        try:
            call.store.delete(call.bucket, key)
        except S3Error as exc:
            error = ET.SubElement(root, "Error")
            for tag, text in (("Key", key), ("Code", exc.code), ("Message", exc.message)):
                _add(error, tag, text)
            continue
        if not quiet:
            _add(ET.SubElement(root, "Deleted"), "Key", key)
    return _xml(root)


# -- multipart uploads -------------------------------------------------------------------------------
def _uploads(call: _Call) -> Path:
    return call.backends.workspace.path("s3-multipart")


def _upload(call: _Call) -> tuple[Path, dict[str, Any]]:
    upload_id = call.query.get("uploadId", "")
    folder = _uploads(call) / upload_id
    meta = folder / "upload.json"
    if not re.fullmatch(r"[\w-]+", upload_id) or not meta.is_file():
        raise ServiceError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, "
                                           "or the upload may have been aborted or completed.", 404)
    record = json.loads(meta.read_text(encoding="utf-8"))
    if (record["Bucket"], record["Key"]) != (call.bucket, call.key):
        raise ServiceError("NoSuchUpload", "The specified upload does not exist for this key.", 404)
    return folder, record


def _create_upload(call: _Call) -> Response:
    _require_bucket(call)
    check_key(call.key)  # refuse a bad key now, not at completion
    upload_id = secrets.token_urlsafe(32)
    folder = _uploads(call) / upload_id
    folder.mkdir()
    record = {"Bucket": call.bucket, "Key": call.key, "ContentType": call.headers.get("content-type"),
              "Metadata": _metadata(call.headers)}
    (folder / "upload.json").write_text(json.dumps(record), encoding="utf-8")
    root = _element("InitiateMultipartUploadResult")
    for tag, text in (("Bucket", call.bucket), ("Key", call.key), ("UploadId", upload_id)):
        _add(root, tag, text)
    return _xml(root)


def _part_number(text: str | None) -> int:
    if not text or not text.isdigit() or not 1 <= int(text) <= 10000:
        raise ServiceError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
    return int(text)


def _upload_part(call: _Call) -> Response:
    folder, _ = _upload(call)
    number = _part_number(call.query.get("partNumber"))
    body, copied = call.body, "x-amz-copy-source" in call.headers
    if copied:  # UploadPartCopy, optionally of a byte range
        source, _ = call.store.get(*_copy_source(call))
        if match := _RANGE.fullmatch(call.headers.get("x-amz-copy-source-range", "").strip()):
            body = source[int(match.group(1) or 0): int(match.group(2)) + 1 if match.group(2) else None]
        else:
            body = source
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    tmp = folder / f"{number}.tmp"
    tmp.write_bytes(body)
    tmp.replace(folder / f"{number}.part")
    (folder / f"{number}.etag").write_text(etag, encoding="utf-8")
    if copied:
        root = _element("CopyPartResult")
        _add(root, "LastModified", _iso(datetime.now(UTC)))
        _add(root, "ETag", etag)
        return _xml(root)
    return Response(headers={"ETag": etag})


def _complete_upload(call: _Call) -> Response:
    folder, record = _upload(call)
    parts = [(item.findtext("PartNumber"), item.findtext("ETag") or "")
             for item in _parse_xml(call.body).findall("Part")]
    if not parts:
        raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                                           "against our published schema")
    numbers = [_part_number(n) for n, _ in parts]
    if numbers != sorted(set(numbers)):
        raise ServiceError("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must "
                                               "be specified in order by part number.")
    files, digests = [], []
    for index, (number, (_, etag)) in enumerate(zip(numbers, parts, strict=True)):
        path, saved = folder / f"{number}.part", folder / f"{number}.etag"
        stored = saved.read_text(encoding="utf-8") if saved.is_file() else None
        if stored is None or stored.strip('"') != etag.strip().strip('"'):
            raise ServiceError("InvalidPart", "One or more of the specified parts could not be found. The part may "
                                              "not have been uploaded, or the specified entity tag may not match "
                                              f"the part's entity tag. (part {number})")
        if index < len(parts) - 1 and path.stat().st_size < _MIN_PART:
            raise ServiceError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
        files.append(path)
        digests.append(bytes.fromhex(stored.strip('"')))
    etag = f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(files)}"'
    body = b"".join(path.read_bytes() for path in files)
    info = call.store.put_multipart(call.bucket, call.key, body, etag, record.get("ContentType"),
                                    record.get("Metadata"))
    shutil.rmtree(folder, ignore_errors=True)
    root = _element("CompleteMultipartUploadResult")
    for tag, text in (("Location", f"/{call.bucket}/{quote(call.key)}"), ("Bucket", call.bucket),
                      ("Key", call.key), ("ETag", info.etag)):
        _add(root, tag, text)
    return _xml(root)


def _abort_upload(call: _Call) -> Response:
    folder, _ = _upload(call)
    shutil.rmtree(folder, ignore_errors=True)
    return Response(status_code=204)
