"""AWS Step Functions Local's mock config: AWS's documented example and its outcomes, Map/Parallel/.sync/
.waitForTaskToken states, the history a mocked Task leaves, hybrid runs and the config's errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import emulator
from emulator.backends.outbox import Outbox
from emulator.integrations.mocks import MockConfig, MockConfigError
from tests.conftest import chain, types

HERE = Path(__file__).parent / "mock_configs"
AWS_EXAMPLE = HERE / "MockConfigFile.json"
LAMBDA_SQS = HERE / "LambdaSQSIntegration.asl.json"
HELLO = {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}
SQS_REPLY = {"MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
             "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51"}


@pytest.fixture
def ws(tmp_path: Path) -> emulator.Workspace:
    return emulator.Workspace(root=tmp_path / "ws", project=tmp_path)


def lambda_sqs(ws: emulator.Workspace) -> emulator.StateMachine:
    return emulator.StateMachine(LAMBDA_SQS, name="LambdaSQSIntegration", workspace=ws)


def test_happy_path_returns_the_mocked_responses(ws: emulator.Workspace) -> None:
    ex = lambda_sqs(ws).run({"x": 1}, mock_config=AWS_EXAMPLE, test_case="HappyPath")
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == SQS_REPLY
    # SQSState was sent what LambdaState returned: the mocked Invoke response.
    [sqs_call] = ex.calls("sqs:sendMessage")
    assert sqs_call["MessageBody"] == HELLO
    assert ex.calls("lambda:invoke") == [{"Payload": {"x": 1}, "FunctionName": "HelloWorldFunction"}]
    assert Outbox(ws).messages() == []  # mocked: nothing was really sent


def test_mocked_task_leaves_the_events_a_real_task_does(ws: emulator.Workspace) -> None:
    ex = lambda_sqs(ws).run({}, mock_config=AWS_EXAMPLE, test_case="HappyPath")
    assert types(ex) == [
        "ExecutionStarted",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "ExecutionSucceeded",
    ]
    succeeded = next(e for e in ex.history if e["type"] == "TaskSucceeded")["taskSucceededEventDetails"]
    assert (succeeded["resourceType"], succeeded["resource"]) == ("lambda", "invoke")
    assert json.loads(succeeded["output"]) == HELLO


def test_retry_path_consumes_ranges_in_order(ws: emulator.Workspace) -> None:
    ex = lambda_sqs(ws).run({}, mock_config=AWS_EXAMPLE, test_case="RetryPath")
    assert ex.status == "SUCCEEDED", ex.cause
    failures = [e["taskFailedEventDetails"]["error"] for e in ex.history if e["type"] == "TaskFailed"]
    # "0" then "1-2" throw, "3" returns: three failures, retried (MaxAttempts 3), then success.
    assert failures == ["Lambda.ResourceNotReadyException", "Lambda.TimeoutException", "Lambda.TimeoutException"]
    [visit] = ex.state("LambdaState")
    assert visit.attempts == 4 and visit.output == HELLO
    assert ex.output == SQS_REPLY


def test_hybrid_path_runs_unmocked_states_on_the_local_engines(ws: emulator.Workspace) -> None:
    ex = lambda_sqs(ws).run({}, mock_config=AWS_EXAMPLE, test_case="HybridPath")
    assert ex.status == "SUCCEEDED", ex.cause
    [message] = Outbox(ws).messages(queue="myQueue")
    assert json.loads(message["Body"]) == HELLO
    assert ex.output["MessageId"] == message["MessageId"] and ex.output != SQS_REPLY


def test_without_a_test_case_nothing_is_mocked(ws: emulator.Workspace) -> None:
    ex = lambda_sqs(ws).run({}, mock_config=AWS_EXAMPLE)
    assert (ex.status, ex.error) == ("FAILED", "Lambda.ResourceNotFoundException")


def test_env_selects_the_mock_config_and_case(ws: emulator.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(AWS_EXAMPLE))
    monkeypatch.setenv("SFN_MOCK_TEST_CASE", "HappyPath")
    assert lambda_sqs(ws).run({}).output == SQS_REPLY


def test_a_mock_config_object_given_as_resources(ws: emulator.Workspace) -> None:
    case = MockConfig.load(AWS_EXAMPLE).test_case("LambdaSQSIntegration", "RetryPath")
    ex = emulator.run(LAMBDA_SQS, {}, state_machine_name="LambdaSQSIntegration", resources=case, workspace=ws)
    assert ex.output == SQS_REPLY and ex.state("LambdaState")[0].attempts == 4
    config = MockConfig.load(AWS_EXAMPLE)
    ex = lambda_sqs(ws).run({}, resources=config, test_case="HappyPath")
    assert ex.output == SQS_REPLY


def test_invocations_are_counted_per_execution(ws: emulator.Workspace) -> None:
    machine = lambda_sqs(ws)
    config = MockConfig.load(AWS_EXAMPLE)
    for _ in range(2):  # a second run starts again at invocation 0
        assert machine.run({}, mock_config=config, test_case="RetryPath").status == "SUCCEEDED"


def test_map_iterations_consume_responses_in_order_with_retries(ws: emulator.Workspace) -> None:
    machine = emulator.StateMachine(HERE / "patterns.asl.json", name="patterns", workspace=ws)
    ex = machine.run({"orders": [1, 2, 3], "day": "d"}, mock_config=HERE / "patterns.json", test_case="Approved")
    assert ex.status == "SUCCEEDED", ex.cause
    # Invocation 1 throws Price.Busy (retried in iteration 1), so iteration 1 gets invocation 2.
    assert ex.output["prices"] == [{"price": 10}, {"price": 20}, {"price": 30}]
    assert [v.attempts for v in ex.state("Price")] == [1, 2, 1]
    assert ex.path == ["Fan", "Fan[0].Price", "Fan[1].Price", "Fan[2].Price", "Both", "Both[0].Transform",
                       "Both[1].Approve"]


def test_sync_and_callback_states_return_the_mocked_value_at_once(ws: emulator.Workspace) -> None:
    machine = emulator.StateMachine(HERE / "patterns.asl.json", name="patterns", workspace=ws)
    ex = machine.run({"orders": [], "day": "d"}, mock_config=HERE / "patterns.json", test_case="Approved")
    assert ex.status == "SUCCEEDED", ex.cause
    # ResultSelector applies to the mocked .sync result; the callback's mocked value is its output.
    assert ex.output["both"] == [{"state": "SUCCEEDED"}, {"approved": True}]
    assert "TaskSubmitted" in types(ex)
    assert ex.calls("glue:startJobRun") == [{"JobName": "transform", "Arguments": {"--day": "d"}}]
    assert Outbox(ws).messages() == []


def test_mocked_throw_is_caught_and_fails_a_parallel(ws: emulator.Workspace) -> None:
    machine = emulator.StateMachine(HERE / "patterns.asl.json", name="patterns", workspace=ws)
    rejected = machine.run({"orders": [], "day": "d"}, mock_config=HERE / "patterns.json", test_case="Rejected")
    assert rejected.output["both"][1] == {"Error": "Approval.Rejected", "Cause": "no budget"}
    failed = machine.run({"orders": [], "day": "d"}, mock_config=HERE / "patterns.json", test_case="JobFails")
    assert (failed.status, failed.error, failed.cause) == ("FAILED", "Glue.ConcurrentRunsExceededException",
                                                           "too many runs")


def test_an_invocation_without_a_response_fails_the_execution(ws: emulator.Workspace) -> None:
    config = {"StateMachines": {"M": {"TestCases": {"T": {"A": "Once"}}}},
              "MockedResponses": {"Once": {"0": {"Throw": {"Error": "E", "Cause": "c"}}}}}
    definition = chain(("A", {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                              "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2}]}))
    ex = emulator.run(definition, {}, state_machine_name="M", mock_config=config, test_case="T", workspace=ws)
    assert ex.status == "FAILED" and ex.error == "States.Runtime"
    assert "no response for invocation 1 of state 'A'" in ex.cause


def test_lambda_function_arn_states_use_lambda_events(ws: emulator.Workspace) -> None:
    config = {"StateMachines": {"M": {"TestCases": {"T": {"A": "R"}}}},
              "MockedResponses": {"R": {"0-1": {"Return": {"ok": 1}}}}}
    definition = chain(("A", {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f"}))
    ex = emulator.run(definition, {}, state_machine_name="M", mock_config=config, test_case="T", workspace=ws)
    assert ex.output == {"ok": 1}
    assert "LambdaFunctionSucceeded" in types(ex) and ex.calls("lambda:f") == [{}]


@pytest.mark.parametrize(("config", "message"), [
    ({"StateMachines": {"M": {"TestCases": {"T": {"A": "Sucess"}}}}, "MockedResponses": {"Success": {
        "0": {"Return": 1}}}},
     "StateMachines.M.TestCases.T.A: the mocked response 'Sucess' is not defined in MockedResponses "
     "(did you mean 'Success'?)"),
    ({"MockedResponses": {"R": {"0-2": {"Return": 1}, "2": {"Return": 2}}}}, "MockedResponses.R: invocations '2'"),
    ({"MockedResponses": {"R": {"3-1": {"Return": 1}}}}, "the range '3-1' ends before it starts"),
    ({"MockedResponses": {"R": {"first": {"Return": 1}}}}, "'first' is not an invocation number"),
    ({"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}}, "a single field, Return or Throw"),
    ({"MockedResponses": {"R": {"0": {"Throw": {"Eror": "E"}}}}}, "unknown field 'Eror' (did you mean 'Error'?)"),
    ({"StateMachine": {}}, "unknown top-level field (did you mean 'StateMachines'?)"),
    ({"StateMachines": {"M": {"TestCases": {"T": {"Expect": {"outptu": 1}}}}}},
     "Expect: unknown key 'outptu' (did you mean 'output'?)"),
])
def test_config_errors_name_the_key(config: dict, message: str) -> None:
    with pytest.raises(MockConfigError, match=r"^mock config: ") as info:
        MockConfig(config)
    assert message in str(info.value)


def test_unknown_case_and_bad_json_are_reported(tmp_path: Path) -> None:
    with pytest.raises(MockConfigError, match="no test case 'HapyPath' \\(did you mean 'HappyPath'\\?\\)"):
        MockConfig.load(AWS_EXAMPLE).test_case("LambdaSQSIntegration", "HapyPath")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "StateMachines": {,\n}')
    with pytest.raises(MockConfigError, match=r"bad.json, line 2, column 21: not JSON"):
        MockConfig.load(bad)
