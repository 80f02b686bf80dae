"""The local object store behind S3: a bucket is a directory, a key a file below it.

A bucket named in the config (`[buckets]`) maps to that directory, so `sample_data/` can be
read as a raw bucket without copying; any other bucket lives under `<workspace>/s3/<bucket>/`
and is created on first write. Keys that would leave their bucket (`..`, absolute paths,
symlinks pointing out) are refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from emulator.workspace import Workspace

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.\-_]{1,62}")
_URI_RE = re.compile(r"s3a?://([^/]+)/?(.*)", re.DOTALL)
_META_DIR = "s3-metadata"


class S3Error(Exception):
    """An S3 error, with the error code S3 uses (NoSuchKey, NoSuchBucket, InvalidRequest, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: datetime
    content_type: str = "binary/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class Listing:
    objects: list[ObjectInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_token: str | None


def parse_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` (or `s3a://`) → (bucket, key)."""
    match = _URI_RE.fullmatch(uri)
    if match is None:
        raise S3Error("InvalidRequest", f"'{uri}' is not an s3:// URI")
    return match.group(1), match.group(2)


class ObjectStore:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    # -- where things are -------------------------------------------------------------------
    def bucket_root(self, bucket: str) -> Path:
        if bucket in self.workspace.config.buckets:
            return self.workspace.config.buckets[bucket]
        if not _BUCKET_RE.fullmatch(bucket):
            raise S3Error("InvalidBucketName", f"The specified bucket is not valid: '{bucket}'")
        return self.workspace.root / "s3" / bucket

    def buckets(self) -> list[str]:
        local = self.workspace.root / "s3"
        found = set(self.workspace.config.buckets)
        if local.is_dir():
            found.update(p.name for p in local.iterdir() if p.is_dir())
        return sorted(found)

    def path_for(self, bucket: str, key: str) -> Path:
        """The file behind a key; refuses keys that would escape the bucket."""
        if not key or key.startswith("/") or "\0" in key or any(part == ".." for part in key.split("/")):
            raise S3Error("InvalidRequest", f"Key '{key}' is not allowed: it must be relative and stay in the bucket")
        root = self.bucket_root(bucket)
        path = root / key
        resolved_root = root.resolve()
        resolved = path.resolve()
        if resolved != resolved_root and resolved_root not in resolved.parents:
            raise S3Error("InvalidRequest", f"Key '{key}' resolves outside bucket '{bucket}'")
        return path

    def local_path(self, uri: str) -> Path:
        """The local file or directory an s3:// URI names (a prefix gives its directory)."""
        bucket, key = parse_uri(uri)
        key = key.rstrip("/")
        return self.path_for(bucket, key) if key else self.bucket_root(bucket)

    def _require_bucket(self, bucket: str) -> Path:
        root = self.bucket_root(bucket)
        if not root.is_dir():
            raise S3Error("NoSuchBucket", f"The specified bucket does not exist: '{bucket}'")
        return root

    def _meta_path(self, bucket: str, key: str) -> Path:
        return self.workspace.root / _META_DIR / bucket / (key + ".json")

    # -- objects -------------------------------------------------------------------------------
    def _info(self, bucket: str, key: str, path: Path) -> ObjectInfo:
        stat = path.stat()
        extra: dict = {}
        meta = self._meta_path(bucket, key)
        if meta.is_file():
            extra = json.loads(meta.read_text(encoding="utf-8"))
        etag = extra.get("etag") or _etag_of(path)
        return ObjectInfo(key, stat.st_size, etag, datetime.fromtimestamp(stat.st_mtime, tz=UTC),
                          extra.get("content_type", "binary/octet-stream"), extra.get("metadata", {}))

    def head(self, bucket: str, key: str) -> ObjectInfo:
        self._require_bucket(bucket)
        path = self.path_for(bucket, key)
        if not path.is_file():
            raise S3Error("NoSuchKey", f"The specified key does not exist: '{key}'")
        return self._info(bucket, key, path)

    def get(self, bucket: str, key: str) -> tuple[bytes, ObjectInfo]:
        info = self.head(bucket, key)
        return self.path_for(bucket, key).read_bytes(), info

    def put(self, bucket: str, key: str, body: bytes, content_type: str | None = None,
            metadata: dict[str, str] | None = None) -> ObjectInfo:
        path = self.path_for(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".sfn-local-tmp")
        tmp.write_bytes(body)
        tmp.replace(path)  # readers never see a half-written object
        etag = f'"{hashlib.md5(body).hexdigest()}"'
        self._write_meta(bucket, key, {"etag": etag, "content_type": content_type or "binary/octet-stream",
                                       "metadata": metadata or {}})
        return self._info(bucket, key, path)

    def _write_meta(self, bucket: str, key: str, meta: dict) -> None:
        path = self._meta_path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(meta), encoding="utf-8")

    def copy(self, src_bucket: str, src_key: str, bucket: str, key: str) -> ObjectInfo:
        body, info = self.get(src_bucket, src_key)
        return self.put(bucket, key, body, info.content_type, info.metadata)

    def delete(self, bucket: str, key: str) -> None:
        """DeleteObject: succeeds whether or not the key exists, as S3 does."""
        self._require_bucket(bucket)
        path = self.path_for(bucket, key)
        if path.is_file():
            path.unlink()
        self._meta_path(bucket, key).unlink(missing_ok=True)

    def list(self, bucket: str, prefix: str = "", delimiter: str | None = None, max_keys: int = 1000,
             continuation: str | None = None, start_after: str | None = None) -> Listing:
        """ListObjectsV2 over the bucket's files, in key order."""
        root = self._require_bucket(bucket)
        keys = sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(".sfn-local-tmp")
        )
        after = continuation or start_after or ""
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        truncated, last = False, None
        for key in keys:
            if not key.startswith(prefix) or key <= after:
                continue
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if common not in prefixes and common > after:
                        if len(objects) + len(prefixes) >= max_keys:
                            truncated = True
                            break
                        prefixes.append(common)
                        last = common
                    continue
            if len(objects) + len(prefixes) >= max_keys:
                truncated = True
                break
            objects.append(self._info(bucket, key, root / key))
            last = key
        return Listing(objects, prefixes, truncated, last if truncated else None)



def _etag_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f'"{digest.hexdigest()}"'
