"""The data services over HTTP, driven by real boto3 clients against a real uvicorn server.

One behaviour, two fronts: what boto3 does here is what Task states see, and the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

import emulator
from emulator.backends import Backends
from emulator.server.data import handle
from emulator.workspace import Config, Workspace
from tests.conftest import chain


@dataclass
class Served:
    url: str
    backends: Backends
    verify: bool = True
    payloads: list[str] = field(default_factory=list)

    @property
    def workspace(self) -> Workspace:
        return self.backends.workspace

    def client(self, service: str, region: str = "us-east-1") -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=region, aws_access_key_id="testing",
                            aws_secret_access_key="testing", config=BotoConfig(retries={"max_attempts": 1}),
                            verify=self.verify)


@contextmanager
def serving(app: Starlette, **ssl: str) -> Iterator[int]:
    """Run `app` under uvicorn on a free loopback port, in a background thread; yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **ssl))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = server.force_exit = True  # keep-alive connections of boto3 must not hold it up
        thread.join(10)


def data_app(backends: Backends, payloads: list[str] | None = None) -> Starlette:
    """A minimal app whose catch-all route is the data services; `payloads` collects x-amz-content-sha256."""

    async def endpoint(request: Request) -> Response:
        if payloads is not None:
            payloads.append(request.headers.get("x-amz-content-sha256", ""))
        response = await handle(request, backends)
        return response if response is not None else PlainTextResponse("not a data-service request", 404)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "HEAD", "PUT", "POST", "DELETE"])])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("server-data")
    backends = Backends(Workspace(root=root / "ws", project=root, config=Config()))
    with serving(data_app(backends)) as port:
        yield Served(f"http://127.0.0.1:{port}", backends)


