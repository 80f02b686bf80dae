"""EventBridge rules run locally: S3 objects (written or dropped into a watched folder), execution status
changes and schedules start state machines, each event once, across processes and restarts."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from emulator import StateMachine
from emulator.backends import Backends, events
from emulator.events import runner as runner_module
from emulator.events.rules import TargetInputError, parse_rule
from emulator.events.runner import Firing, RuleRunner, RunnerBusy
from emulator.watch import start_rules_thread
from emulator.workspace import ConfigError, Workspace, load_config

ROOT = Path(__file__).resolve().parents[1]
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"
ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True}}}
FLAKY = {"StartAt": "Check", "States": {
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Broke"}],
              "Default": "Fine"},
    "Broke": {"Type": "Fail", "Error": "Flaky.Failed", "Cause": "asked to fail"},
    "Fine": {"Type": "Succeed"}}}
CONFIG = f"""
[buckets]
dropzone = "drop"

[rules.landed]
EventPattern = '{{"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {{"bucket": {{"name": ["dropzone", "inbox"]}}, "object": {{"key": [{{"prefix": "in/"}}]}}}}}}'
Targets = [{{ Id = "echo", Arn = "{ARN}Echo", InputTransformer = {{ InputPathsMap = {{ b = "$.detail.bucket.name", k = "$.detail.object.key", size = "$.detail.object.size" }}, InputTemplate = '{{"file": "s3://<b>/<k>", "size": <size>, "rule": "<aws.events.rule-name>"}}' }} }}]

[rules.removed]
EventPattern = {{ source = ["aws.s3"], "detail-type" = ["Object Deleted"] }}
Targets = [{{ Id = "gone", Arn = "{ARN}Echo", InputPath = "$.detail.object.key" }}]

[rules.failed-runs]
EventPattern = {{ source = ["aws.states"], "detail-type" = ["Step Functions Execution Status Change"], detail = {{ status = ["FAILED"], stateMachineArn = [{{ suffix = ":stateMachine:Flaky" }}] }} }}
Targets = [{{ Id = "alert", Arn = "{ARN}Echo", InputTransformer = {{ InputPathsMap = {{ name = "$.detail.name", error = "$.detail.error" }}, InputTemplate = '{{"failed": <name>, "message": "execution <name> failed with <error>"}}' }} }}]

[rules.quarter-hour]
ScheduleExpression = "rate(15 minutes)"
Targets = [{{ Id = "tick", Arn = "{ARN}Echo", Input = '{{"tick": true}}' }}]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "definitions").mkdir(parents=True)
    (folder / "drop" / "in").mkdir(parents=True)
    (folder / "definitions" / "Echo.asl.json").write_text(json.dumps(ECHO))
    (folder / "definitions" / "Flaky.asl.json").write_text(json.dumps(FLAKY))
    (folder / "sfn-local.toml").write_text(CONFIG)
    return folder


