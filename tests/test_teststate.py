"""emulator.test_state: one state run as AWS's TestState API answers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from emulator import teststate
from emulator.teststate import InvalidTestRequest

run_state = teststate.test_state
FAILING_TASK = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["Mock.Error"], "IntervalSeconds": 3,
                                                       "MaxAttempts": 2, "BackoffRate": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"}],
                "End": True}
MOCK_ERROR = {"errorOutput": {"error": "Mock.Error", "cause": "it broke"}}


def test_pass_debug_inspection_data() -> None:
    state = {"Type": "Pass", "InputPath": "$.a", "Parameters": {"x.$": "$.b"}, "ResultPath": "$.r", "Next": "N"}
    response = run_state(state, {"a": {"b": 2}}, inspection_level="DEBUG")
    assert response["status"] == "SUCCEEDED"
    assert json.loads(response["output"]) == {"a": {"b": 2}, "r": {"x": 2}}
    assert response["nextState"] == "N"
    data = {k: json.loads(v) for k, v in response["inspectionData"].items()}
    assert data == {"input": {"a": {"b": 2}}, "afterInputPath": {"b": 2}, "afterParameters": {"x": 2},
                    "result": {"x": 2}, "afterResultSelector": {"x": 2}, "afterResultPath": {"a": {"b": 2}, "r": {"x": 2}}}
    assert "inspectionData" not in run_state(state, {"a": {"b": 2}})  # INFO


def test_retriable_reports_retrier_and_backoff() -> None:
    response = run_state(FAILING_TASK, {"v": 1}, inspection_level="DEBUG", mock=MOCK_ERROR)
    assert response["status"] == "RETRIABLE"
    assert (response["error"], response["cause"]) == ("Mock.Error", "it broke")
    assert response["inspectionData"]["errorDetails"] == {"retryIndex": 1, "retryBackoffIntervalSeconds": 3}
    assert "output" not in response
    again = run_state(FAILING_TASK, {"v": 1}, inspection_level="DEBUG", mock=MOCK_ERROR,
                      state_configuration={"retrierRetryCount": 1})
    assert again["inspectionData"]["errorDetails"] == {"retryIndex": 1, "retryBackoffIntervalSeconds": 6}


def test_caught_error_once_retries_are_spent() -> None:
    response = run_state(FAILING_TASK, {"v": 1}, inspection_level="TRACE", mock=MOCK_ERROR,
                         state_configuration={"retrierRetryCount": 2})
    assert response["status"] == "CAUGHT_ERROR"
    assert response["nextState"] == "Handle"
    assert json.loads(response["output"]) == {"v": 1, "error": {"Error": "Mock.Error", "Cause": "it broke"}}
    assert response["inspectionData"]["errorDetails"] == {"retryIndex": 1, "catchIndex": 0}
    assert json.loads(response["inspectionData"]["afterParameters"]) == {"FunctionName": "f", "Payload": {"v": 1}}


def test_state_of_a_machine_and_variables() -> None:
    machine = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Output": "{% $states.input.n + $base %}", "Assign": {"seen": "{% $base %}"},
              "End": True}}}
    response = run_state(machine, {"n": 1}, state_name="B", inspection_level="DEBUG", variables='{"base": 10}')
    assert response["status"] == "SUCCEEDED"
    assert json.loads(response["output"]) == 11
    assert json.loads(response["inspectionData"]["variables"]) == {"base": 10, "seen": 10}


def test_mocked_map_and_tolerated_failures() -> None:
    state = {"Type": "Map", "ItemsPath": "$.items", "ToleratedFailureCount": 1, "End": True,
             "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}}
    ok = run_state(state, {"items": [1, 2, 3]}, inspection_level="DEBUG", mock={"result": "[7, 8, 9]"},
                   state_configuration={"mapIterationFailureCount": 1})
    assert (ok["status"], json.loads(ok["output"])) == ("SUCCEEDED", [7, 8, 9])
    assert ok["inspectionData"]["toleratedFailureCount"] == 1
    assert json.loads(ok["inspectionData"]["afterItemsPath"]) == [1, 2, 3]
    failed = run_state(state, {"items": [1, 2, 3]}, mock={"result": "[7, 8, 9]"},
                       state_configuration={"mapIterationFailureCount": 2})
    assert (failed["status"], failed["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")


@pytest.mark.parametrize(("mode", "result", "accepted"), [
    ("STRICT", {}, False),  # ExecutionArn and StartDate are required
    ("PRESENT", {}, True),
    ("PRESENT", {"ExecutionArn": 5, "StartDate": "2025-01-01T00:00:00Z"}, False),
    ("NONE", {"ExecutionArn": 5}, True),
    ("STRICT", {"ExecutionArn": "arn", "StartDate": "2025-01-01T00:00:00Z", "Extra": 1}, True),
])
def test_mock_result_checked_against_the_api_output_shape(mode: str, result: dict, accepted: bool) -> None:
    state = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
             "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:S"}, "End": True}
    mock = {"result": json.dumps(result), "fieldValidationMode": mode}
    if accepted:
        assert json.loads(run_state(state, {}, mock=mock)["output"]) == result
    else:
        with pytest.raises(InvalidTestRequest, match="ValidationException"):
            run_state(state, {}, mock=mock)


def test_requests_aws_refuses() -> None:
    with pytest.raises(InvalidTestRequest, match="only accepted for Task, Map and Parallel"):
        run_state({"Type": "Pass", "End": True}, {}, mock={"result": "1"})
    with pytest.raises(InvalidTestRequest, match="one element per branch"):
        run_state({"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": True}}}]}, {}, mock={"result": "[1, 2]"})
    with pytest.raises(InvalidTestRequest, match="inspectionLevel"):
        run_state({"Type": "Pass", "End": True}, {}, inspection_level="LOUD")
    with pytest.raises(InvalidTestRequest, match="not a state"):
        run_state({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}, {}, state_name="Z")


def test_cli_command(tmp_path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.r", "End": True}))
    result = CliRunner().invoke(teststate.test_state_command, [str(path), "--input", '{"a": 1}', "--inspection-level",
                                                     "DEBUG"])
    assert result.exit_code == 0, result.output
    response = json.loads(result.output)
    assert json.loads(response["output"]) == {"a": 1, "r": {"ok": True}}
    refused = CliRunner().invoke(teststate.test_state_command, [str(path), "--mock", '{"result": "1"}'])
    assert refused.exit_code != 0
    assert "only accepted for Task, Map and Parallel" in refused.output
    assert "Traceback" not in refused.output