@pytest.fixture(scope="module")
def served_tls(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The same backends over HTTPS: botocore sends streaming bodies as aws-chunked with trailers only over TLS."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    payloads: list[str] = []
    with serving(data_app(served.backends, payloads), ssl_keyfile=str(folder / "key.pem"),
                 ssl_certfile=str(folder / "cert.pem")) as port:
        yield Served(f"https://127.0.0.1:{port}", served.backends, verify=False, payloads=payloads)


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


# -- S3 --------------------------------------------------------------------------------------------------
def test_bucket_lifecycle(served: Served) -> None:
    s3 = served.client("s3")
    s3.create_bucket(Bucket="life")
    s3.create_bucket(Bucket="life")  # us-east-1 answers its owner's re-create with 200
    with pytest.raises(s3.exceptions.BucketAlreadyOwnedByYou):
        served.client("s3", "eu-west-1").create_bucket(
            Bucket="life", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert "life" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.head_bucket(Bucket="life")["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3.put_object(Bucket="life", Key="a/b.txt", Body=b"x")
    with pytest.raises(ClientError) as raised:
        s3.delete_bucket(Bucket="life")
    assert error_of(raised) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket="life", Key="a/b.txt")
    s3.delete_bucket(Bucket="life")
    with pytest.raises(ClientError) as raised:
        s3.head_bucket(Bucket="life")
    assert error_of(raised) == ("404", 404)
    assert "life" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket="Not_A_Bucket")
    assert error_of(raised) == ("InvalidBucketName", 400)


def test_put_get_head_with_metadata_ranges_and_errors(served: Served) -> None:
    s3 = served.client("s3")
    s3.create_bucket(Bucket="objects")
    body = bytes(range(256)) * 4
    put = s3.put_object(Bucket="objects", Key="dir/blob.bin", Body=body, ContentType="application/x-test",
                        Metadata={"owner": "team-a", "run": "7"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket="objects", Key="dir/blob.bin")
    assert got["Body"].read() == body
    assert (got["ContentType"], got["ContentLength"], got["ETag"]) == ("application/x-test", len(body), put["ETag"])
    assert got["Metadata"] == {"owner": "team-a", "run": "7"}
    part = s3.get_object(Bucket="objects", Key="dir/blob.bin", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert s3.get_object(Bucket="objects", Key="dir/blob.bin", Range="bytes=-5")["Body"].read() == body[-5:]
    head = s3.head_object(Bucket="objects", Key="dir/blob.bin")
    assert (head["ContentLength"], head["Metadata"]["owner"]) == (len(body), "team-a")
    with pytest.raises(s3.exceptions.NoSuchKey) as missing:
        s3.get_object(Bucket="objects", Key="dir/none.bin")
    assert error_of(missing) == ("NoSuchKey", 404)
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.get_object(Bucket="no-such-bucket", Key="k")
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="objects", Key="dir/blob.bin", Range=f"bytes={len(body)}-")
    assert error_of(raised) == ("InvalidRange", 416)
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="objects", Key="dir/blob.bin", IfMatch='"0000"')
    assert error_of(raised) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket="objects", Key="dir/none.bin")
    assert error_of(raised) == ("404", 404)
    with pytest.raises(ClientError) as raised:  # a Content-MD5 that does not match the body
        s3.put_object(Bucket="objects", Key="bad", Body=b"abc", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
    assert error_of(raised) == ("BadDigest", 400)
    s3.put_object(Bucket="objects", Key="../odd//key", Body=b"abc")  # any key is an S3 key; it stays in the bucket
    assert s3.get_object(Bucket="objects", Key="../odd//key")["Body"].read() == b"abc"


def test_copy_and_delete_objects(served: Served) -> None:
    s3 = served.client("s3")
    s3.create_bucket(Bucket="copies")
    s3.put_object(Bucket="copies", Key="src/a.json", Body=b'{"a": 1}', ContentType="application/json",
                  Metadata={"k": "v"})
    s3.copy_object(Bucket="copies", Key="dst/a.json", CopySource={"Bucket": "copies", "Key": "src/a.json"})
    copied = s3.get_object(Bucket="copies", Key="dst/a.json")
    assert (copied["Body"].read(), copied["ContentType"], copied["Metadata"]) == (
        b'{"a": 1}', "application/json", {"k": "v"})
    s3.copy_object(Bucket="copies", Key="dst/b.json", CopySource="copies/src/a.json", MetadataDirective="REPLACE",
                   ContentType="text/plain", Metadata={"new": "1"})
    replaced = s3.head_object(Bucket="copies", Key="dst/b.json")
    assert (replaced["ContentType"], replaced["Metadata"]) == ("text/plain", {"new": "1"})
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.copy_object(Bucket="copies", Key="x", CopySource="copies/src/none")
    result = s3.delete_objects(Bucket="copies", Delete={"Objects": [
        {"Key": "dst/a.json"}, {"Key": "dst/b.json"}, {"Key": "never-existed"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["dst/a.json", "dst/b.json", "never-existed"]
    listed = s3.list_objects_v2(Bucket="copies")
    assert [o["Key"] for o in listed["Contents"]] == ["src/a.json"]


def test_listing_pages_with_delimiters_prefixes_and_odd_keys(served: Served) -> None:
    s3 = served.client("s3")
    s3.create_bucket(Bucket="listing")
    keys = ["a.txt", "logs/2024/01.log", "logs/2024/02.log", "logs/2025/01.log", "logs/readme",
            "data/x y.csv", "data/é.csv", "data/z+1.csv", "top/one", "top/two", "zzz"]
    for key in keys:
        s3.put_object(Bucket="listing", Key=key, Body=key.encode())
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="listing", PaginationConfig={"PageSize": 2}))
    assert len(pages) == 6
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(keys)
    assert all(p["KeyCount"] <= 2 for p in pages)
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket="listing", Delimiter="/", PaginationConfig={"PageSize": 2}))
    found = [o["Key"] for p in pages for o in p.get("Contents", [])]
    prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert found == ["a.txt", "zzz"]
    assert prefixes == ["data/", "logs/", "top/"]
    under = s3.list_objects_v2(Bucket="listing", Prefix="logs/", Delimiter="/")
    assert [o["Key"] for o in under["Contents"]] == ["logs/readme"]
    assert [c["Prefix"] for c in under["CommonPrefixes"]] == ["logs/2024/", "logs/2025/"]
    odd = s3.list_objects_v2(Bucket="listing", Prefix="data/")
    assert [o["Key"] for o in odd["Contents"]] == ["data/x y.csv", "data/z+1.csv", "data/é.csv"]
    assert s3.get_object(Bucket="listing", Key="data/é.csv")["Body"].read() == "data/é.csv".encode()
    after = s3.list_objects_v2(Bucket="listing", StartAfter="logs/readme")
    assert [o["Key"] for o in after["Contents"]] == ["top/one", "top/two", "zzz"]
    v1 = list(s3.get_paginator("list_objects").paginate(Bucket="listing", PaginationConfig={"PageSize": 3}))
    assert [o["Key"] for p in v1 for o in p.get("Contents", [])] == sorted(keys)
    v1_delimited = s3.list_objects(Bucket="listing", Delimiter="/", MaxKeys=2)
    assert v1_delimited["IsTruncated"] and v1_delimited["NextMarker"] == "data/"
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket="missing-bucket")


