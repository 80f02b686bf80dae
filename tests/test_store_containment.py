"""The object store holds every key S3 accepts, and never lets a symbolic link lead outside a bucket."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.backends import Backends
from emulator.backends.crawler import crawl
from emulator.backends.objectstore import ObjectStore, S3Error
from emulator.workspace import Config, Workspace

SECRET = b"TOP-SECRET-CONTENT"
SECRET_MD5 = f'"{hashlib.md5(SECRET).hexdigest()}"'


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


s3_keys = st.text(min_size=1).filter(lambda k: utf8_size(k) <= 1024)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(Workspace(root=tmp_path / "ws", project=tmp_path))


# -- every key S3 accepts ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=s3_keys, body=st.binary(max_size=64))
def test_any_key_round_trips_lists_once_and_deletes(key: str, body: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = ObjectStore(Workspace(root=Path(folder) / "ws", project=Path(folder)))
        store.put("keys", key, body, "text/plain", {"m": "1"})
        got, info = store.get("keys", key)
        assert got == body and info.size == len(body) and info.content_type == "text/plain"
        assert info.etag == f'"{hashlib.md5(body).hexdigest()}"' and info.metadata == {"m": "1"}
        listed = [o for o in store.list("keys").objects if o.key == key]
        assert [(o.size, o.etag) for o in listed] == [(len(body), info.etag)]
        assert [o.key for o in store.list("keys", prefix=key).objects] == [key]
        store.delete("keys", key)
        with pytest.raises(S3Error) as missing:
            store.get("keys", key)
        assert missing.value.code == "NoSuchKey"
        assert store.list("keys").objects == []


@pytest.mark.parametrize("key", ["a" * 1025, "é" * 513, "x" * 5000])
def test_keys_over_1024_bytes_are_too_long(store: ObjectStore, key: str) -> None:
    with pytest.raises(S3Error) as err:
        store.put("keys", key, b"x")
    assert err.value.code == "KeyTooLongError"


def test_keys_the_file_system_cannot_hold(store: ObjectStore) -> None:
    deep = "/".join(["d"] * 511) + "e"  # 1,023 bytes, 512 levels
    keys = [".", "..", "../x", "a/./b", "a/../b", "/abs", "a//b", "dir/", "a", "a/b", "a/b/c", "n" * 300,
            f"{'m' * 256}/x", deep, "k.sfn-local-tmp", ".sfn-local-keys", ".sfn-local-keys/tmp/x", "nul\0byte"]
    for i, key in enumerate(keys):
        store.put("odd", key, str(i).encode())
    for i, key in enumerate(keys):
        assert store.get("odd", key)[0] == str(i).encode(), key
    assert [o.key for o in store.list("odd").objects] == sorted(keys)
    # a copy keeps the odd key intact, and the plain key it can be stays a plain file
    store.copy("odd", "a//b", "odd", "copied//b")
    assert store.get("odd", "copied//b")[0] == str(keys.index("a//b")).encode()
    # nothing was written outside the bucket's folder
    assert not (store.bucket_root("odd").parent / "x").exists() and not Path("/abs").exists()
    for key in [*keys, "copied//b"]:
        store.delete("odd", key)
    assert store.list("odd").objects == []


def test_plain_keys_stay_plain_files(store: ObjectStore) -> None:
    store.put("lake", "orders/region=eu/part-0.csv", b"id\n1\n")
    assert (store.bucket_root("lake") / "orders/region=eu/part-0.csv").read_bytes() == b"id\n1\n"
    store.put("lake", "orders//odd.csv", b"x")
    assert not (store.bucket_root("lake") / "orders" / "odd.csv").exists()


def reference_listing(keys: list[str], prefix: str, delimiter: str) -> list[str]:
    """ListObjectsV2 as S3 defines it: keys and common prefixes (marked with a trailing NUL), in order."""
    out: list[str] = []
    for key in sorted(keys):
        if not key.startswith(prefix):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        entry = key[: cut + len(delimiter)] + "\0" if cut >= 0 else key
        if not out or out[-1] != entry:
            out.append(entry)
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.lists(st.text(alphabet="ab./", min_size=1, max_size=6), min_size=1, max_size=12, unique=True),
       prefix=st.text(alphabet="ab./", max_size=2), delimiter=st.sampled_from(["", "/", "."]),
       page=st.integers(1, 4))
def test_listing_pages_match_s3_semantics(keys: list[str], prefix: str, delimiter: str, page: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = ObjectStore(Workspace(root=Path(folder) / "ws", project=Path(folder)))
        for key in keys:
            store.put("pages", key, key.encode())
        seen: list[str] = []
        token = None
        while True:
            listing = store.list("pages", prefix, delimiter or None, page, token)
            assert len(listing.objects) + len(listing.common_prefixes) <= page
            assert all(o.size == utf8_size(o.key) for o in listing.objects)
            seen += [o.key for o in listing.objects] + [p + "\0" for p in listing.common_prefixes]
            if not listing.is_truncated:
                break
            token = listing.next_token
        assert sorted(seen) == reference_listing(keys, prefix, delimiter)


# -- symbolic links --------------------------------------------------------------------------------
@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the workspace with a secret file and a secret subfolder."""
    folder = tmp_path / "outside"
    (folder / "dir").mkdir(parents=True)
    (folder / "secret.txt").write_bytes(SECRET)
    (folder / "dir" / "secret.txt").write_bytes(SECRET)
    return folder


