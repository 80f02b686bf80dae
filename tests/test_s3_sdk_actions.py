"""S3 bucket, listing, batch delete, tagging and attribute actions as `aws-sdk:s3` Task states."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import emulator
from emulator.backends import Backends
from emulator.workspace import Config, Workspace
from tests.conftest import chain

S3 = "arn:aws:states:::aws-sdk:s3:"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path, config=Config())


def call(ws: Workspace, action: str, parameters: dict[str, Any] | None = None) -> Any:
    state = {"Type": "Task", "Resource": S3 + action}
    if parameters is not None:
        state["Parameters"] = parameters
    return emulator.run(chain(("Call", state)), {}, workspace=ws)


def ok(ws: Workspace, action: str, parameters: dict[str, Any] | None = None) -> Any:
    ex = call(ws, action, parameters)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    return ex.output


def test_bucket_lifecycle(ws: Workspace) -> None:
    assert ok(ws, "createBucket", {"Bucket": "reports"}) == {"Location": "/reports"}
    assert "reports" in [b["Name"] for b in ok(ws, "listBuckets")["Buckets"]]
    assert ok(ws, "headBucket", {"Bucket": "reports"})["BucketRegion"] == "us-east-1"
    Backends(ws).object_store.put("reports", "a.txt", b"x")
    assert call(ws, "deleteBucket", {"Bucket": "reports"}).error == "S3.BucketNotEmptyException"
    Backends(ws).object_store.delete("reports", "a.txt")
    assert ok(ws, "deleteBucket", {"Bucket": "reports"}) == {}
    assert "reports" not in [b["Name"] for b in ok(ws, "listBuckets")["Buckets"]]
    assert call(ws, "headBucket", {"Bucket": "reports"}).error == "S3.NoSuchBucketException"
    assert call(ws, "createBucket", {"Bucket": "Bad_Name"}).error == "S3.InvalidBucketNameException"


def test_list_objects_v1_pages_with_markers(ws: Workspace) -> None:
    store = Backends(ws).object_store
    keys = [f"logs/2024/{i:02d}.txt" for i in range(7)] + ["logs/readme.md", "other.txt"]
    for key in keys:
        store.put("data", key, key.encode())
    first = ok(ws, "listObjects", {"Bucket": "data", "Prefix": "logs/", "MaxKeys": 3})
    expected = sorted(k for k in keys if k.startswith("logs/"))
    assert [o["Key"] for o in first["Contents"]] == expected[:3] and first["IsTruncated"] is True
    assert "NextMarker" not in first  # S3 gives NextMarker only with a Delimiter
    rest = ok(ws, "listObjects", {"Bucket": "data", "Prefix": "logs/", "Marker": first["Contents"][-1]["Key"]})
    assert [o["Key"] for o in rest["Contents"]] == expected[3:] and rest["IsTruncated"] is False
    folders = ok(ws, "listObjects", {"Bucket": "data", "Delimiter": "/"})
    assert folders["CommonPrefixes"] == [{"Prefix": "logs/"}]
    assert [o["Key"] for o in folders["Contents"]] == ["other.txt"]
    size = {o["Key"]: o["Size"] for o in first["Contents"]}
    assert size == {k: len(k.encode()) for k in expected[:3]}


def test_delete_objects_reports_each_key(ws: Workspace) -> None:
    store = Backends(ws).object_store
    for key in ("a", "b", "c"):
        store.put("batch", key, b"1")
    out = ok(ws, "deleteObjects", {"Bucket": "batch", "Delete": {"Objects": [{"Key": "a"}, {"Key": "c"},
                                                                             {"Key": "missing"}]}})
    assert out == {"Deleted": [{"Key": "a"}, {"Key": "c"}, {"Key": "missing"}]}  # S3 deletes absent keys too
    assert [o.key for o in store.list("batch").objects] == ["b"]
    assert ok(ws, "deleteObjects", {"Bucket": "batch", "Delete": {"Objects": [{"Key": "b"}], "Quiet": True}}) == {}
    assert call(ws, "deleteObjects", {"Bucket": "nobucket", "Delete": {"Objects": [{"Key": "b"}]}}).error == \
        "S3.NoSuchBucketException"


def test_tags_belong_to_the_object_version(ws: Workspace) -> None:
    store = Backends(ws).object_store
    store.put("tagged", "doc.json", b"{}")
    tags = [{"Key": "team", "Value": "data"}, {"Key": "tier", "Value": "gold"}]
    assert ok(ws, "putObjectTagging", {"Bucket": "tagged", "Key": "doc.json", "Tagging": {"TagSet": tags}}) == {}
    assert ok(ws, "getObjectTagging", {"Bucket": "tagged", "Key": "doc.json"}) == {"TagSet": tags}
    store.put("tagged", "doc.json", b'{"new": true}')  # a new object under the key starts without tags
    assert ok(ws, "getObjectTagging", {"Bucket": "tagged", "Key": "doc.json"}) == {"TagSet": []}
    assert call(ws, "getObjectTagging", {"Bucket": "tagged", "Key": "nope"}).error == "S3.NoSuchKeyException"
    twice = {"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}
    assert call(ws, "putObjectTagging", {"Bucket": "tagged", "Key": "doc.json", "Tagging": twice}).error == \
        "S3.InvalidTagException"


def test_get_object_attributes(ws: Workspace) -> None:
    body = b"attribute body"
    Backends(ws).object_store.put("attrs", "k.bin", body)
    out = ok(ws, "getObjectAttributes", {"Bucket": "attrs", "Key": "k.bin",
                                         "ObjectAttributes": ["ETag", "ObjectSize", "StorageClass"]})
    assert out["ETag"] == hashlib.md5(body).hexdigest() and out["ObjectSize"] == len(body)
    assert out["StorageClass"] == "STANDARD" and "LastModified" in out
    only_size = ok(ws, "getObjectAttributes", {"Bucket": "attrs", "Key": "k.bin", "ObjectAttributes": ["ObjectSize"]})
    assert set(only_size) == {"LastModified", "ObjectSize"}