def test_multipart_upload_and_download_of_20_mb(served: Served, tmp_path: Path) -> None:
    s3 = served.client("s3")
    s3.create_bucket(Bucket="big")
    source = tmp_path / "big.bin"
    data = os.urandom(20 * 1024 * 1024)
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
    s3.upload_file(str(source), "big", "blobs/big.bin", Config=config)
    chunks = [data[i:i + 8 * 1024 * 1024] for i in range(0, len(data), 8 * 1024 * 1024)]
    expected = hashlib.md5(b"".join(hashlib.md5(c).digest() for c in chunks)).hexdigest()
    head = s3.head_object(Bucket="big", Key="blobs/big.bin")
    assert (head["ContentLength"], head["ETag"]) == (len(data), f'"{expected}-3"')
    target = tmp_path / "back.bin"
    s3.download_file("big", "blobs/big.bin", str(target), Config=config)
    assert target.read_bytes() == data
    # An aborted upload is gone; parts cannot be added to it.
    upload = s3.create_multipart_upload(Bucket="big", Key="aborted")["UploadId"]
    s3.abort_multipart_upload(Bucket="big", Key="aborted", UploadId=upload)
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.upload_part(Bucket="big", Key="aborted", UploadId=upload, PartNumber=1, Body=b"x")
    # A small part before the last one is refused, as S3 does.
    upload = s3.create_multipart_upload(Bucket="big", Key="small")["UploadId"]
    etags = [s3.upload_part(Bucket="big", Key="small", UploadId=upload, PartNumber=n, Body=b"tiny")["ETag"]
             for n in (1, 2)]
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(Bucket="big", Key="small", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags, strict=True)]})
    assert error_of(raised) == ("EntityTooSmall", 400)
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(Bucket="big", Key="small", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    assert error_of(raised) == ("InvalidPart", 400)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_aws_chunked_bodies_with_trailing_checksums_over_tls(served_tls: Served, tmp_path: Path) -> None:
    s3 = served_tls.client("s3")
    s3.create_bucket(Bucket="chunked")
    s3.put_object(Bucket="chunked", Key="small.txt", Body=io.BytesIO(b"hello, chunks"))
    assert s3.get_object(Bucket="chunked", Key="small.txt")["Body"].read() == b"hello, chunks"
    data = os.urandom(11 * 1024 * 1024)
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(data), "chunked", "parts.bin", Config=config)
    head = s3.head_object(Bucket="chunked", Key="parts.bin")
    assert (head["ContentLength"], head["ETag"].endswith('-3"')) == (len(data), True)
    assert s3.get_object(Bucket="chunked", Key="parts.bin")["Body"].read() == data
    # The put and the three parts came aws-chunked, checksum in the trailer.
    assert served_tls.payloads.count("STREAMING-UNSIGNED-PAYLOAD-TRAILER") == 4


def chunked(payload: bytes, trailer: str, signed: bool) -> bytes:
    extension = ";chunk-signature=" + "0" * 64 if signed else ""
    body = b"".join(f"{len(c):x}{extension}\r\n".encode() + c + b"\r\n" for c in (payload[:4], payload[4:]))
    return body + f"0{extension}\r\n{trailer}\r\n\r\n".encode()


