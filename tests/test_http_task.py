"""The HTTP Task (`arn:aws:states:::http:invoke`) against a real HTTP server on 127.0.0.1, its containment
(loopback only unless `[http] allow` names the host), and TestState's TRACE request/response."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

import emulator
from emulator.integrations.http import reachable, url_encode
from emulator.workspace import Config, Workspace

CONNECTION = "arn:aws:events:us-east-1:123456789012:connection/local/0b1c2d3e"


class _Handler(BaseHTTPRequestHandler):
    """Echoes what it received as JSON; /status/N answers N; /text answers plain text; /slow never answers."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        got = {"method": self.command, "path": url.path, "query": unquote(url.query), "body": body,
               "headers": {k.lower(): v for k, v in self.headers.items()}}
        _Handler.seen.append(got)
        status, content_type, payload = 200, "application/json", json.dumps(got).encode()
        if url.path.startswith("/status/"):
            status = int(url.path.rsplit("/", 1)[1])
            payload = json.dumps({"message": "nope"}).encode()
        elif url.path == "/text":
            content_type, payload = "text/plain; charset=latin-1", "café".encode("latin-1")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-Request-Id", "r-1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what the server saw from `seen`."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path, config=Config())


def call(parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"StartAt": "CallApi", "States": {"CallApi": {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"Authentication": {"ConnectionArn": CONNECTION}, **parameters}, "End": True, **fields}}}