def outside_state(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def assert_nothing_leaks(store: ObjectStore, bucket: str) -> None:
    for listing in (store.list(bucket), store.list(bucket, delimiter="/")):
        for info in listing.objects:
            assert info.etag != SECRET_MD5
            assert store.get(bucket, info.key)[0] != SECRET


def test_links_in_a_bucket_are_never_followed(store: ObjectStore, outside: Path) -> None:
    before = outside_state(outside)
    store.put("data", "inside", b"ok")
    root = store.bucket_root("data")
    os.symlink(outside / "secret.txt", root / "leak")
    os.symlink(outside / "dir", root / "dirlink")
    (root / "sub").mkdir()
    os.symlink(outside / "secret.txt", root / "sub" / "leak")
    for key in ["leak", "dirlink/secret.txt", "sub/leak"]:
        for read in (store.get, store.head):
            with pytest.raises(S3Error) as err:
                read("data", key)
            assert err.value.code == "InvalidRequest"
        with pytest.raises(S3Error):
            store.copy("data", key, "data", "stolen")
        store.delete("data", key)
    assert [o.key for o in store.list("data").objects] == ["inside"]
    assert store.list("data", prefix="dirlink/").objects == []
    assert_nothing_leaks(store, "data")
    # writes through a linked folder stay in the bucket; a write at a link replaces the link, not its target
    store.put("data", "dirlink/new.txt", b"mine")
    store.put("data", "leak", b"mine")
    assert store.get("data", "dirlink/new.txt")[0] == b"mine" and store.get("data", "leak")[0] == b"mine"
    assert not (root / "leak").is_symlink()
    assert outside_state(outside) == before


def test_links_in_the_metadata_folder_are_never_followed(tmp_path: Path, outside: Path) -> None:
    ws = Workspace(root=tmp_path / "ws", project=tmp_path)
    store = ObjectStore(ws)
    store.put("data", "k", b"body")
    digest = hashlib.sha256(b"k").hexdigest()
    meta = ws.root / "s3-metadata" / "data" / f"{digest}.json"
    info = os.stat(store.bucket_root("data") / "k")
    # forged metadata outside, matching the file so only the link stands between it and the reader
    forged = outside / "forged.json"
    forged.write_text(json.dumps({"key": "k", "etag": SECRET_MD5, "size": info.st_size,
                                  "mtime_ns": info.st_mtime_ns, "content_type": "secret/type",
                                  "metadata": {"s": SECRET.decode()}}))
    meta.unlink()
    os.symlink(forged, meta)
    for got in (store.head("data", "k"), store.get("data", "k")[1], *store.list("data").objects):
        assert got.etag == f'"{hashlib.md5(b"body").hexdigest()}"' and got.content_type != "secret/type"
        assert got.metadata == {}
    before = outside_state(outside)
    # the bucket's metadata folder, then the whole metadata folder, as a link: writes are refused
    for linked in (ws.root / "s3-metadata" / "data", ws.root / "s3-metadata"):
        shutil.rmtree(linked)
        os.symlink(outside, linked)
        with pytest.raises(S3Error) as err:
            store.put("data", "other", b"x")
        assert err.value.code == "InvalidRequest"
        assert store.get("data", "k")[1].content_type == "binary/octet-stream"
        assert [o.key for o in store.list("data").objects] == ["k"]
        store.delete("data", "k")
        assert outside_state(outside) == before
        os.unlink(linked)
        store.put("data", "k", b"body")


def test_links_at_temp_and_escape_names_are_never_followed(store: ObjectStore, outside: Path) -> None:
    before = outside_state(outside)
    store.put("data", "k", b"v1")
    root = store.bucket_root("data")
    # the name an older store wrote its temp file under
    os.symlink(outside / "secret.txt", root / "k.sfn-local-tmp")
    store.put("data", "k", b"v2")
    assert store.get("data", "k")[0] == b"v2"
    # the temp folder, then the escape folder, as links out
    escape = root / ".sfn-local-keys"
    (escape / "tmp").rmdir()
    os.symlink(outside / "dir", escape / "tmp")
    with pytest.raises(S3Error):
        store.put("data", "k", b"v3")
    os.unlink(escape / "tmp")
    os.rmdir(escape)
    os.symlink(outside, escape)
    with pytest.raises(S3Error):
        store.put("data", "a//b", b"v3")
    assert store.get("data", "k")[0] == b"v2"
    assert "k" in [o.key for o in store.list("data").objects]
    assert_nothing_leaks(store, "data")
    assert outside_state(outside) == before


def test_a_workspace_bucket_folder_that_is_a_link_is_refused(store: ObjectStore, outside: Path) -> None:
    before = outside_state(outside)
    (store.workspace.root / "s3").mkdir(parents=True)
    os.symlink(outside, store.workspace.root / "s3" / "linked")
    for call in (lambda: store.get("linked", "secret.txt"), lambda: store.list("linked"),
                 lambda: store.put("linked", "new", b"x"), lambda: store.delete("linked", "secret.txt")):
        with pytest.raises(S3Error) as err:
            call()
        assert err.value.code == "InvalidRequest"
    assert "linked" not in store.buckets()
    assert outside_state(outside) == before


def test_crawlers_do_not_follow_links_out_of_the_bucket(tmp_path: Path, outside: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "sales").mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2]}), lake / "sales" / "part-0.parquet")
    pq.write_table(pa.table({"secret": ["x"]}), outside / "dir" / "stolen.parquet")
    (outside / "dir" / "secret.txt").unlink()
    os.symlink(outside / "dir", lake / "sales" / "linked")
    os.symlink(outside / "dir" / "stolen.parquet", lake / "sales" / "part-1.parquet")
    os.symlink(outside / "dir", lake / "stolen")
    ws = Workspace(root=tmp_path / "ws", project=tmp_path, config=Config(buckets={"lake": lake}))
    catalog = Backends(ws).catalog
    report = crawl(catalog, "c", {"DatabaseName": "db", "Targets": {"S3Targets": [
        {"Path": "s3://lake/sales/"}, {"Path": "s3://lake/stolen/"}]}})
    tables = {t["Name"]: t for t in catalog.get_tables("db")}
    assert list(tables) == ["sales"]
    assert [c["Name"] for c in tables["sales"]["StorageDescriptor"]["Columns"]] == ["id"]
    assert tables["sales"]["Parameters"]["objectCount"] == "1"
    assert any("s3://lake/stolen" in m for m in report.messages)
