"""The local object store behind S3: a bucket is a directory, a key a file below it.

A bucket named in the config (`[buckets]`) maps to that directory, so `sample_data/` can be
read as a raw bucket without copying; any other bucket lives under `<workspace>/s3/<bucket>/`
and is created on first write.

Every key S3 accepts (1 to 1,024 bytes of UTF-8) can be stored. A key is a plain file at
`<bucket>/<key>` when the file system can hold it there (so Spark, DuckDB and the crawlers read
it in place); any other key (`a//b`, `x/`, `.` or `..` as a component, a component over 255
bytes, very deep keys, a key whose place is taken by a folder or whose folder is taken by a
file) lives in the bucket's escape area, `<bucket>/.sfn-local-keys/<sha256 of key>`, with the
key itself in `<sha256>.key` beside it; listings merge both in key order. Temp files are
written in `.sfn-local-keys/tmp/` and renamed into place. Object metadata (ETag, content type,
user metadata) is `<workspace>/s3-metadata/<bucket>/<sha256>.json`.

Symbolic links are never followed below a bucket's folder or the metadata folder: files and
folders are opened relative to their parent's descriptor with O_NOFOLLOW, so a link planted in
a bucket, in the metadata folder or at a temp-file name cannot make a read, write, listing,
copy or delete reach outside. Reading a key that is a link fails with InvalidRequest; listings
skip links. This needs a POSIX system (`dir_fd` and O_NOFOLLOW).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from emulator.backends import events
from emulator.workspace import Workspace

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.\-_]{1,62}")
_URI_RE = re.compile(r"s3a?://([^/]+)/?(.*)", re.DOTALL)
_META_DIR = "s3-metadata"
_ESCAPE_DIR = ".sfn-local-keys"
_TMP_DIR = "tmp"
_MAX_KEY_BYTES = 1024
_NAME_MAX = 255  # bytes in one file name (ext4, APFS, ...)
# Deeper keys go to the escape area: every level of a plain key holds a descriptor open while walking.
_MAX_PLAIN_DEPTH = 100
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | _CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC
_LINK_ERRNOS = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)  # what O_NOFOLLOW / O_DIRECTORY answer for a link


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


@dataclass(frozen=True, slots=True)
class _Found:
    """Where a key's bytes are: a regular file `name` in the directory `dir_fd`."""

    dir_fd: int
    name: str
    escaped: bool = False  # in the escape area (with its `.key` file beside it)


def parse_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` (or `s3a://`) → (bucket, key)."""
    match = _URI_RE.fullmatch(uri)
    if match is None:
        raise S3Error("InvalidRequest", f"'{uri}' is not an s3:// URI")
    return match.group(1), match.group(2)


def check_key(key: Any) -> str:
    """A key S3 accepts (1 to 1,024 bytes of UTF-8), or S3's error."""
    if not isinstance(key, str) or not key:
        raise S3Error("InvalidArgument", "The object key must be a non-empty string")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise S3Error("InvalidArgument", f"The object key {key!r} is not valid UTF-8") from None
    if size > _MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", f"Your key is too long: {size} bytes, at most {_MAX_KEY_BYTES} allowed")
    return key


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _plain_parts(key: str) -> list[str] | None:
    """The path components of a key that can be a plain file below its bucket, else None."""
    parts = key.split("/")
    if len(parts) > _MAX_PLAIN_DEPTH or parts[0] == _ESCAPE_DIR:
        return None
    for part in parts:
        if part in ("", ".", "..") or "\0" in part or len(part.encode("utf-8")) > _NAME_MAX:
            return None
    return parts


@contextmanager
def _reading(key: str) -> Iterator[None]:
    """Reading an object's file: its OS errors as S3 words them (a vanished file, a link the store refuses)."""
    try:
        yield
    except (FileNotFoundError, IsADirectoryError):
        raise S3Error("NoSuchKey", f"The specified key does not exist: '{key}'") from None
    except OSError as exc:
        if _is_link_error(exc):
            raise S3Error("InvalidRequest", f"Key '{key}' is a symbolic link; the store does not follow links") \
                from None
        raise