def test_a_get_returns_aws_result_shape(server: str, ws: Workspace) -> None:
    ex = emulator.run(call({"ApiEndpoint": f"{server}/orders", "Method": "GET",
                            "QueryParameters": {"status": "open", "page": 2}, "Headers": {"X-Trace": "t-1"}}), {},
                      workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    assert out["StatusCode"] == 200 and out["StatusText"] == "OK"
    assert out["Headers"]["X-Request-Id"] == ["r-1"] and out["Headers"]["Content-Type"] == ["application/json"]
    seen = out["ResponseBody"]  # a JSON response comes back parsed
    assert seen["method"] == "GET" and seen["path"] == "/orders"
    assert dict(parse_qsl(seen["query"])) == {"status": "open", "page": "2"}
    assert seen["headers"]["x-trace"] == "t-1"
    assert seen["headers"]["user-agent"] == "Amazon|StepFunctions|HttpInvoke|us-east-1"
    assert seen["headers"]["range"] == "bytes=0-262144"


def test_a_json_body_is_sent_as_json(server: str, ws: Workspace) -> None:
    ex = emulator.run(call({"ApiEndpoint": f"{server}/orders", "Method": "POST",
                            "RequestBody": {"id.$": "$.id", "items": [1, 2]}}), {"id": "o-1"}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    seen = ex.output["ResponseBody"]
    assert json.loads(seen["body"]) == {"id": "o-1", "items": [1, 2]}
    assert seen["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize(("array_format", "expected"), [
    ("INDICES", "a=1&tags[0]=x&tags[1]=y&o[k]=v"),
    ("REPEAT", "a=1&tags=x&tags=y&o[k]=v"),
    ("COMMAS", "a=1&tags=x,y&o[k]=v"),
    ("BRACKETS", "a=1&tags[]=x&tags[]=y&o[k]=v"),
])
def test_url_encoded_bodies_follow_the_array_format(server: str, ws: Workspace, array_format: str,
                                                    expected: str) -> None:
    ex = emulator.run(call({"ApiEndpoint": f"{server}/form", "Method": "POST",
                            "RequestBody": {"a": 1, "tags": ["x", "y"], "o": {"k": "v"}},
                            "Transform": {"RequestBodyEncoding": "URL_ENCODED",
                                          "RequestEncodingOptions": {"ArrayFormat": array_format}}}), {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    seen = ex.output["ResponseBody"]
    assert unquote(seen["body"]) == expected
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert unquote(url_encode({"a": 1, "tags": ["x", "y"], "o": {"k": "v"}}, array_format)) == expected


def test_a_text_response_is_decoded_with_its_charset(server: str, ws: Workspace) -> None:
    ex = emulator.run(call({"ApiEndpoint": f"{server}/text", "Method": "GET"}), {}, workspace=ws)
    assert ex.output["ResponseBody"] == "café"


def test_a_non_2xx_status_is_a_catchable_states_http_statuscode_error(server: str, ws: Workspace) -> None:
    definition = call({"ApiEndpoint": f"{server}/status/404", "Method": "DELETE"},
                      Retry=[{"ErrorEquals": ["States.Http.StatusCode.503"], "MaxAttempts": 2}],
                      Catch=[{"ErrorEquals": ["States.Http.StatusCode.404"], "Next": "Gone"}])
    del definition["States"]["CallApi"]["End"]
    definition["States"]["CallApi"]["Next"] = "Done"
    definition["States"].update({"Gone": {"Type": "Pass", "End": True}, "Done": {"Type": "Succeed"}})
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["Error"] == "States.Http.StatusCode.404"
    cause = json.loads(ex.output["Cause"])
    assert cause["StatusCode"] == 404 and cause["ResponseBody"] == {"message": "nope"}
    _Handler.seen.clear()
    retried = emulator.run(call({"ApiEndpoint": f"{server}/status/503", "Method": "GET"},
                                Retry=[{"ErrorEquals": ["States.Http.StatusCode.503"], "MaxAttempts": 2}]), {},
                           workspace=ws)
    assert retried.status == "FAILED" and retried.error == "States.Http.StatusCode.503"
    assert len(_Handler.seen) == 3  # the first call and two retries, each a real request


def test_nothing_listening_is_states_http_socket(ws: Workspace) -> None:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ex = emulator.run(call({"ApiEndpoint": f"http://127.0.0.1:{port}/x", "Method": "GET"}), {}, workspace=ws)
    assert ex.status == "FAILED" and ex.error == "States.Http.Socket"
    assert "CallApi" in ex.cause and f"127.0.0.1:{port}" in ex.cause


@pytest.mark.parametrize("endpoint", ["https://api.example.com/v1/customers", "http://10.0.0.8/x",
                                      "http://[2001:db8::1]/x", "http://127.0.0.1.nip.io/x"])
def test_hosts_outside_the_machine_are_refused_before_any_connection(ws: Workspace, endpoint: str) -> None:
    definition = call({"ApiEndpoint": endpoint, "Method": "GET"},
                      Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}])
    del definition["States"]["CallApi"]["End"]
    definition["States"]["CallApi"]["Next"] = "Caught"
    definition["States"]["Caught"] = {"Type": "Succeed"}
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "FAILED" and ex.error == "States.Runtime"  # not caught: containment is not an API error
    host = urlsplit(endpoint).hostname
    assert "'CallApi'" in ex.cause and f'[http] allow = ["{host}"]' in ex.cause and "loopback" in ex.cause


def test_http_allow_in_the_config_names_the_hosts_beyond_loopback(tmp_path: Path) -> None:
    (tmp_path / "sfn-local.toml").write_text('[http]\nallow = ["*.example.com", "10.1.2.3"]\n')
    ws = Workspace(root=tmp_path / "ws", project=tmp_path)
    allow = ws.config.http["allow"]
    assert allow == ["*.example.com", "10.1.2.3"]
    assert [reachable(host, allow) for host in ("api.example.com", "10.1.2.3", "example.org", "10.1.2.4",
                                                "localhost", "127.0.0.7", "::1")] == [True, True, False, False,
                                                                                    True, True, True]
    assert reachable("anything.net", ["*"]) and not reachable("anything.net", [])
    refused = emulator.run(call({"ApiEndpoint": "http://example.org/x", "Method": "GET"}), {}, workspace=ws)
    assert refused.error == "States.Runtime" and '[http] allow = ["example.org"]' in refused.cause


@pytest.mark.parametrize(("parameters", "words"), [
    ({"ApiEndpoint": "ftp://127.0.0.1/x", "Method": "GET"}, "ApiEndpoint must be an http(s):// URL"),
    ({"ApiEndpoint": "http://127.0.0.1/x", "Method": "FETCH"}, "Method must be one of GET, POST"),
    ({"ApiEndpoint": "http://127.0.0.1/x", "Method": "GET", "Authentication": {}}, "Authentication.ConnectionArn"),
    ({"ApiEndpoint": "http://127.0.0.1/x", "Method": "POST", "RequestBody": [1],
      "Transform": {"RequestBodyEncoding": "URL_ENCODED"}}, "a URL_ENCODED RequestBody must be an object"),
    ({"ApiEndpoint": "http://127.0.0.1/x", "Method": "GET",
      "Transform": {"RequestEncodingOptions": {"ArrayFormat": "JSON"}}}, "ArrayFormat must be one of"),
])
def test_bad_parameters_name_the_state_and_field(ws: Workspace, parameters: dict[str, Any], words: str) -> None:
    ex = emulator.run(call(parameters), {}, workspace=ws)
    assert ex.status == "FAILED" and ex.error == "States.Runtime"
    assert "'CallApi'" in ex.cause and words in ex.cause


def test_teststate_trace_shows_the_raw_request_and_response(server: str) -> None:
    state = call({"ApiEndpoint": f"{server}/orders", "Method": "POST", "RequestBody": {"n": 1},
                  "Headers": {"X-Trace": "t-2"}})["States"]["CallApi"]
    traced = emulator.test_state(state, {}, inspection_level="TRACE")
    assert traced["status"] == "SUCCEEDED"
    request, response = traced["inspectionData"]["request"], traced["inspectionData"]["response"]
    assert request["protocol"] == "http" and request["method"] == "POST" and request["url"] == f"{server}/orders"
    assert request["body"] == '{"n":1}'
    assert request["headers"].startswith("[") and "X-Trace: t-2" in request["headers"]
    assert "User-Agent: Amazon|StepFunctions|HttpInvoke|us-east-1" in request["headers"]
    assert response["statusCode"] == "200" and response["statusMessage"] == "OK"
    assert "X-Request-Id: r-1" in response["headers"] and json.loads(response["body"])["body"] == '{"n":1}'
    assert json.loads(traced["output"])["StatusCode"] == 200
    debug = emulator.test_state(state, {}, inspection_level="DEBUG")
    assert "request" not in debug["inspectionData"] and "response" not in debug["inspectionData"]
    failed = emulator.test_state({**state, "Parameters": {**state["Parameters"], "ApiEndpoint": f"{server}/status/500"}},
                                 {}, inspection_level="TRACE")
    assert failed["status"] == "FAILED" and failed["error"] == "States.Http.StatusCode.500"
    assert failed["inspectionData"]["response"]["statusCode"] == "500"