@pytest.mark.parametrize("signed", [False, True])
def test_aws_chunked_trailer_checksum_is_checked(served: Served, signed: bool) -> None:
    served.client("s3").create_bucket(Bucket="raw-chunks")
    payload = b"abcdefghij"
    good = base64.b64encode((zlib.crc32(payload) & 0xFFFFFFFF).to_bytes(4, "big")).decode()
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload)),
               "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" if signed
               else "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-trailer": "x-amz-checksum-crc32"}
    for checksum, status in ((good, 200), ("AAAAAA==", 400)):
        body = chunked(payload, f"x-amz-checksum-crc32:{checksum}", signed)
        request = urllib.request.Request(f"{served.url}/raw-chunks/k", data=body, method="PUT", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == status
        except urllib.error.HTTPError as exc:
            assert exc.code == status
            assert b"<Code>XAmzContentChecksumMismatch</Code>" in exc.read()
    assert served.backends.object_store.get("raw-chunks", "k")[0] == payload


def test_object_put_over_boto3_is_read_by_a_state_machine(served: Served) -> None:
    s3 = served.client("s3")
    s3.create_bucket(Bucket="fronts")
    s3.put_object(Bucket="fronts", Key="in/doc.json", Body=b'{"n": 41}', ContentType="application/json")
    definition = chain(
        ("Get", {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                 "Parameters": {"Bucket": "fronts", "Key": "in/doc.json"},
                 "ResultSelector": {"doc.$": "States.StringToJson($.Body)", "type.$": "$.ContentType"}}),
        ("Put", {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                 "Parameters": {"Bucket": "fronts", "Key": "out/doc.json", "Body.$": "$.doc"}, "ResultPath": None}),
    )
    ex = emulator.run(definition, {}, workspace=served.workspace)
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == {"doc": {"n": 41}, "type": "application/json"}
    assert json.loads(s3.get_object(Bucket="fronts", Key="out/doc.json")["Body"].read()) == {"n": 41}


def test_unknown_targets_are_left_to_other_fronts(served: Served) -> None:
    request = urllib.request.Request(served.url + "/", data=b"{}", method="POST", headers={
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 404 and raised.value.read() == b"not a data-service request"


# -- Glue ------------------------------------------------------------------------------------------------
def table_input(name: str, location: str, columns: list[tuple[str, str]], partitions: list[str] = ()) -> dict:
    return {"Name": name, "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "csv",
                                                                       "skip.header.line.count": "1"},
            "PartitionKeys": [{"Name": p, "Type": "string"} for p in partitions],
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in columns], "Location": location,
                "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                              "Parameters": {"field.delim": ","}}}}


def test_glue_catalog_actions_and_errors(served: Served) -> None:
    glue = served.client("glue")
    glue.create_database(DatabaseInput={"Name": "Sales", "Description": "sales data"})
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": "sales"})
    assert glue.get_database(Name="sales")["Database"]["Description"] == "sales data"
    assert "sales" in [d["Name"] for d in glue.get_databases()["DatabaseList"]]
    glue.create_table(DatabaseName="sales", TableInput=table_input(
        "orders", "s3://lake/orders/", [("id", "bigint"), ("amount", "double")], ["year"]))
    glue.create_table(DatabaseName="sales", TableInput=table_input("refunds", "s3://lake/refunds/", [("id", "int")]))
    table = glue.get_table(DatabaseName="sales", Name="orders")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "amount"]
    assert table["CreateTime"].year >= 2024  # a real timestamp, parsed by botocore
    updated = table_input("orders", "s3://lake/orders/", [("id", "bigint"), ("amount", "double"),
                                                          ("note", "string")], ["year"])
    glue.update_table(DatabaseName="sales", TableInput=updated)
    table = glue.get_table(DatabaseName="sales", Name="orders")["Table"]
    assert (len(table["StorageDescriptor"]["Columns"]), table["VersionId"]) == (3, "1")
    pages = list(glue.get_paginator("get_tables").paginate(DatabaseName="sales", PaginationConfig={"PageSize": 1}))
    assert [t["Name"] for p in pages for t in p["TableList"]] == ["orders", "refunds"]
    part = {"StorageDescriptor": {"Location": "s3://lake/orders/year=2023/"}}
    glue.create_partition(DatabaseName="sales", TableName="orders", PartitionInput={**part, "Values": ["2023"]})
    with pytest.raises(glue.exceptions.AlreadyExistsException):
        glue.create_partition(DatabaseName="sales", TableName="orders", PartitionInput={**part, "Values": ["2023"]})
    errors = glue.batch_create_partition(DatabaseName="sales", TableName="orders", PartitionInputList=[
        {**part, "Values": ["2024"]}, {**part, "Values": ["2023"]}])["Errors"]
    assert [e["PartitionValues"] for e in errors] == [["2023"]]
    recent = glue.get_partitions(DatabaseName="sales", TableName="orders", Expression="year > '2023'")
    assert [p["Values"] for p in recent["Partitions"]] == [["2024"]]
    glue.delete_table(DatabaseName="sales", Name="refunds")
    with pytest.raises(glue.exceptions.EntityNotFoundException) as raised:
        glue.get_table(DatabaseName="sales", Name="refunds")
    assert error_of(raised) == ("EntityNotFoundException", 400)
    assert "refunds" in raised.value.response["Error"]["Message"]
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_database(Name="nope")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_job_run(JobName="no-such-job", RunId="jr_0")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.start_job_run(JobName="no-such-job")


def test_crawler_started_by_a_state_machine_is_seen_over_boto3(served: Served) -> None:
    s3, glue = served.client("s3"), served.client("glue")
    s3.create_bucket(Bucket="crawled")
    for year in (2023, 2024):
        s3.put_object(Bucket="crawled", Key=f"trips/year={year}/part-0.csv",
                      Body=f"trip_id,miles\n1,{year % 10}.5\n2,3.25\n".encode())
    glue.create_crawler(Name="trips-crawler", Role="arn:aws:iam::123456789012:role/crawler", DatabaseName="rides",
                        Targets={"S3Targets": [{"Path": "s3://crawled/trips/"}]})
    assert "trips-crawler" in glue.list_crawlers()["CrawlerNames"]
    assert glue.get_crawler(Name="trips-crawler")["Crawler"]["State"] == "READY"
    start = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
             "Parameters": {"Name": "trips-crawler"}}
    assert emulator.run(chain(("Start", start)), {}, workspace=served.workspace).status == "SUCCEEDED"
    deadline = time.monotonic() + 60
    while (crawler := glue.get_crawler(Name="trips-crawler")["Crawler"])["State"] != "READY" or \
            "LastCrawl" not in crawler:
        assert time.monotonic() < deadline, crawler
        time.sleep(0.05)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert any(c["Name"] == "trips-crawler" for c in glue.get_crawlers()["Crawlers"])
    metrics = glue.get_crawler_metrics(CrawlerNameList=["trips-crawler"])["CrawlerMetricsList"][0]
    assert metrics["TablesCreated"] == 1
    table = glue.get_table(DatabaseName="rides", Name="trips")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["year"]
    assert sorted(p["Values"][0] for p in glue.get_partitions(DatabaseName="rides", TableName="trips")["Partitions"]) \
        == ["2023", "2024"]
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_crawler(Name="no-such-crawler")
    # Started over boto3 this time: a state machine's getCrawler sees the same crawler.
    glue.start_crawler(Name="trips-crawler")
    get = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:getCrawler",
           "Parameters": {"Name": "trips-crawler"}, "OutputPath": "$.Crawler.Name"}
    ex = emulator.run(chain(("Get", get)), {}, workspace=served.workspace)
    assert (ex.status, ex.output) == ("SUCCEEDED", "trips-crawler")
    served.backends.catalog.crawlers.wait("trips-crawler", 60)


