"""The web console's JSON routes and live stream, without a browser: the Starlette app `sfn-local serve`
runs, driven through its ASGI interface, with the real engine, catalog, object store and DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from emulator.console.routes import is_console_request
from emulator.server.app import create_app
from emulator.workspace import Workspace

ROLE = "arn:aws:iam::123456789012:role/test"
PIPELINE = {"StartAt": "Prep", "States": {
    "Prep": {"Type": "Pass", "Result": {"items": [1, 2, 3]}, "Next": "Fan"},
    "Fan": {"Type": "Map", "ItemsPath": "$.items", "Next": "Publish",
            "Retry": [{"ErrorEquals": ["Bad.Item"], "MaxAttempts": 1}],
            "ItemProcessor": {"StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Bad"}],
                          "Default": "Ok"},
                "Bad": {"Type": "Fail", "Error": "Bad.Item", "Cause": "item 2 is bad"},
                "Ok": {"Type": "Pass", "End": True}}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed", "ResultPath": "$.error"}]},
    "Publish": {"Type": "Pass", "End": True},
    "Failed": {"Type": "Fail", "Error": "Pipeline.Failed"}}}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    yield create_app(Workspace(tmp_path / "ws", project=tmp_path))


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def start(app: Any, name: str, definition: dict[str, Any], execution: str) -> str:
    sfn = app.state.stepfunctions
    machine = sfn.call("CreateStateMachine", {"name": name, "definition": json.dumps(definition), "roleArn": ROLE})
    return sfn.call("StartExecution", {"stateMachineArn": machine["stateMachineArn"], "name": execution})["executionArn"]


def finished(app: Any, arn: str) -> None:
    deadline = time.monotonic() + 10
    while app.state.stepfunctions.call("DescribeExecution", {"executionArn": arn})["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_failed_execution_view(app: Any, client: TestClient) -> None:
    arn = start(app, "Pipeline", PIPELINE, "batch-1")
    finished(app, arn)
    view = client.get("/ui/api/execution", params={"arn": arn}).json()
    assert view["execution"]["status"] == "FAILED"
    assert view["states"] == {"Prep": "succeeded", "Fan": "caught", "Check": "succeeded", "Ok": "succeeded",
                              "Bad": "failed", "Failed": "failed"}
    fan = next(v for v in view["visits"] if v["name"] == "Fan")
    assert len(fan["attempts"]) == 2 and fan["caught"] and fan["exited"]  # retried once, then caught
    assert "Publish" not in view["states"]
    bad = [v for v in view["visits"] if v["name"] == "Bad"]
    assert [v["label"] for v in bad] == ["Fan[1].Bad", "Fan[1].Bad"] and bad[0]["place"] == [["Fan", 1]]
    assert bad[0]["error"] == {"error": "Bad.Item", "cause": "item 2 is bad"}
    prep = view["visits"][0]
    assert prep["stages"] == {"input": {}, "output": {"items": [1, 2, 3]}}
    assert prep["exitedAt"] >= prep["entered"] >= view["execution"]["startDate"]
    cause = view["rootCause"]
    assert (cause["state"], cause["label"], cause["error"]) == ("Bad", "Fan[1].Bad", "Bad.Item")
    assert "caught by 'Fan'" in cause["travel"]
    # Every event is there, and each state's events are placed with its visit.
    assert [e["id"] for e in view["events"]] == list(range(1, len(view["events"]) + 1))
    owners = view["owners"]
    by_id = {e["id"]: e for e in view["events"]}
    for event in view["events"]:
        if event["type"] in ("MapIterationFailed", "MapStateFailed", "MapStateStarted"):
            assert by_id[owners[str(event["id"])]]["type"] == "MapStateEntered"


def test_running_execution_streams_until_it_ends(app: Any, client: TestClient) -> None:
    sfn = app.state.stepfunctions
    activity = sfn.call("CreateActivity", {"name": "approve"})["activityArn"]
    definition = {"StartAt": "Approve", "States": {
        "Approve": {"Type": "Task", "Resource": activity, "Next": "After"}, "After": {"Type": "Pass", "End": True}}}
    arn = start(app, "Live", definition, "live-1")
    deadline = time.monotonic() + 10
    while client.get("/ui/api/execution", params={"arn": arn}).json()["states"].get("Approve") != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)

    def finish() -> None:
        time.sleep(0.5)
        task = sfn.call("GetActivityTask", {"activityArn": activity})
        sfn.call("SendTaskSuccess", {"taskToken": task["taskToken"], "output": "{\"ok\": true}"})

    threading.Thread(target=finish).start()
    seen: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", "/ui/api/stream", params={"arn": arn}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: "):]
            elif line.startswith("data: "):
                seen.append((kind or "", json.loads(line[len("data: "):])))
    assert seen[0][0] == "execution" and seen[0][1]["states"] == {"Approve": "running"}
    assert seen[-1] == ("end", {})
    last = seen[-2][1]
    assert last["execution"]["status"] == "SUCCEEDED"
    assert last["states"] == {"Approve": "succeeded", "After": "succeeded"}
    assert last["visits"][0]["stages"]["result"] == {"ok": True}


def test_lists_filter_by_status_and_name(app: Any, client: TestClient) -> None:
    failed = start(app, "Pipeline", PIPELINE, "batch-1")
    ok = start(app, "Tiny", {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}, "tiny-run")
    finished(app, failed)
    finished(app, ok)
    machines = {m["name"]: m for m in client.get("/ui/api/state-machines").json()}
    assert machines["Pipeline"]["counts"] == {"FAILED": 1} and machines["Tiny"]["counts"] == {"SUCCEEDED": 1}
    assert [x["name"] for x in client.get("/ui/api/executions").json()] == ["tiny-run", "batch-1"]
    assert [x["name"] for x in client.get("/ui/api/executions", params={"status": "FAILED"}).json()] == ["batch-1"]
    assert [x["name"] for x in client.get("/ui/api/executions", params={"name": "TINY"}).json()] == ["tiny-run"]
    machine = machines["Tiny"]["stateMachineArn"]
    assert [x["name"] for x in client.get("/ui/api/executions", params={"machine": machine}).json()] == ["tiny-run"]
    bad = client.get("/ui/api/executions", params={"status": "DONE"})
    assert bad.status_code == 400 and "unknown status 'DONE'" in bad.json()["error"]
    missing = client.get("/ui/api/execution", params={"arn": ok.replace("tiny-run", "nope")})
    assert missing.status_code == 404 and "ExecutionDoesNotExist" in missing.json()["error"]


def test_data_routes(app: Any, client: TestClient) -> None:
    backends = app.state.backends
    backends.object_store.create_bucket("lake")
    backends.object_store.put("lake", "sales/year=2024/part-0.csv", b"id,amount\n1,10\n2,32\n")
    backends.object_store.put("lake", "sales/year=2025/part-0.csv", b"id,amount\n3,5\n")
    catalog = backends.catalog
    catalog.create_database({"Name": "shop"})
    text = {"InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                          "Parameters": {"field.delim": ","}}}
    catalog.create_table("shop", {
        "Name": "sales", "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "csv",
                                                                        "skip.header.line.count": "1"},
        "PartitionKeys": [{"Name": "year", "Type": "string"}],
        "StorageDescriptor": {**text, "Location": "s3://lake/sales/",
                              "Columns": [{"Name": "id", "Type": "int"}, {"Name": "amount", "Type": "int"}]}})
    catalog.batch_create_partitions("shop", "sales", [
        {"Values": [year], "StorageDescriptor": {**text, "Location": f"s3://lake/sales/year={year}/"}}
        for year in ("2024", "2025")])
    listed = client.get("/ui/api/catalog").json()
    assert [(d["Name"], [t["Name"] for t in d["Tables"]]) for d in listed] == [("shop", ["sales"])]
    table = listed[0]["Tables"][0]
    assert table["Columns"] == 2 and table["PartitionKeys"] == ["year"] and table["Location"] == "s3://lake/sales/"
    database = "shop"
    detail = client.get(f"/ui/api/catalog/{database}/sales").json()
    assert [c["Name"] for c in detail["Table"]["StorageDescriptor"]["Columns"]] == ["id", "amount"]
    assert sorted(p["Values"] for p in detail["Partitions"]) == [["2024"], ["2025"]]
    assert client.get(f"/ui/api/catalog/{database}/nope").status_code == 404

    answer = client.post("/ui/api/query", json={"sql": "SELECT year, sum(amount) AS total FROM sales GROUP BY year "
                                                       "ORDER BY year", "database": database}).json()
    assert answer["state"] == "SUCCEEDED", answer
    assert [c["name"] for c in answer["columns"]] == ["year", "total"]
    assert answer["rows"] == [["2024", "42"], ["2025", "5"]]
    wrong = client.post("/ui/api/query", json={"sql": "SELECT * FROM missing_table", "database": database}).json()
    assert wrong["state"] == "FAILED" and "missing_table" in wrong["reason"]
    assert client.post("/ui/api/query", json={"database": "x"}).status_code == 400

    assert "lake" in client.get("/ui/api/buckets").json()
    top = client.get("/ui/api/buckets/lake", params={"prefix": "sales/"}).json()
    assert top["prefixes"] == ["sales/year=2024/", "sales/year=2025/"] and top["objects"] == []
    preview = client.get("/ui/api/object", params={"bucket": "lake", "key": "sales/year=2025/part-0.csv"}).json()
    assert preview["text"] == "id,amount\n3,5\n" and preview["size"] == 14
    assert client.get("/ui/api/object", params={"bucket": "lake", "key": "nope"}).status_code == 404


def test_console_never_takes_aws_requests(client: TestClient) -> None:
    page = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 307 and page.headers["location"] == "/ui/"
    html = client.get("/ui/")
    assert html.status_code == 200 and "/ui/static/vendor/elk.bundled.js" in html.text
    for asset in ("app.js", "style.css", "vendor/elk.bundled.js"):
        assert client.get(f"/ui/static/{asset}").status_code == 200, asset
    # A signed S3 request for a bucket called `ui` is S3's, as is an AWS JSON call to `/`.
    signed = client.get("/ui/some-key", headers={"authorization": "AWS4-HMAC-SHA256 Credential=x/..."})
    assert signed.status_code == 404 and "NoSuchBucket" in signed.text
    listing = client.post("/", headers={"x-amz-target": "AWSStepFunctions.ListStateMachines",
                                        "content-type": "application/x-amz-json-1.0"}, content=b"{}")
    assert listing.json() == {"stateMachines": []}


@pytest.mark.parametrize(("method", "path", "headers", "query", "expected"), [
    ("GET", "/ui/", {}, b"", True),
    ("GET", "/", {"accept": "text/html,application/xhtml+xml"}, b"", True),
    ("GET", "/", {}, b"", False),  # S3 ListBuckets from an unsigned client
    ("GET", "/ui/key", {"authorization": "AWS4-HMAC-SHA256 ..."}, b"", False),
    ("GET", "/ui/key", {}, b"X-Amz-Signature=abc&X-Amz-Credential=x", False),
    ("POST", "/ui/api/query", {"x-amz-target": "AmazonAthena.StartQueryExecution"}, b"", False),
    ("PUT", "/ui/key", {}, b"", False),
    ("GET", "/uix/key", {}, b"", False),
])
def test_console_request_routing(method: str, path: str, headers: dict[str, str], query: bytes,
                                 expected: bool) -> None:
    scope = {"type": "http", "method": method, "path": path, "query_string": query,
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    assert is_console_request(scope) is expected


def test_ui_command_opens_a_running_server_or_starts_one(tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("sfn-local")
    env = {**os.environ, "SFN_LOCAL_WORKSPACE": str(tmp_path / "ws")}
    first = subprocess.Popen([str(command), "ui", "--no-browser", "--port", "0"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = first.stdout.readline()
        assert line.startswith("sfn-local serving on http://127.0.0.1:"), line + first.stderr.read()
        url = line.split()[3]
        with urllib.request.urlopen(f"{url}/ui/api/info", timeout=10) as response:
            assert json.loads(response.read())["workspace"] == str(tmp_path / "ws")
        port = url.rsplit(":", 1)[1]
        second = subprocess.run([str(command), "ui", "--no-browser", "--port", port], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr
        assert second.stdout.strip() == f"sfn-local console: {url}/ui/ (the server already running there)"
    finally:
        first.terminate()
        first.wait(20)
        first.stdout.close()
        first.stderr.close()


def test_a_visits_data_flow_stages_are_rebuilt_from_its_history(app: Any, client: TestClient) -> None:
    """Clicking a Task shows every stage (afterInputPath ... afterResultPath), rebuilt from the recorded
    input, variables and result without calling the task again."""
    definition = {"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"factor": 10}, "Next": "Price"},
        "Price": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "InputPath": "$.order",
                  "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                                 "MessageBody.$": "States.Format('{} x {}', $.qty, $factor)"},
                  "ResultSelector": {"id.$": "$.MessageId"}, "ResultPath": "$.sent", "End": True}}}
    sfn = app.state.stepfunctions
    machine = sfn.call("CreateStateMachine", {"name": "Stages", "definition": json.dumps(definition), "roleArn": ROLE})
    arn = sfn.call("StartExecution", {"stateMachineArn": machine["stateMachineArn"], "name": "s-1",
                                      "input": json.dumps({"order": {"qty": 3}})})["executionArn"]
    finished(app, arn)
    view = client.get("/ui/api/execution", params={"arn": arn}).json()
    assert view["execution"]["status"] == "SUCCEEDED", view["execution"]
    price = next(v for v in view["visits"] if v["name"] == "Price")
    sent = view["visits"][-1]["stages"]["output"]["sent"]
    answer = client.get("/ui/api/stages", params={"arn": arn, "visit": price["id"]}).json()
    stages = answer["stages"]
    assert stages["input"] == {"order": {"qty": 3}}
    assert stages["afterInputPath"] == {"qty": 3}
    assert stages["afterParameters"]["MessageBody"] == "3 x 10"  # the variable assigned before the visit
    assert stages["afterResultSelector"] == sent == {"id": sent["id"]}
    assert stages["afterResultPath"] == {"order": {"qty": 3}, "sent": sent}  # ResultPath over the state's input
    assert client.get("/ui/api/stages", params={"arn": arn, "visit": "x"}).status_code == 400


def test_a_nested_execution_is_listed_and_linked_both_ways(app: Any, client: TestClient) -> None:
    """A child started by states:startExecution.sync is an execution of its machine (ListExecutions shows it),
    and the console links parent → child and child → parent."""
    sfn = app.state.stepfunctions
    child = sfn.call("CreateStateMachine", {"name": "Child", "roleArn": ROLE, "definition": json.dumps(
        {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)"},
                                                    "End": True}}})})["stateMachineArn"]
    parent = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": True,
        "Parameters": {"StateMachineArn": child, "Name": "child-1",
                       "Input": {"n.$": "$.n", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
        "OutputPath": "$.Output"}}}
    machine = sfn.call("CreateStateMachine", {"name": "Parent", "definition": json.dumps(parent), "roleArn": ROLE})
    arn = sfn.call("StartExecution", {"stateMachineArn": machine["stateMachineArn"], "name": "p-1",
                                      "input": json.dumps({"n": 2})})["executionArn"]
    finished(app, arn)
    listed = sfn.call("ListExecutions", {"stateMachineArn": child})["executions"]
    assert [(e["name"], e["status"]) for e in listed] == [("child-1", "SUCCEEDED")]
    view = client.get("/ui/api/execution", params={"arn": arn}).json()
    assert view["execution"]["status"] == "SUCCEEDED" and json.loads(view["execution"]["output"]) == {"n": 4}
    [link] = view["children"]
    assert link["known"] and link["executionArn"].endswith(":execution:Child:child-1")
    child_view = client.get("/ui/api/execution", params={"arn": link["executionArn"]}).json()
    assert child_view["parent"] == arn and child_view["parentKnown"]
    assert [v["name"] for v in child_view["visits"]] == ["Double"]


def test_a_child_name_already_taken_fails_the_task_as_aws_does(app: Any) -> None:
    sfn = app.state.stepfunctions
    child = sfn.call("CreateStateMachine", {"name": "Kid", "roleArn": ROLE, "definition": json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})})["stateMachineArn"]
    parent = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": True,
        "Parameters": {"StateMachineArn": child, "Name": "only-once"}}}}
    machine = sfn.call("CreateStateMachine", {"name": "Caller", "definition": json.dumps(parent), "roleArn": ROLE})
    arns = []
    for name in ("first", "second"):
        arns.append(sfn.call("StartExecution", {"stateMachineArn": machine["stateMachineArn"],
                                                "name": name})["executionArn"])
        finished(app, arns[-1])
    first, second = (sfn.call("DescribeExecution", {"executionArn": arn}) for arn in arns)
    assert first["status"] == "SUCCEEDED"
    assert (second["status"], second["error"]) == ("FAILED", "StepFunctions.ExecutionAlreadyExistsException")
    assert "Execution Already Exists: 'arn:aws:states:us-east-1:123456789012:execution:Kid:only-once'" in second["cause"]
    assert [e["name"] for e in sfn.call("ListExecutions", {"stateMachineArn": child})["executions"]] == ["only-once"]