@pytest.fixture
def ws(project: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setattr(runner_module, "SETTLE_SECONDS", 0.0)  # files written by the test are complete
    return Workspace(project / ".ws", project=project)


def sfn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SFN_LOCAL_WORKSPACE": str(cwd / ".ws")}
    return subprocess.run([sys.executable, "-c", "from emulator.cli import main; main()", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def started(fired: list[Firing]) -> list[tuple[str, str, Any]]:
    out = []
    for firing in fired:
        assert firing.execution is not None, firing.error
        out.append((firing.rule, firing.execution.status, firing.execution.output["got"]))
    return out


def test_an_object_written_through_the_store_starts_the_target_once(ws: Workspace) -> None:
    store = Backends(ws).object_store
    with RuleRunner(ws) as runner:
        store.put("inbox", "in/a.csv", b"id,n\n1,2\n")
        store.put("inbox", "elsewhere/b.csv", b"id\n1\n")  # outside the rule's prefix
        store.copy("inbox", "in/a.csv", "archive", "in/a.csv")  # a bucket the rule does not name
        assert started(runner.step()) == [("landed", "SUCCEEDED", {"file": "s3://inbox/in/a.csv", "size": 9,
                                                                      "rule": "landed"})]
        # The watched folder holds the same object version: the scan does not report it again.
        assert runner.step() == [] and runner.step() == []
        store.delete("inbox", "in/a.csv")
        assert started(runner.step()) == [("removed", "SUCCEEDED", "in/a.csv")]
    log = [json.loads(line) for line in (ws.root / "events" / "fired.jsonl").read_text().splitlines()]
    assert [(r["rule"], r["status"]) for r in log] == [("landed", "SUCCEEDED"), ("removed", "SUCCEEDED")]


def test_the_s3_event_has_eventbridges_shape(ws: Workspace) -> None:
    start = events.end_offset(ws)
    Backends(ws).object_store.put("inbox", "in/shape.csv", b"abc")
    [(_, event, _)] = events.read(ws, start)
    assert {k: event[k] for k in ("version", "detail-type", "source", "region", "resources")} == {
        "version": "0", "detail-type": "Object Created", "source": "aws.s3", "region": "us-east-1",
        "resources": ["arn:aws:s3:::inbox"]}
    detail = event["detail"]
    assert detail["bucket"] == {"name": "inbox"} and detail["reason"] == "PutObject"
    assert detail["object"]["key"] == "in/shape.csv" and detail["object"]["size"] == 3
    assert detail["object"]["etag"] == "900150983cd24fb0d6963f7d28e17f72"  # md5("abc"), unquoted as EventBridge sends


def test_writes_through_the_s3_endpoint_give_their_reasons(ws: Workspace) -> None:
    import boto3

    from emulator.server.serve import start_in_thread

    url, stop = start_in_thread(ws)
    try:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
        s3.create_bucket(Bucket="inbox")
        start = events.end_offset(ws)
        s3.put_object(Bucket="inbox", Key="in/put.csv", Body=b"1")
        s3.copy_object(Bucket="inbox", Key="in/copy.csv", CopySource={"Bucket": "inbox", "Key": "in/put.csv"})
        upload = s3.create_multipart_upload(Bucket="inbox", Key="in/parts.csv")
        part = s3.upload_part(Bucket="inbox", Key="in/parts.csv", UploadId=upload["UploadId"], PartNumber=1,
                              Body=b"x" * 10)
        s3.complete_multipart_upload(Bucket="inbox", Key="in/parts.csv", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
        s3.delete_object(Bucket="inbox", Key="in/put.csv")
        s3.delete_object(Bucket="inbox", Key="in/never-there.csv")
        etag = s3.head_object(Bucket="inbox", Key="in/parts.csv")["ETag"].strip('"')
    finally:
        stop()
    seen = [(e["detail-type"], e["detail"]["object"]["key"], e["detail"]["reason"], e["detail"]["object"].get("etag"))
            for _, e, _ in events.read(ws, start) if e["source"] == "aws.s3"]
    assert seen == [("Object Created", "in/put.csv", "PutObject", "c4ca4238a0b923820dcc509a6f75849b"),
                    ("Object Created", "in/copy.csv", "CopyObject", "c4ca4238a0b923820dcc509a6f75849b"),
                    ("Object Created", "in/parts.csv", "CompleteMultipartUpload", etag),
                    ("Object Deleted", "in/put.csv", "DeleteObject", None)]
    assert etag.endswith("-1")


def test_a_file_dropped_into_a_watched_folder_fires_once_and_again_when_it_changes(ws: Workspace,
                                                                                   project: Path) -> None:
    (project / "drop" / "in" / "before.csv").write_text("there before the watch\n")
    with RuleRunner(ws) as runner:
        dropped = project / "drop" / "in" / "new.csv"
        dropped.write_text("id\n1\n")
        (project / "drop" / "in" / ".hidden.csv").write_text("editor swap file\n")
        assert runner.step() == []  # the scan publishes; the next step handles it
        assert started(runner.step()) == [("landed", "SUCCEEDED", {"file": "s3://dropzone/in/new.csv", "size": 5,
                                                                      "rule": "landed"})]
        assert runner.step() == [] and runner.step() == []
        dropped.write_text("id\n1\n2\n")
        runner.step()
        assert started(runner.step()) == [("landed", "SUCCEEDED", {"file": "s3://dropzone/in/new.csv", "size": 7,
                                                                      "rule": "landed"})]
        dropped.unlink()
        runner.step()
        assert started(runner.step()) == [("removed", "SUCCEEDED", "in/new.csv")]
        assert runner.step() == []


def test_a_file_still_being_written_waits_until_it_is_still(ws: Workspace, project: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_module, "SETTLE_SECONDS", 0.5)
    with RuleRunner(ws) as runner:
        (project / "drop" / "in" / "slow.csv").write_text("id\n")
        assert runner.step() == [] and runner.step() == []
        time.sleep(0.6)
        runner.step()
        assert len(runner.step()) == 1


def test_events_of_other_processes_are_handled_once_across_restarts(ws: Workspace, project: Path) -> None:
    source = project / "data.csv"
    source.write_text("id\n1\n")
    first = RuleRunner(ws)
    first.open()
    try:
        assert sfn("s3", "cp", str(source), "s3://inbox/in/one.csv", cwd=project).returncode == 0
        assert [f.event["detail"]["object"]["key"] for f in first.step()] == ["in/one.csv"]
        with pytest.raises(RunnerBusy, match="already run by process"):
            RuleRunner(ws).open()
        busy = sfn("watch", "--timeout", "1", cwd=project)
        assert busy.returncode == 2 and "already run by process" in busy.stderr
    finally:
        first.close()
    assert sfn("s3", "cp", str(source), "s3://inbox/in/two.csv", cwd=project).returncode == 0  # nobody watching
    with RuleRunner(ws) as second:
        assert started(second.step()) == [("landed", "SUCCEEDED", {"file": "s3://inbox/in/two.csv", "size": 5,
                                                                      "rule": "landed"})]
    with RuleRunner(ws) as third:
        assert third.step() == []


def test_a_failed_execution_starts_another_machine_with_its_status_event(ws: Workspace, project: Path) -> None:
    flaky = StateMachine(project / "definitions" / "Flaky.asl.json", name="Flaky", workspace=ws)
    with RuleRunner(ws) as runner:
        failed = flaky.run({"fail": True}, name="nightly-1")
        flaky.run({"fail": False}, name="nightly-2")
        assert failed.status == "FAILED"
        assert started(runner.step()) == [("failed-runs", "SUCCEEDED", {
            "failed": "nightly-1", "message": "execution nightly-1 failed with Flaky.Failed"})]
    statuses = [(e["detail"]["name"], e["detail"]["status"]) for _, e, _ in events.read(ws, 0)
                if e["source"] == "aws.states" and e["detail"]["name"].startswith("nightly")]
    assert statuses == [("nightly-1", "RUNNING"), ("nightly-1", "FAILED"), ("nightly-2", "RUNNING"),
                        ("nightly-2", "SUCCEEDED")]


EVENT = {"id": "e-1", "time": "2026-01-01T00:00:00Z", "source": "aws.s3",
         "detail": {"object": {"key": 'in/"quoted".csv', "size": 3}, "tags": ["a", "b"]}}


@pytest.mark.parametrize(("target", "expected"), [
    ({"InputTransformer": {"InputPathsMap": {"k": "$.detail.object.key"}, "InputTemplate": '{"key": <k>}'}},
     {"key": 'in/"quoted".csv'}),
    ({"InputTransformer": {"InputPathsMap": {"k": "$.detail.object.key"}, "InputTemplate": '{"msg": "got <k>!"}'}},
     {"msg": 'got in/"quoted".csv!'}),
    ({"InputTransformer": {"InputPathsMap": {"o": "$.detail.object", "t": "$.detail.tags"},
                           "InputTemplate": '{"object": <o>, "tags": <t>, "text": "<o>"}'}},
     {"object": {"key": 'in/"quoted".csv', "size": 3}, "tags": ["a", "b"],
      "text": '{"key": "in/\\"quoted\\".csv", "size": 3}'}),
    ({"InputTransformer": {"InputPathsMap": {"v": "$.detail.nothing"}, "InputTemplate": '{"v": <v>, "s": "[<v>]"}'}},
     {"v": None, "s": "[]"}),
    ({"InputTransformer": {"InputTemplate": '{"rule": "<aws.events.rule-name>", "arn": <aws.events.rule-arn>, '
                                            '"event": <aws.events.event>, "literal": "<b>"}'}},
     {"rule": "r", "arn": "arn:aws:events:us-east-1:123456789012:rule/r", "event": EVENT, "literal": "<b>"}),
    ({"InputTransformer": {"InputPathsMap": {"n": "$.detail.object.size"}, "InputTemplate": '"size is <n>"'}},
     "size is 3"),
    ({"InputPath": "$.detail.tags"}, ["a", "b"]),
    ({"Input": '{"fixed": [1, 2]}'}, {"fixed": [1, 2]}),
    ({}, EVENT),
])
def test_target_input(target: dict[str, Any], expected: Any) -> None:
    rule = parse_rule("r", {"EventPattern": {"source": ["aws.s3"]},
                            "Targets": [{"Id": "t", "Arn": f"{ARN}Echo", **target}]})
    assert rule.targets[0].input_for(EVENT, rule) == expected


def test_a_template_that_is_not_json_is_a_failed_firing() -> None:
    rule = parse_rule("r", {"EventPattern": {"source": ["aws.s3"]}, "Targets": [
        {"Id": "t", "Arn": f"{ARN}Echo", "InputTransformer": {"InputPathsMap": {"k": "$.detail.object.key"},
                                                             "InputTemplate": "<k> landed"}}]})
    with pytest.raises(TargetInputError, match="not JSON"):
        rule.targets[0].input_for(EVENT, rule)


@pytest.mark.parametrize(("rule", "where"), [
    ({"Targets": []}, "[rules.bad]: a rule needs an EventPattern or a ScheduleExpression"),
    ({"EventPattern": {"source": "aws.s3"}}, "[rules.bad] EventPattern.source: \"aws.s3\" must be an object or an array"),
    ({"EventPattern": '{"source": [}'}, "[rules.bad] EventPattern: not valid JSON"),
    ({"ScheduleExpression": "rate(1 minutes)"}, "[rules.bad] ScheduleExpression: rate(1 minutes): the unit is singular"),
    ({"ScheduleExpression": "rate(1 day)", "State": "ON"}, "[rules.bad] State: expected ENABLED or DISABLED"),
    ({"ScheduleExpression": "rate(1 day)", "Tags": []}, "[rules.bad]: unknown key(s) Tags"),
    ({"ScheduleExpression": "rate(1 day)", "Targets": [{"Id": "t", "Arn": "arn:aws:lambda:us-east-1:1:function:f"}]},
     "[rules.bad] Targets[0].Arn: expected a state machine ARN"),
    ({"ScheduleExpression": "rate(1 day)", "Targets": [{"Id": "t", "Arn": f"{ARN}Missing"}]},
     "[rules.bad] Targets[0].Arn: no definitions/Missing.asl.json"),
    ({"ScheduleExpression": "rate(1 day)", "Targets": [{"Id": "t", "Arn": f"{ARN}Echo", "Input": "{}",
                                                        "InputPath": "$"}]},
     "[rules.bad] Targets[0]: give at most one of Input, InputPath and InputTransformer"),
    ({"ScheduleExpression": "rate(1 day)", "Targets": [{"Id": "t", "Arn": f"{ARN}Echo",
                                                        "InputTransformer": {"InputPathsMap": {"k": "detail"},
                                                                             "InputTemplate": "<k>"}}]},
     "[rules.bad] Targets[0].InputTransformer.InputPathsMap.k: not a JSONPath"),
])
def test_config_errors_name_the_rule_and_key(project: Path, rule: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rule("bad", rule, "sfn-local.toml", project)
    assert f"sfn-local.toml: {where}" in str(caught.value)


def test_watch_refuses_a_bad_rule_with_its_key(project: Path) -> None:
    (project / "sfn-local.toml").write_text('[rules.bad]\nScheduleExpression = "cron(0 12 * * * *)"\n')
    result = sfn("watch", "--clock", "virtual", "--until", "1h", cwd=project)
    assert result.returncode == 2
    assert "[rules.bad] ScheduleExpression: cron: exactly one of Day-of-month and Day-of-week" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_schedule_fires_on_the_virtual_clock(project: Path) -> None:
    began = time.monotonic()
    result = sfn("watch", "--clock", "virtual", "--start", "2026-01-01T00:00:00Z", "--until", "1h", "--json",
                 cwd=project)
    wall = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    fired = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(f["rule"], f["eventTime"], f["status"]) for f in fired] == [
        ("quarter-hour", f"2026-01-01T{t}Z", "SUCCEEDED") for t in ("00:15:00", "00:30:00", "00:45:00", "01:00:00")]
    assert wall < 30  # an hour of schedule without sleeping through it
    with contextlib.closing(sqlite3.connect(project / ".ws" / "stepfunctions" / "store.sqlite3")) as db:
        saved = json.loads(db.execute("SELECT doc FROM records WHERE kind = 'execution' AND name = ?",
                                      (fired[0]["name"],)).fetchone()[0])
    assert saved["status"] == "SUCCEEDED" and json.loads(saved["output"]) == {"got": {"tick": True}}
    history = sfn("history", fired[-1]["name"], cwd=project)
    assert history.returncode == 0 and "PassStateExited" in history.stdout
    unbounded = sfn("watch", "--clock", "virtual", cwd=project)
    assert unbounded.returncode == 2 and "--until or --max-fires" in unbounded.stderr


def test_serve_runs_the_rules_in_a_background_thread(ws: Workspace) -> None:
    stop = start_rules_thread(ws)
    try:
        Backends(ws).object_store.put("inbox", "in/served.csv", b"x\n")
        log = ws.root / "events" / "fired.jsonl"
        deadline = time.monotonic() + 30
        # The record's line, once whole (the file may exist before its first line is written).
        while not (log.is_file() and log.read_text().endswith("\n")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop()
    [record] = [json.loads(line) for line in log.read_text().splitlines()]
    assert (record["rule"], record["status"]) == ("landed", "SUCCEEDED")


# -- the pipeline our users run: a file lands, a Glue job cleans it, a crawler catalogs it ---------------------
def test_a_landed_csv_runs_the_glue_job_then_the_crawler_once_per_object(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    config = load_config(ROOT)
    config.rules = {**config.rules, "glue-seen": {"EventPattern": {"source": ["aws.glue"]}}}  # the bus keeps aws.glue
    workspace = Workspace(tmp_path / "ws", project=ROOT, config=config)
    store = Backends(workspace).object_store
    rows = "Order ID, Amount \n o-1 , 10\n o-1 , 10\n,\n o-2 ,7\n"
    with RuleRunner(workspace) as runner:
        store.put("landing", "incoming/orders-0412.csv", rows.encode())
        store.put("landing", "incoming/notes.txt", b"not a csv")
        store.put("landing", "elsewhere/x.csv", rows.encode())
        dropped = workspace.root / "s3" / "landing" / "incoming" / "orders-0413.csv"
        dropped.write_text("Order ID,Amount\no-3,5\n")
        os.utime(dropped, ns=(time.time_ns() - 2_000_000_000,) * 2)  # already still: no settle wait
        fired = runner.step()
        fired += runner.step()
        fired += runner.step() + runner.step()
    assert sorted((f.rule, f.execution.status if f.execution else f.error, (f.execution.output or {}).get("source"))
                  for f in fired) == [
        ("landed-csv", "SUCCEEDED", "s3://landing/incoming/orders-0412.csv"),
        ("landed-csv", "SUCCEEDED", "s3://landing/incoming/orders-0413.csv")]
    backends = Backends(workspace)
    table = backends.catalog.get_table("landing", "landed")
    assert [c["Name"] for c in table["PartitionKeys"]] == ["source_file"]
    assert len(backends.catalog.get_partitions("landing", "landed")) == 2
    data = pq.read_table(store.local_path(table["StorageDescriptor"]["Location"]), partitioning="hive")
    assert sorted(zip(*(data.column(c).to_pylist() for c in ("source_file", "order_id", "amount")), strict=True)) == [
        ("orders-0412", "o-1", "10"), ("orders-0412", "o-2", "7"), ("orders-0413", "o-3", "5")]
    kinds = [(e["detail-type"], e["detail"].get("state")) for _, e, _ in events.read(workspace, 0)
             if e["source"] == "aws.glue"]
    assert kinds.count(("Glue Job State Change", "SUCCEEDED")) == 2
    assert kinds.count(("Glue Crawler State Change", "Succeeded")) == 2