# -- Athena ----------------------------------------------------------------------------------------------
def test_table_created_over_boto3_is_queried_by_athena_over_boto3(served: Served) -> None:
    s3, glue, athena = served.client("s3"), served.client("glue"), served.client("athena")
    s3.create_bucket(Bucket="warehouse")
    rows = [(i, f"city{i % 3}", i * 2.5) for i in range(7)]
    s3.put_object(Bucket="warehouse", Key="cars/cars.csv",
                  Body=("id,city,price\n" + "".join(f"{i},{c},{p}\n" for i, c, p in rows)).encode())
    glue.create_database(DatabaseInput={"Name": "fleet"})
    glue.create_table(DatabaseName="fleet", TableInput=table_input(
        "cars", "s3://warehouse/cars/", [("id", "bigint"), ("city", "string"), ("price", "double")]))
    query_id = athena.start_query_execution(
        QueryString="SELECT id, city FROM cars WHERE price > 5 ORDER BY id",
        QueryExecutionContext={"Database": "fleet"},
        ResultConfiguration={"OutputLocation": "s3://warehouse/results/"})["QueryExecutionId"]
    execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    assert execution["Status"]["SubmissionDateTime"].year >= 2024
    pages = list(athena.get_paginator("get_query_results").paginate(
        QueryExecutionId=query_id, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    values = [[d.get("VarCharValue") for d in r["Data"]] for p in pages for r in p["ResultSet"]["Rows"]]
    assert values == [["id", "city"]] + [[str(i), c] for i, c, p in rows if p > 5]
    output = execution["ResultConfiguration"]["OutputLocation"]
    assert output == f"s3://warehouse/results/{query_id}.csv"
    csv_text = s3.get_object(Bucket="warehouse", Key=f"results/{query_id}.csv")["Body"].read().decode()
    assert csv_text.splitlines()[0] == '"id","city"'
    failed = athena.start_query_execution(QueryString="SELECT nope FROM cars",
                                          QueryExecutionContext={"Database": "fleet"})["QueryExecutionId"]
    status = athena.get_query_execution(QueryExecutionId=failed)["QueryExecution"]["Status"]
    assert status["State"] == "FAILED" and "nope" in status["StateChangeReason"]
    listed = athena.list_query_executions()["QueryExecutionIds"]
    assert listed.index(failed) < listed.index(query_id)  # newest first
    batch = athena.batch_get_query_execution(QueryExecutionIds=[query_id, "not-an-id"])
    assert [q["QueryExecutionId"] for q in batch["QueryExecutions"]] == [query_id]
    assert [u["QueryExecutionId"] for u in batch["UnprocessedQueryExecutionIds"]] == ["not-an-id"]
    athena.stop_query_execution(QueryExecutionId=query_id)  # finished: left as it is
    assert athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] == "SUCCEEDED"
    with pytest.raises(athena.exceptions.InvalidRequestException):
        athena.get_query_results(QueryExecutionId=failed)
    with pytest.raises(athena.exceptions.InvalidRequestException) as raised:
        athena.get_query_execution(QueryExecutionId="0000-missing")
    assert error_of(raised) == ("InvalidRequestException", 400)
    # The state machine front reads the same execution.
    get = {"Type": "Task", "Resource": "arn:aws:states:::athena:getQueryExecution",
           "Parameters": {"QueryExecutionId": query_id}, "OutputPath": "$.QueryExecution.Status.State"}
    ex = emulator.run(chain(("Get", get)), {}, workspace=served.workspace)
    assert (ex.status, ex.output) == ("SUCCEEDED", "SUCCEEDED")


# -- SQS and SNS -----------------------------------------------------------------------------------------
def test_sqs_queue_send_receive_delete_purge(served: Served) -> None:
    sqs = served.client("sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    assert sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "60"})["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "5"})
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix="jo")["QueueUrls"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="first", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "a"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"first").hexdigest()
    sqs.send_message(QueueUrl=url, MessageBody="second")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["VisibilityTimeout"]) == ("2", "60")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, MessageAttributeNames=["All"],
                              MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert [m["Body"] for m in got] == ["first"]
    assert got[0]["MessageAttributes"]["kind"]["StringValue"] == "a"
    assert got[0]["Attributes"] == {"ApproximateReceiveCount": "1"}
    assert got[0]["MessageId"] == sent["MessageId"]
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["second"]  # the first is in flight
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert counts == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "2"}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="bogus")
    sqs.send_message(QueueUrl=url, MessageBody="third")
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as raised:
        sqs.get_queue_url(QueueName="no-such-queue")
    assert error_of(raised) == ("QueueDoesNotExist", 400)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url.replace("jobs", "nothing"), MessageBody="x")


