"""Lambda handlers that call boto3 reach the execution's local services, with no change to their code."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig

import emulator
from emulator.backends import Backends
from emulator.workspace import Workspace
from tests.boto_handlers import land_and_crawl

ROOT = Path(__file__).resolve().parents[1]
EVENT = {"bucket": "landing", "prefix": "events/", "crawler": "events-crawler", "database": "raw"}

PIPELINE = {
    "StartAt": "Land",
    "States": {
        "Land": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "land", "Payload.$": "$"},
                 "ResultSelector": {"key.$": "$.Payload.key", "crawl.$": "$.Payload.crawl",
                                    "region.$": "$.Payload.region", "endpoint.$": "$.Payload.endpoint"},
                 "ResultPath": "$.landed", "Next": "Read"},
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                 "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.landed.key"},
                 "ResultSelector": {"body.$": "$.Body"}, "ResultPath": "$.read", "Next": "Table"},
        "Table": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:getTable",
                  "Parameters": {"DatabaseName.$": "$.database", "Name": "events"},
                  "ResultSelector": {"columns.$": "$.Table.StorageDescriptor.Columns[*].Name",
                                     "location.$": "$.Table.StorageDescriptor.Location"},
                  "ResultPath": "$.table", "End": True},
    },
}


def check(output: dict[str, Any]) -> str:
    """Asserts the pipeline's output; returns the endpoint the handler's clients used."""
    endpoint = output["landed"].pop("endpoint")
    assert endpoint.startswith("http://127.0.0.1:")
    assert output["landed"] == {"key": "events/part-0.csv", "crawl": "SUCCEEDED", "region": "us-east-1"}
    assert output["read"]["body"] == "id,city\n1,Oslo\n2,Lima\n"
    assert output["table"]["columns"] == ["id", "city"]
    assert output["table"]["location"] == "s3://landing/events/"
    return endpoint


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address this process connects a socket to while the test runs."""
    seen: list[Any] = []
    connect = socket.socket.connect

    def record(self: socket.socket, address: Any) -> None:
        seen.append(address)
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", record)
    return seen


def test_handler_boto3_calls_reach_the_run_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     connections: list[Any]) -> None:
    # A user's own endpoint and credentials would send the handler off this machine: overridden, then restored.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://aws.example.invalid")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.invalid")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSERKEY")
    monkeypatch.delenv("AWS_REGION", raising=False)
    workspace = Workspace(root=tmp_path / "ws", project=tmp_path)
    ex = emulator.run(PIPELINE, EVENT, resources={"land": land_and_crawl}, workspace=workspace)
    assert ex.status == "SUCCEEDED", ex
    check(ex.output)
    # What the handler wrote is in the run's workspace, not somewhere else.
    assert Backends(workspace).object_store.local_path("s3://landing/events/part-0.csv").is_file()
    hosts = {address[0] for address in connections}
    assert hosts, "the handler made no connection at all"
    assert all(ipaddress.ip_address(host).is_loopback for host in hosts), hosts
    assert os.environ["AWS_ENDPOINT_URL"] == "https://aws.example.invalid"
    assert os.environ["AWS_ENDPOINT_URL_S3"] == "https://s3.example.invalid"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAUSERKEY"
    assert "AWS_REGION" not in os.environ


def put_marker(event: dict[str, Any]) -> str:
    import boto3

    key = f"markers/{event['n']}.json"
    boto3.client("s3").put_object(Bucket="landing", Key=key, Body=json.dumps(event).encode())
    return key


def test_map_iterations_share_the_endpoint(tmp_path: Path, connections: list[Any]) -> None:
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 4, "End": True,
        "ItemProcessor": {"StartAt": "Put", "States": {"Put": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:put", "End": True}}}}}}
    workspace = Workspace(root=tmp_path / "ws", project=tmp_path)
    Backends(workspace).object_store.create_bucket("landing")
    items = [{"n": n} for n in range(8)]
    ex = emulator.run(definition, {"items": items}, resources={"put": put_marker}, workspace=workspace)
    assert ex.status == "SUCCEEDED"
    assert ex.output == [f"markers/{n}.json" for n in range(8)]
    store = Backends(workspace).object_store
    for n in range(8):
        assert json.loads(store.local_path(f"s3://landing/markers/{n}.json").read_text()) == {"n": n}
    assert all(ipaddress.ip_address(address[0]).is_loopback for address in connections)


def test_sfn_local_run_with_a_boto3_handler(tmp_path: Path) -> None:
    definition = tmp_path / "pipeline.asl.json"
    definition.write_text(json.dumps(PIPELINE))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SFN_LOCAL_WORKSPACE": str(tmp_path / "ws"),
           "AWS_ENDPOINT_URL": "https://aws.example.invalid"}
    env.pop("AWS_ACCESS_KEY_ID", None)
    done = subprocess.run([sys.executable, "-c", "from emulator.cli import main; main()", "run", str(definition),
                           "--input", json.dumps(EVENT), "--handler", "land=tests.boto_handlers:land_and_crawl",
                           "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    check(result["output"])
    assert (tmp_path / "ws" / "s3" / "landing" / "events" / "part-0.csv").is_file()


def test_sfn_local_serve_handlers_call_the_server_itself(tmp_path: Path) -> None:
    (tmp_path / "sfn-local.toml").write_text('[lambdas]\nland = "tests.boto_handlers:land_and_crawl"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-c", "from emulator.cli import main; main()", "--workspace",
                               str(tmp_path / "ws"), "serve", "--port", "0"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[3]
        sfn = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                           aws_secret_access_key="testing", config=BotoConfig(inject_host_prefix=False))
        arn = sfn.create_state_machine(name="pipeline", definition=json.dumps(PIPELINE),
                                       roleArn="arn:aws:iam::123456789012:role/sfn", type="EXPRESS")["stateMachineArn"]
        done = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps(EVENT))
        assert done["status"] == "SUCCEEDED", done
        assert check(json.loads(done["output"])) == url
    finally:
        server.terminate()
        server.wait(10)