def _is_link_error(exc: OSError) -> bool:
    return exc.errno in _LINK_ERRNOS


@contextmanager
def _fd(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


def _open_dir(parent: int, name: str, create: bool = False) -> int:
    """A directory below `parent`, never through a link (OSError ELOOP/ENOTDIR for a link or a file)."""
    if create:
        with suppress(FileExistsError):
            os.mkdir(name, dir_fd=parent)
    return os.open(name, _DIR_FLAGS, dir_fd=parent)


def _open_path(parent: int, parts: list[str], create: bool = False) -> int:
    """The directory `parent/parts[0]/parts[1]/...`, each level opened without following links."""
    fd = os.dup(parent)
    try:
        for part in parts:
            child = _open_dir(fd, part, create)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lstat(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _read(dir_fd: int, name: str) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes and status, refusing a link at the last step as at every other."""
    with _fd(os.open(name, _READ_FLAGS, dir_fd=dir_fd)) as fd:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file", name)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), info


def _write_atomic(tmp_dir: int, dir_fd: int, name: str, data: bytes) -> None:
    """Write `data` under a fresh temp name (O_EXCL: never through a planted link) and rename it into place."""
    tmp = f"{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, _CREATE_FLAGS, 0o644, dir_fd=tmp_dir)
    try:
        with _fd(fd):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        os.replace(tmp, name, src_dir_fd=tmp_dir, dst_dir_fd=dir_fd)  # replaces a link itself, not its target
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=tmp_dir)
        raise


def _meta_name(bucket: str) -> str:
    """The bucket's metadata folder name: configured bucket names need not be one safe path component."""
    return bucket if _BUCKET_RE.fullmatch(bucket) else _digest(bucket)


def _md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


@contextmanager
def _optional_dir(opener: Callable[[], int], create: bool, where: str) -> Iterator[int | None]:
    """A folder opened by `opener` without following links; None when it is absent (or a link) and is
    not being created, an InvalidRequest when it is a link and should be written to."""
    try:
        fd = opener()
    except FileNotFoundError:
        if create:
            raise
        fd = None
    except OSError as exc:
        if not _is_link_error(exc):
            raise
        if create:
            raise S3Error("InvalidRequest", f"{where} is a symbolic link or not a folder; the store does not follow "
                                            "links") from None
        fd = None
    if fd is None:
        yield None
        return
    with _fd(fd):
        yield fd


class ObjectStore:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    # -- where things are -------------------------------------------------------------------
    def bucket_root(self, bucket: str) -> Path:
        if not isinstance(bucket, str):
            raise S3Error("InvalidBucketName", f"The specified bucket is not valid: {bucket!r}")
        if bucket in self.workspace.config.buckets:
            return self.workspace.config.buckets[bucket]
        if not _BUCKET_RE.fullmatch(bucket):
            raise S3Error("InvalidBucketName", f"The specified bucket is not valid: '{bucket}'")
        return self.workspace.root / "s3" / bucket

    def buckets(self) -> list[str]:
        local = self.workspace.root / "s3"
        found = set(self.workspace.config.buckets)
        if local.is_dir():
            found.update(p.name for p in local.iterdir() if p.is_dir() and not p.is_symlink())
        return sorted(found)

    def local_path(self, uri: str) -> Path:
        """The local file or directory an s3:// URI names (a prefix gives its directory), for engines
        that read the store in place (Spark, DuckDB, crawlers); refuses paths that leave the bucket."""
        bucket, key = parse_uri(uri)
        key = key.rstrip("/")
        root = self.bucket_root(bucket)
        if not key:
            return root
        parts = _plain_parts(check_key(key))
        if parts is None:
            raise S3Error("InvalidRequest", f"Key '{key}' has no local path in bucket '{bucket}'")
        path = root.joinpath(*parts)
        resolved_root, resolved = root.resolve(), path.resolve()
        if resolved != resolved_root and resolved_root not in resolved.parents:
            raise S3Error("InvalidRequest", f"Key '{key}' resolves outside bucket '{bucket}'")
        return path

    @contextmanager
    def _root(self, bucket: str, create: bool = False) -> Iterator[int]:
        """A descriptor on the bucket's folder. A configured folder may itself be a link (the user chose
        it); a workspace bucket's folder is reached without following links."""
        root = self.bucket_root(bucket)
        try:
            if bucket in self.workspace.config.buckets:
                if create:
                    root.mkdir(parents=True, exist_ok=True)
                fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
            else:
                if create:
                    self.workspace.root.mkdir(parents=True, exist_ok=True)
                with _fd(os.open(self.workspace.root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)) as ws:
                    fd = _open_path(ws, ["s3", bucket], create)
        except FileNotFoundError:
            raise S3Error("NoSuchBucket", f"The specified bucket does not exist: '{bucket}'") from None
        except OSError as exc:
            if _is_link_error(exc):
                raise S3Error("InvalidRequest", f"The folder of bucket '{bucket}' is a symbolic link or not a "
                                                "folder; the store does not follow links") from None
            raise
        with _fd(fd):
            yield fd

    def _meta_dir(self, bucket: str, create: bool) -> AbstractContextManager[int | None]:
        """`<workspace>/s3-metadata/<bucket>`, reached without following links (None when absent)."""

        def opener() -> int:
            if create:
                self.workspace.root.mkdir(parents=True, exist_ok=True)
            with _fd(os.open(self.workspace.root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)) as ws:
                return _open_path(ws, [_META_DIR, _meta_name(bucket)], create)

        return _optional_dir(opener, create, str(self.workspace.root / _META_DIR / _meta_name(bucket)))

    def _escape_dir(self, root: int, create: bool) -> AbstractContextManager[int | None]:
        return _optional_dir(lambda: _open_dir(root, _ESCAPE_DIR, create), create, f"{_ESCAPE_DIR} in the bucket")

    # -- finding a key ---------------------------------------------------------------------
    @contextmanager
    def _find(self, root: int, key: str) -> Iterator[_Found | None]:
        """The regular file holding `key` (the escape area first), None when there is none; a link on
        the way is refused with InvalidRequest."""
        with self._escape_dir(root, create=False) as escape:
            if escape is not None:
                digest = _digest(key)
                found = _lstat(escape, digest)
                if found is not None and stat.S_ISREG(found.st_mode):
                    yield _Found(escape, digest, escaped=True)
                    return
        parts = _plain_parts(key)
        if parts is None:
            yield None
            return
        try:
            folder = _open_path(root, parts[:-1])
        except FileNotFoundError:
            yield None
            return
        except OSError as exc:
            if not _is_link_error(exc):
                raise
            if self._through_link(root, parts[:-1]):
                raise S3Error("InvalidRequest", f"Key '{key}' passes through a symbolic link; the store does not "
                                                "follow links") from None
            yield None  # a file where a folder would be: the key is not there
            return
        with _fd(folder):
            found = _lstat(folder, parts[-1])
            if found is not None and stat.S_ISLNK(found.st_mode):
                raise S3Error("InvalidRequest", f"Key '{key}' is a symbolic link; the store does not follow links")
            yield _Found(folder, parts[-1]) if found is not None and stat.S_ISREG(found.st_mode) else None

    @staticmethod
    def _through_link(root: int, parts: list[str]) -> bool:
        """Whether the first component of `parts` that is not a folder is a link (else a file)."""
        current = os.dup(root)
        try:
            for part in parts:
                info = _lstat(current, part)
                if info is None or not stat.S_ISDIR(info.st_mode):
                    return info is not None and stat.S_ISLNK(info.st_mode)
                child = os.open(part, _DIR_FLAGS, dir_fd=current)
                os.close(current)
                current = child
        finally:
            os.close(current)
        return False

    def _require(self, found: _Found | None, key: str) -> _Found:
        if found is None:
            raise S3Error("NoSuchKey", f"The specified key does not exist: '{key}'")
        return found

    # -- metadata --------------------------------------------------------------------------------
    def _read_meta(self, bucket: str, key: str, info: os.stat_result) -> dict[str, Any]:
        """The stored metadata, when it is this key's and the file has not changed since (Spark and
        others rewrite files in place)."""
        with self._meta_dir(bucket, create=False) as folder:
            if folder is None:
                return {}
            try:
                data, _ = _read(folder, _digest(key) + ".json")
                meta = json.loads(data)
            except (OSError, ValueError):
                return {}
        if not isinstance(meta, dict) or meta.get("key") != key or meta.get("size") != info.st_size \
                or meta.get("mtime_ns") != info.st_mtime_ns:
            return {}
        return meta

    def _delete_meta(self, bucket: str, key: str) -> None:
        with self._meta_dir(bucket, create=False) as folder:
            if folder is not None:
                with suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                    os.unlink(_digest(key) + ".json", dir_fd=folder)

    def _object(self, bucket: str, key: str, info: os.stat_result, body: bytes | None,
                found: _Found | None = None, meta: dict[str, Any] | None = None) -> ObjectInfo:
        """ObjectInfo from the file's status and its metadata; the ETag is the body's MD5 when no
        current metadata has it (`body`, or read from `found`)."""
        meta = self._read_meta(bucket, key, info) if meta is None else meta
        etag = meta.get("etag")
        if not etag:
            if body is None and found is not None:
                body, info = _read(found.dir_fd, found.name)
            etag = _md5(body or b"")
        return ObjectInfo(key, info.st_size, etag, datetime.fromtimestamp(info.st_mtime, tz=UTC),
                          meta.get("content_type", "binary/octet-stream"), meta.get("metadata", {}))

    # -- objects -------------------------------------------------------------------------------
    def head(self, bucket: str, key: str) -> ObjectInfo:
        key = check_key(key)
        with self._root(bucket) as root, self._find(root, key) as found:
            where = self._require(found, key)
            info = _lstat(where.dir_fd, where.name)
            if info is None or not stat.S_ISREG(info.st_mode):
                raise S3Error("NoSuchKey", f"The specified key does not exist: '{key}'")
            return self._object(bucket, key, info, None, where)

    def get(self, bucket: str, key: str) -> tuple[bytes, ObjectInfo]:
        key = check_key(key)
        with self._root(bucket) as root, self._find(root, key) as found:
            where = self._require(found, key)
            with _reading(key):
                body, info = _read(where.dir_fd, where.name)
        return body, self._object(bucket, key, info, body)

    @contextmanager
    def open(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        """GetObject's body as a seekable binary stream, for readers that must not hold a whole object."""
        key = check_key(key)
        with self._root(bucket) as root, self._find(root, key) as found:
            where = self._require(found, key)
            with _reading(key):
                fd = os.open(where.name, _READ_FLAGS, dir_fd=where.dir_fd)
        with os.fdopen(fd, "rb") as stream:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise S3Error("NoSuchKey", f"The specified key does not exist: '{key}'")
            yield stream

    def put(self, bucket: str, key: str, body: bytes, content_type: str | None = None,
            metadata: dict[str, str] | None = None, *, reason: str | None = "PutObject") -> ObjectInfo:
        """PutObject; `reason` is the "Object Created" event's (None: the caller publishes it)."""
        key = check_key(key)
        # Every folder is opened (and refused if it is a link) before anything is written.
        with self._root(bucket, create=True) as root, self._escape_dir(root, create=True) as escape, \
                self._meta_dir(bucket, create=True) as meta_dir:
            assert escape is not None and meta_dir is not None
            try:
                tmp = _open_dir(escape, _TMP_DIR, create=True)
            except OSError as exc:
                if not _is_link_error(exc):
                    raise
                raise S3Error("InvalidRequest", f"{_ESCAPE_DIR}/{_TMP_DIR} in bucket '{bucket}' is a symbolic link "
                                                "or not a folder; the store does not follow links") from None
            with _fd(tmp):
                info = self._store(root, escape, tmp, key, body)
                meta = {"key": key, "etag": _md5(body), "size": info.st_size, "mtime_ns": info.st_mtime_ns,
                        "content_type": content_type or "binary/octet-stream", "metadata": metadata or {}}
                _write_atomic(meta_dir, meta_dir, _digest(key) + ".json", json.dumps(meta).encode("utf-8"))
        if reason:
            events.object_created(self.workspace, bucket, key, info.st_size, meta["etag"], reason, info.st_mtime_ns)
        return ObjectInfo(key, info.st_size, meta["etag"], datetime.fromtimestamp(info.st_mtime, tz=UTC),
                          meta["content_type"], meta["metadata"])

    def _store(self, root: int, escape: int, tmp: int, key: str, body: bytes) -> os.stat_result:
        digest = _digest(key)
        existing = _lstat(escape, digest)
        parts = None if existing is not None and stat.S_ISREG(existing.st_mode) else _plain_parts(key)
        if parts is not None:
            try:
                folder = _open_path(root, parts[:-1], create=True)
            except OSError as exc:
                if not _is_link_error(exc) and exc.errno not in (errno.EEXIST, errno.ENAMETOOLONG):
                    raise
                folder = None  # a link or a file where a folder would be: the key goes to the escape area
            if folder is not None:
                with _fd(folder):
                    target = _lstat(folder, parts[-1])
                    if target is None or not stat.S_ISDIR(target.st_mode):
                        _write_atomic(tmp, folder, parts[-1], body)
                        return os.stat(parts[-1], dir_fd=folder, follow_symlinks=False)
        _write_atomic(tmp, escape, digest + ".key", key.encode("utf-8"))
        _write_atomic(tmp, escape, digest, body)
        return os.stat(digest, dir_fd=escape, follow_symlinks=False)

    def copy(self, src_bucket: str, src_key: str, bucket: str, key: str) -> ObjectInfo:
        body, info = self.get(src_bucket, src_key)
        return self.put(bucket, key, body, info.content_type, info.metadata, reason="CopyObject")

    def delete(self, bucket: str, key: str) -> None:
        """DeleteObject: succeeds whether or not the key exists, as S3 does; links are left alone."""
        key = check_key(key)
        removed = False
        with self._root(bucket) as root:
            try:
                with self._find(root, key) as found:
                    if found is not None:
                        os.unlink(found.name, dir_fd=found.dir_fd)
                        removed = True
                        if found.escaped:
                            with suppress(FileNotFoundError):
                                os.unlink(found.name + ".key", dir_fd=found.dir_fd)
            except S3Error as exc:
                if exc.code != "InvalidRequest":
                    raise
        self._delete_meta(bucket, key)
        if removed:
            events.object_deleted(self.workspace, bucket, key)

    # -- buckets and multipart results (the S3 HTTP front) ------------------------------------
    def create_bucket(self, bucket: str) -> bool:
        """CreateBucket: False when it already existed."""
        existed = self.bucket_root(bucket).is_dir()
        with self._root(bucket, create=True):
            pass
        return not existed

    def delete_bucket(self, bucket: str) -> None:
        """DeleteBucket: only an empty bucket, and never a project folder mapped in `[buckets]`."""
        with self._root(bucket):  # NoSuchBucket, or a linked folder refused
            pass
        if bucket in self.workspace.config.buckets:
            raise S3Error("AccessDenied", f"Bucket '{bucket}' is a project folder mapped in the config; "
                                          "remove it from [buckets] instead")
        if self.list(bucket, max_keys=1).objects:
            raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty")
        shutil.rmtree(self.bucket_root(bucket))
        shutil.rmtree(self.workspace.root / _META_DIR / _meta_name(bucket), ignore_errors=True)

    def put_multipart(self, bucket: str, key: str, body: bytes, etag: str, content_type: str | None = None,
                      metadata: dict[str, str] | None = None) -> ObjectInfo:
        """CompleteMultipartUpload: `put`, with the multipart ETag (`"<md5 of part md5s>-N"`) S3 gives."""
        info = self.put(bucket, key, body, content_type, metadata, reason=None)
        name = _digest(check_key(key)) + ".json"
        with self._meta_dir(bucket, create=True) as meta_dir:
            assert meta_dir is not None
            meta = {**json.loads(_read(meta_dir, name)[0]), "etag": etag}
            _write_atomic(meta_dir, meta_dir, name, json.dumps(meta).encode("utf-8"))
        events.object_created(self.workspace, bucket, key, info.size, etag, "CompleteMultipartUpload", meta["mtime_ns"])
        return replace(info, etag=etag)

    # -- listing -------------------------------------------------------------------------------
    def list(self, bucket: str, prefix: str = "", delimiter: str | None = None, max_keys: int = 1000,
             continuation: str | None = None, start_after: str | None = None) -> Listing:
        """ListObjectsV2 over the bucket's files, in key order."""
        prefix = prefix or ""
        after = continuation or start_after or ""
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        truncated, last = False, None
        with self._root(bucket) as root:
            entries = self._entries(root, prefix)
            for key in sorted(entries):
                if key <= after:
                    continue
                if delimiter:
                    cut = key.find(delimiter, len(prefix))
                    if cut >= 0:
                        common = key[: cut + len(delimiter)]
                        if (not prefixes or prefixes[-1] != common) and common > after:
                            if len(objects) + len(prefixes) >= max_keys:
                                truncated = True
                                break
                            prefixes.append(common)
                            last = common
                        continue
                if len(objects) + len(prefixes) >= max_keys:
                    truncated = True
                    break
                info, where = entries[key]
                listed = self._listed(root, bucket, key, info, where)
                if listed is None:
                    continue  # removed or replaced by a link since the walk
                objects.append(listed)
                last = key
        return Listing(objects, prefixes, truncated, last if truncated else None)

    def _listed(self, root: int, bucket: str, key: str, info: os.stat_result, where: str) -> ObjectInfo | None:
        meta = self._read_meta(bucket, key, info)
        if meta.get("etag"):
            return self._object(bucket, key, info, None, meta=meta)
        try:
            if where == "escape":
                with self._escape_dir(root, create=False) as escape:
                    if escape is None:
                        return None
                    body, info = _read(escape, _digest(key))
            else:
                parts = key.split("/")
                with _fd(_open_path(root, parts[:-1])) as folder:
                    body, info = _read(folder, parts[-1])
        except OSError:
            return None
        return self._object(bucket, key, info, body)

    def _entries(self, root: int, prefix: str) -> dict[str, tuple[os.stat_result, str]]:
        """Key → (status, "plain" | "escape") for every object under `prefix`; links are skipped."""
        found: dict[str, tuple[os.stat_result, str]] = {}
        self._walk(root, "", prefix, found, 0)
        with self._escape_dir(root, create=False) as escape:
            if escape is not None:
                with os.scandir(escape) as listed:
                    names = [e.name for e in listed if e.name.endswith(".key") and e.is_file(follow_symlinks=False)]
                for name in names:
                    digest = name.removesuffix(".key")
                    try:
                        key = _read(escape, name)[0].decode("utf-8")
                    except (OSError, UnicodeDecodeError):
                        continue
                    data = _lstat(escape, digest)
                    if key.startswith(prefix) and _digest(key) == digest and data is not None \
                            and stat.S_ISREG(data.st_mode):
                        found[key] = (data, "escape")
        return found

    def _walk(self, fd: int, rel: str, prefix: str, found: dict[str, tuple[os.stat_result, str]],
              depth: int) -> None:
        with os.scandir(fd) as entries:
            listed = list(entries)
        for entry in listed:
            name = entry.name
            if not rel and name == _ESCAPE_DIR:
                continue
            key = rel + name
            try:
                key.encode("utf-8")
            except UnicodeEncodeError:
                continue  # a name that is not UTF-8 cannot be an S3 key
            if entry.is_dir(follow_symlinks=False):
                folder = key + "/"
                if depth + 1 < _MAX_PLAIN_DEPTH and (folder.startswith(prefix) or prefix.startswith(folder)):
                    try:
                        child = _open_dir(fd, name)
                    except OSError:
                        continue  # replaced by a link (or removed) since it was listed
                    with _fd(child):
                        self._walk(child, folder, prefix, found, depth + 1)
            elif entry.is_file(follow_symlinks=False) and key.startswith(prefix) \
                    and len(key.encode("utf-8")) <= _MAX_KEY_BYTES:
                found[key] = (entry.stat(follow_symlinks=False), "plain")