def test_sqs_visibility_timeout_returns_message(served: Served) -> None:
    sqs = served.client("sqs")
    url = sqs.create_queue(QueueName="retries")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    second = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3, AttributeNames=["All"])["Messages"][0]
    assert second["MessageId"] == first["MessageId"]
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"


def test_message_sent_by_a_state_machine_is_received_over_boto3(served: Served) -> None:
    sqs = served.client("sqs")
    send = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/from-sfn",
                           "MessageBody": {"order": 7}}}
    ex = emulator.run(chain(("Send", send)), {}, workspace=served.workspace)
    assert ex.status == "SUCCEEDED", ex.cause
    url = sqs.get_queue_url(QueueName="from-sfn")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"order": 7}]
    assert messages[0]["MessageId"] == ex.output["MessageId"]


def test_sns_topics_publish_and_subscribe(served: Served) -> None:
    sns = served.client("sns")
    arn = sns.create_topic(Name="alerts")["TopicArn"]
    assert arn == "arn:aws:sns:us-east-1:123456789012:alerts"
    assert sns.create_topic(Name="alerts")["TopicArn"] == arn
    assert arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    message_id = sns.publish(TopicArn=arn, Message="disk full", Subject="ops", MessageAttributes={
        "severity": {"DataType": "String", "StringValue": "high"}})["MessageId"]
    recorded = served.backends.outbox.messages(topic="alerts")
    assert [(m["MessageId"], m["Body"], m["Subject"]) for m in recorded] == [(message_id, "disk full", "ops")]
    assert recorded[0]["MessageAttributes"] == {"severity": {"DataType": "String", "StringValue": "high"}}
    subscription = sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@example.com",
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert subscription.startswith(arn + ":")
    with pytest.raises(sns.exceptions.InvalidParameterException) as raised:
        sns.publish(TopicArn=arn, Message="")
    assert error_of(raised) == ("InvalidParameter", 400)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.subscribe(TopicArn=arn + "-missing", Protocol="email", Endpoint="x@example.com")


