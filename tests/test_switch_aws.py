"""The switch to AWS (emulator/targets.py, integrations/aws.py, remote.py), against moto's server on loopback.

moto stands in for AWS: `ThreadedMotoServer` on 127.0.0.1 and a free port, reached through
AWS_ENDPOINT_URL as a user's boto3 configuration would reach any endpoint. Never real AWS.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

import emulator
from emulator import targets
from emulator.backends.outbox import Outbox
from emulator.cli import cli
from tests.moto_support import create_cluster_state, moto_api, workspace_with_targets

ACCOUNT = "123456789012"
CHILD = {"StartAt": "Double", "States": {
    "Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)", "tag": "child"}, "End": True}}}
FAILING_CHILD = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Child.Broke", "Cause": "on purpose"}}}


def _calls(execution: Any) -> list[str]:
    return [e["type"] for e in execution.history]


# One definition over S3, the Glue catalog, SQS, SNS and a nested Step Functions execution; each
# step keeps only what both sides answer alike (moto's ids, ETags and dates are its own).
MIXED = {"StartAt": "Put", "States": {
    "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"Bucket": "lake-bkt", "Key": "in/data.json", "Body.$": "$.record"},
            "ResultPath": None, "Next": "Get"},
    "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "lake-bkt", "Key": "in/data.json"},
            "ResultSelector": {"body.$": "States.StringToJson($.Body)", "length.$": "$.ContentLength"},
            "ResultPath": "$.s3", "Next": "CreateDb"},
    "CreateDb": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:createDatabase",
                 "Parameters": {"DatabaseInput": {"Name": "sales"}}, "ResultPath": None, "Next": "CreateTable"},
    "CreateTable": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:createTable",
                    "Parameters": {"DatabaseName": "sales", "TableInput": {
                        "Name": "orders", "StorageDescriptor": {
                            "Location": "s3://lake-bkt/in/",
                            "Columns": [{"Name": "id", "Type": "int"}, {"Name": "item", "Type": "string"}]}}},
                    "ResultPath": None, "Next": "GetTable"},
    "GetTable": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:getTable",
                 "Parameters": {"DatabaseName": "sales", "Name": "orders"},
                 "ResultSelector": {"name.$": "$.Table.Name", "columns.$": "$.Table.StorageDescriptor.Columns",
                                    "location.$": "$.Table.StorageDescriptor.Location"},
                 "ResultPath": "$.glue", "Next": "MissingTable"},
    "MissingTable": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:getTable",
                     "Parameters": {"DatabaseName": "sales", "Name": "nope"},
                     "Catch": [{"ErrorEquals": ["Glue.EntityNotFoundException"], "ResultPath": "$.missing",
                                "Next": "Send"}], "Next": "Send"},
    "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
             "Parameters": {"QueueUrl.$": "$.queue", "MessageBody.$": "$.record"},
             "ResultSelector": {"md5.$": "$.MD5OfMessageBody", "status.$": "$.SdkHttpMetadata.HttpStatusCode"},
             "ResultPath": "$.sqs", "Next": "Publish"},
    "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {"TopicArn.$": "$.topic", "Message": "done", "Subject": "lake"},
                "ResultSelector": {"status.$": "$.SdkHttpMetadata.HttpStatusCode"},
                "ResultPath": "$.sns", "Next": "Child"},
    "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
              "Parameters": {"StateMachineArn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:Child",
                             "Input": {"n": 21}},
              "ResultSelector": {"status.$": "$.Status", "output.$": "$.Output"},
              "ResultPath": "$.child", "Next": "Shape"},
    "Shape": {"Type": "Pass", "Parameters": {"s3.$": "$.s3", "glue.$": "$.glue", "missing.$": "$.missing.Error",
                                             "sqs.$": "$.sqs", "sns.$": "$.sns", "child.$": "$.child"},
              "End": True}}}


def _prepare_moto() -> tuple[str, str]:
    boto3.client("s3").create_bucket(Bucket="lake-bkt")
    queue = boto3.client("sqs").create_queue(QueueName="events")["QueueUrl"]
    topic = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
    boto3.client("stepfunctions").create_state_machine(
        name="Child", definition=json.dumps(CHILD), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")
    return queue, topic


def test_one_definition_gives_the_same_output_locally_and_on_moto(aws: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    queue, topic = _prepare_moto()
    data = {"record": {"id": 7, "item": "kayak"}, "queue": queue, "topic": topic}
    local = emulator.StateMachine(MIXED, workspace=workspace_with_targets(tmp_path, "local"), state_machines={"Child": CHILD})
    remote = emulator.StateMachine(MIXED, workspace=workspace_with_targets(tmp_path, "remote", default="aws"))
    local_run, remote_run = local.run(data), remote.run(data)

    assert local_run.status == remote_run.status == "SUCCEEDED", (local_run.cause, remote_run.cause)
    assert remote_run.output == local_run.output
    assert remote_run.output["child"] == {"status": "SUCCEEDED", "output": {"n": 42, "tag": "child"}}
    assert remote_run.output["missing"] == "Glue.EntityNotFoundException"
    # The remote run's effects are in moto, not in the local workspace.
    body = boto3.client("s3").get_object(Bucket="lake-bkt", Key="in/data.json")["Body"].read()
    assert json.loads(body) == data["record"]
    assert not (tmp_path / "remote" / "s3").exists()
    received = boto3.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    assert [json.loads(m["Body"]) for m in received] == [data["record"]]
    assert "TaskSubmitted" in _calls(remote_run)


def test_env_switch_sends_only_the_named_service_to_aws(aws: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("s3").create_bucket(Bucket="remote-bkt")
    monkeypatch.setenv("SFN_LOCAL_TARGET", "s3=aws")
    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                "Parameters": {"Bucket": "remote-bkt", "Key": "k.txt", "Body": "hello"}, "ResultPath": None,
                "Next": "Db"},
        "Db": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:createDatabase",
               "Parameters": {"DatabaseInput": {"Name": "only_local"}}, "End": True}}}
    workspace = workspace_with_targets(tmp_path, "ws")
    ex = emulator.StateMachine(definition, workspace=workspace).run({})
    assert ex.status == "SUCCEEDED", ex.cause
    assert boto3.client("s3").get_object(Bucket="remote-bkt", Key="k.txt")["Body"].read() == b"hello"
    assert [d["Name"] for d in boto3.client("glue").get_databases()["DatabaseList"]] == []
    from emulator.backends import Backends

    assert [d["Name"] for d in Backends(workspace).catalog.get_databases()] == ["only_local"]


def test_glue_job_sync_polls_get_job_run_until_the_run_ends(aws: str, tmp_path: Path) -> None:
    glue = boto3.client("glue")
    glue.create_job(Name="nightly", Role="arn:aws:iam::123456789012:role/glue",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/nightly.py"})
    # The run reports STARTING / RUNNING to the first GetJobRun calls: only polling reaches SUCCEEDED.
    moto_api(aws, "state-manager/set-transition",
              {"model_name": "glue::job_run", "transition": {"progression": "manual", "times": 3}})
    try:
        definition = {"StartAt": "Job", "States": {"Job": {
            "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Parameters": {"JobName": "nightly", "Arguments": {"--day": "2024-01-01"}}, "End": True}}}
        ex = emulator.StateMachine(definition, workspace=workspace_with_targets(tmp_path, "ws", glue="aws")).run({})
    finally:
        moto_api(aws, "state-manager/unset-transition", {"model_name": "glue::job_run"})
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["JobRunState"] == "SUCCEEDED" and ex.output["JobName"] == "nightly"
    assert ex.output["Arguments"] == {"--day": "2024-01-01"}
    assert isinstance(ex.output["StartedOn"], int)  # optimised integrations give epoch milliseconds
    assert _calls(ex)[-4:] == ["TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_unknown_glue_job_fails_with_the_aws_error_name(aws: str, tmp_path: Path) -> None:
    definition = {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Parameters": {"JobName": "missing-job"}, "End": True}}}
    ex = emulator.StateMachine(definition, workspace=workspace_with_targets(tmp_path, "ws", glue="aws")).run({})
    assert ex.status == "FAILED"
    assert ex.error == "Glue.EntityNotFoundException"


def test_athena_query_sync_returns_the_finished_query_execution(aws: str, tmp_path: Path) -> None:
    definition = {"StartAt": "Query", "States": {"Query": {
        "Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
        "Parameters": {"QueryString": "SELECT 1", "WorkGroup": "primary",
                       "ResultConfiguration": {"OutputLocation": "s3://results-bkt/q/"}}, "End": True}}}
    ex = emulator.StateMachine(definition, workspace=workspace_with_targets(tmp_path, "ws", athena="aws")).run({})
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["QueryExecution"]["Status"]["State"] == "SUCCEEDED"
    assert ex.output["QueryExecution"]["Query"] == "SELECT 1"


def test_emr_optimised_actions_map_to_the_emr_api(aws: str, tmp_path: Path) -> None:
    definition = {"StartAt": "Create", "States": {
        "Create": create_cluster_state("emr-6.15.0"),
        "Step": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep",
                 "Parameters": {"ClusterId.$": "$.cluster.ClusterId", "Step": {
                     "Name": "job", "ActionOnFailure": "CONTINUE",
                     "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "s3://x/job.py"]}}},
                 "ResultPath": "$.step", "Next": "Terminate"},
        "Terminate": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:terminateCluster.sync",
                      "Parameters": {"ClusterId.$": "$.cluster.ClusterId"}, "ResultPath": None, "End": True}}}
    ex = emulator.StateMachine(definition, workspace=workspace_with_targets(tmp_path, "ws", elasticmapreduce="aws")).run({})
    assert ex.status == "SUCCEEDED", ex.cause
    cluster_id = ex.output["cluster"]["ClusterId"]
    steps = boto3.client("emr").list_steps(ClusterId=cluster_id)["Steps"]
    assert [s["Id"] for s in steps] == [ex.output["step"]["StepId"]]
    state = boto3.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"]
    assert state == "TERMINATED"


def test_start_execution_sync_failure_is_task_failed_with_the_description(aws: str, tmp_path: Path) -> None:
    boto3.client("stepfunctions").create_state_machine(
        name="Broken", definition=json.dumps(FAILING_CHILD), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")
    definition = {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
        "Parameters": {"StateMachineArn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:Broken"},
        "End": True}}}
    local = emulator.StateMachine(definition, workspace=workspace_with_targets(tmp_path, "local"),
                                  state_machines={"Broken": FAILING_CHILD}).run({})
    remote = emulator.StateMachine(definition, workspace=workspace_with_targets(tmp_path, "remote", states="aws")).run({})
    assert local.error == remote.error == "States.TaskFailed"
    cause = json.loads(remote.cause)
    assert cause["Status"] == "FAILED" and cause["Error"] == "Child.Broke"


def test_wait_for_task_token_sends_to_sqs_and_waits_for_the_answer(aws: str, tmp_path: Path) -> None:
    queue = boto3.client("sqs").create_queue(QueueName="work")["QueueUrl"]
    workspace = workspace_with_targets(tmp_path, "ws", sqs="aws")
    answered: list[str] = []

    def worker() -> None:  # a consumer of the real queue answering the token through the workspace
        sqs = boto3.client("sqs")
        for _ in range(100):
            for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
                body = json.loads(message["Body"])
                Outbox(workspace).send_task_success(body["token"], {"done": body["job"]})
                answered.append(body["job"])
                return

    thread = threading.Thread(target=worker)
    thread.start()
    definition = {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "TimeoutSeconds": 60,
        "Parameters": {"QueueUrl": queue, "MessageBody": {"job": "j-1", "token.$": "$$.Task.Token"}},
        "End": True}}}
    ex = emulator.StateMachine(definition, workspace=workspace).run({})
    thread.join(10)
    assert answered == ["j-1"]
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == {"done": "j-1"}


def _isolate_from_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
                "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "SFN_LOCAL_TARGET"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata look-up off the machine


def test_switch_without_credentials_fails_before_the_first_state(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _isolate_from_aws_config(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sfn-local.toml").write_text('[targets]\nglue = "aws"\n')
    definition = tmp_path / "flow.asl.json"
    definition.write_text(json.dumps({"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Next": "Crawl"},
        "Crawl": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
                  "Parameters": {"Name": "raw"}, "End": True}}}))
    try:
        result = CliRunner().invoke(cli, ["--workspace", str(tmp_path / "ws"), "run", str(definition)])
    finally:
        targets.use_cli_targets({})
    assert result.exit_code == 2
    message = result.stderr
    assert "glue (states Crawl) is switched to AWS by [targets]" in message and "glue = aws" in message
    assert "no AWS credentials were found" in message and "AWS_ACCESS_KEY_ID" in message
    assert "no AWS region is set" in message
    assert not (tmp_path / "ws" / "stepfunctions" / "store.sqlite3").exists()  # nothing ran, nothing recorded


def test_cli_target_flag_beats_config_and_the_summary_names_real_services(aws: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sfn-local.toml").write_text('[targets]\ndefault = "local"\n')
    boto3.client("s3").create_bucket(Bucket="cli-bkt")
    definition = tmp_path / "put.asl.json"
    definition.write_text(json.dumps({"StartAt": "Put", "States": {"Put": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
        "Parameters": {"Bucket": "cli-bkt", "Key": "from-cli", "Body": "x"}, "End": True}}}))
    result = CliRunner().invoke(cli, ["--workspace", str(tmp_path / "ws"), "run", str(definition),
                                      "--target", "s3=aws"])
    assert result.exit_code == 0, result.output + result.stderr
    assert "real AWS: s3" in result.output
    assert boto3.client("s3").get_object(Bucket="cli-bkt", Key="from-cli")["Body"].read() == b"x"
    bad = CliRunner().invoke(cli, ["--workspace", str(tmp_path / "ws"), "run", str(definition),
                                   "--target", "s3=cloud"])
    assert bad.exit_code == 2
    assert "--target 's3=cloud': expected \"local\" or \"aws\" for s3, got 'cloud'" in bad.stderr


FLOW = {"StartAt": "Start", "States": {
    "Start": {"Type": "Pass", "Result": {"n": 2}, "Next": "Check"},
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}],
              "Default": "Small"},
    "Big": {"Type": "Pass", "Parameters": {"size": "big", "n.$": "$.n"}, "End": True},
    "Small": {"Type": "Fail", "Error": "TooSmall"}}}


def test_deploy_then_run_on_aws_streams_events_and_ends_with_the_summary(aws: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    definition = tmp_path / "flow.asl.json"
    definition.write_text(json.dumps(FLOW))
    runner = CliRunner()
    no_role = runner.invoke(cli, ["deploy", str(definition), "--name", "flow"])
    assert no_role.exit_code == 1 and "--role-arn" in no_role.stderr
    created = runner.invoke(cli, ["deploy", str(definition), "--name", "flow",
                                  "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/sfn"])
    assert created.exit_code == 0, created.stderr
    assert created.output.startswith(f"created arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:flow")
    updated = runner.invoke(cli, ["deploy", str(definition), "--name", "flow"])
    assert updated.output.startswith("updated ")

    result = runner.invoke(cli, ["run", str(definition), "--on", "aws", "--name", "remote-1"])
    assert result.exit_code == 0, result.output + result.stderr
    lines = result.output.splitlines()
    kinds = [line.split()[3] for line in lines if line[:5].strip().isdigit()]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionSucceeded"
    assert "ChoiceStateEntered" in kinds
    summary = next(line for line in lines if line.startswith("SUCCEEDED  remote-1  ("))
    assert "3 states" in summary
    assert '"size": "big"' in result.output
    described = boto3.client("stepfunctions").describe_execution(
        executionArn=f"arn:aws:states:us-east-1:{ACCOUNT}:execution:flow:remote-1")
    assert json.loads(described["output"]) == {"size": "big", "n": 2}

    local = runner.invoke(cli, ["--workspace", str(tmp_path / "ws"), "run", str(definition), "--name", "local-1",
                                "--history"])
    local_kinds = [line.split()[3] for line in local.output.splitlines() if line[:5].strip().isdigit()]
    assert local_kinds == kinds


def test_deploy_refuses_an_invalid_definition_before_calling_aws(aws: str, tmp_path: Path) -> None:
    definition = tmp_path / "bad.asl.json"
    definition.write_text(json.dumps({"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": True}}}))
    result = CliRunner().invoke(cli, ["deploy", str(definition), "--name", "bad",
                                      "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/sfn"])
    assert result.exit_code == 1
    assert "nothing was sent to AWS" in result.stderr and "Nowhere" in result.stderr
    assert boto3.client("stepfunctions").list_state_machines()["stateMachines"] == []