# -- EMR -------------------------------------------------------------------------------------------------
def test_emr_errors_without_a_cluster(served: Served) -> None:
    emr = served.client("emr")
    with pytest.raises(emr.exceptions.InvalidRequestException) as raised:
        emr.describe_cluster(ClusterId="j-NOSUCHCLUSTER")
    assert error_of(raised) == ("InvalidRequestException", 400)
    with pytest.raises(emr.exceptions.InvalidRequestException):
        emr.list_steps(ClusterId="j-NOSUCHCLUSTER")
    assert emr.list_clusters(ClusterStates=["RUNNING"])["Clusters"] == []


@pytest.mark.skipif(not os.environ.get("SFN_LOCAL_SPARK_TESTS"),
                    reason="starts the Spark JVM (over 60 s on a busy machine); set SFN_LOCAL_SPARK_TESTS=1")
def test_emr_cluster_and_steps_over_boto3_on_spark(served: Served) -> None:
    """One real cluster on the local Spark session: run, describe, list, steps, cancel, terminate."""
    pytest.importorskip("pyspark")
    emr = served.client("emr")
    script = Path(__file__).parent / "spark_fixtures" / "sleepy.py"
    step = {"Name": "count", "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", str(script), "0"]}}
    began = time.time()
    cluster_id = emr.run_job_flow(Name="http-cluster", ReleaseLabel="emr-7.0.0", Steps=[step],
                                  Instances={"KeepJobFlowAliveWhenNoSteps": True})["JobFlowId"]
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert cluster["Name"] == "http-cluster" and cluster["Status"]["State"] in ("STARTING", "RUNNING", "WAITING")
    assert abs(cluster["Status"]["Timeline"]["CreationDateTime"].timestamp() - began) < 60
    listed = emr.list_clusters(ClusterStates=["STARTING", "RUNNING", "WAITING"])["Clusters"]
    assert cluster_id in [c["Id"] for c in listed]
    first = emr.list_steps(ClusterId=cluster_id)["Steps"][0]["Id"]
    deadline = time.monotonic() + 120
    while (state := emr.describe_step(ClusterId=cluster_id, StepId=first)["Step"]["Status"]["State"]) not in (
            "COMPLETED", "FAILED"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state == "COMPLETED"
    second = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[{**step, "Name": "again"}])["StepIds"][0]
    assert [s["Id"] for s in emr.list_steps(ClusterId=cluster_id)["Steps"]] == [second, first]
    refused = emr.cancel_steps(ClusterId=cluster_id, StepIds=[first])["CancelStepsInfoList"][0]
    assert refused["Status"] == "FAILED"  # a completed step cannot be cancelled
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    while (status := emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"])["State"] != "TERMINATED":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["StateChangeReason"]["Code"] == "USER_REQUEST"
    assert cluster_id in [c["Id"] for c in emr.list_clusters(ClusterStates=["TERMINATED"])["Clusters"]]
    with pytest.raises(ClientError) as raised:
        emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[step])
    assert error_of(raised) == ("ValidationException", 400)
