"""The web console in a real browser: headless Chromium (Debian's `chromium`) driven over the DevTools
protocol on a pipe (`--remote-debugging-pipe`), against `sfn-local serve` in a subprocess.

Checks the graph's states and colours for a running execution (and that it turns green live, over
server-sent events), a failed one (opened on its root cause, Map iterations browsable), and the
SQL box. Screenshots go to $SFN_LOCAL_TEST_ARTIFACTS (default .sfn-local/artifacts/console);
with SFN_LOCAL_README_SCREENSHOT=1 the failed execution's also becomes docs/console.png.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

REPO = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/test"
CHROMIUM = next((p for p in (os.environ.get("SFN_LOCAL_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser"), shutil.which("google-chrome")) if p), None)
ARTIFACTS = Path(os.environ.get("SFN_LOCAL_TEST_ARTIFACTS") or REPO / ".sfn-local" / "artifacts" / "console")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (Debian: apt-get install chromium; "
                                                         "or set SFN_LOCAL_CHROMIUM): the console's browser "
                                                         "tests need one")

HANDLERS = '''
CALLS = {"n": 0}


def flaky(event, context=None):
    CALLS["n"] += 1
    if CALLS["n"] == 1:
        raise TimeoutError("first call times out")
    return {"items": [1, 2, 3]}
'''

LIVE = {"StartAt": "Prep", "States": {
    "Prep": {"Type": "Pass", "Result": {"order": 7}, "Next": "Work"},
    "Work": {"Type": "Parallel", "Next": "After", "Branches": [
        {"StartAt": "Approve", "States": {"Approve": {"Type": "Task", "End": True,
                                                      "Resource": "arn:aws:states:us-east-1:123456789012:activity:approve"}}},
        {"StartAt": "Quick", "States": {"Quick": {"Type": "Pass", "End": True}}}]},
    "After": {"Type": "Pass", "End": True}}}

PIPELINE = {"StartAt": "Prep", "States": {
    "Prep": {"Type": "Pass", "Result": {"batch": 1}, "Next": "Flaky"},
    "Flaky": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky", "Next": "Fan",
              "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}]},
    "Fan": {"Type": "Map", "ItemsPath": "$.items", "Next": "Publish",
            "ItemProcessor": {"StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Bad"}],
                          "Default": "Ok"},
                "Bad": {"Type": "Fail", "Error": "Bad.Item", "Cause": "item 2 is bad"},
                "Ok": {"Type": "Pass", "End": True}}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed", "ResultPath": "$.error"}]},
    "Publish": {"Type": "Pass", "End": True},
    "Failed": {"Type": "Fail", "Error": "Pipeline.Failed", "Cause": "a batch item failed"}}}

# The CSS fills of the status colours (style.css), as the browser computes them.
FILLS = {"running": "rgb(219, 234, 254)", "succeeded": "rgb(220, 252, 231)", "failed": "rgb(254, 226, 226)",
         "caught": "rgb(255, 237, 213)", "retried": "rgb(254, 249, 195)", "notrun": "rgb(255, 255, 255)"}


class Chromium:
    """A headless Chromium page driven over the DevTools protocol on a pipe (no WebSocket, no driver)."""

    def __init__(self, binary: str, profile: Path) -> None:
        commands_r, commands_w = os.pipe()
        replies_r, replies_w = os.pipe()
        # Above 4, so a small trampoline can move them to fds 3 and 4, where --remote-debugging-pipe wants them.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (commands_r, replies_w)]
        for fd in (commands_r, replies_w):
            os.close(fd)
        trampoline = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
                      "os.close(int(sys.argv[1])); os.close(int(sys.argv[2])); os.execv(sys.argv[3], sys.argv[3:])")
        self.log = (profile / "chromium.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", trampoline, str(high[0]), str(high[1]), binary, "--headless", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--mute-audio", "about:blank"],
            pass_fds=high, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        for fd in high:
            os.close(fd)
        self._out = os.fdopen(commands_w, "wb", buffering=0)
        self._in = os.fdopen(replies_r, "rb", buffering=0)
        self._next = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.errors: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Runtime.enable"):
            self.send(method, session=self.session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": 1440, "height": 960, "deviceScaleFactor": 1,
                                                          "mobile": False}, session=self.session)

    def _read(self) -> None:
        buffer = b""
        while chunk := self._in.read(65536):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    with self._cond:
                        self._replies[message["id"]] = message
                        self._cond.notify_all()
                elif message.get("method") == "Runtime.exceptionThrown":
                    details = message["params"]["exceptionDetails"]
                    self.errors.append(str((details.get("exception") or {}).get("description") or details["text"]))

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        with self._cond:
            if not self._cond.wait_for(lambda: ident in self._replies, timeout):
                raise TimeoutError(f"Chromium did not answer {method} in {timeout} s")
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                           session=self.session)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                shown = self.evaluate("document.body ? document.body.innerText.slice(0, 2000) : ''")
                raise AssertionError(f"timed out waiting for {expression} (JS errors: {self.errors}); the page "
                                     f"shows:\n{shown}")
            time.sleep(0.1)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url}, session=self.session)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=self.session)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (OSError, TimeoutError, RuntimeError):
            self.proc.kill()
        self.proc.wait(20)
        self._out.close()
        self.log.close()


class Server:
    """`sfn-local serve` on a free loopback port, in a project whose Lambda handler is `flaky`."""

    def __init__(self, project: Path) -> None:
        (project / "console_handlers.py").write_text(HANDLERS)
        (project / "sfn-local.toml").write_text('[lambdas]\nflaky = "console_handlers:flaky"\n')
        command = Path(sys.executable).with_name("sfn-local")
        self.proc = subprocess.Popen([str(command), "serve", "--port", "0", "--workspace", str(project / "ws")],
                                     cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("sfn-local serving on http://127.0.0.1:"), line + self.proc.stderr.read()
        self.url = line.split()[3]

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="x",
                            aws_secret_access_key="x")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("console-project"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    assert CHROMIUM is not None
    page = Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield page
    page.close()


def machine(sfn: Any, name: str, definition: dict[str, Any]) -> str:
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]


def open_execution(browser: Chromium, server: Server, arn: str) -> None:
    browser.goto(f"{server.url}/ui/#/execution/{urllib.parse.quote(arn, safe='')}")
    browser.wait_for(f"document.body !== null && document.body.dataset.ready === {json.dumps(arn)}")
    browser.wait_for("document.querySelectorAll('svg.graph [data-state]').length > 0")


def statuses(browser: Chromium) -> dict[str, str]:
    return browser.evaluate("Object.fromEntries([...document.querySelectorAll('svg.graph [data-state]')]"
                            ".map(g => [g.dataset.state, (g.getAttribute('class').match(/st-(\\w+)/) || [])[1]]))")


def fill(browser: Chromium, state: str) -> str:
    return browser.evaluate(f"getComputedStyle(document.querySelector('[data-state={json.dumps(state)}] > rect')).fill")


def test_running_execution_is_coloured_and_updates_live(server: Server, browser: Chromium) -> None:
    sfn = server.client("stepfunctions")
    activity = sfn.create_activity(name="approve")["activityArn"]
    arn = sfn.start_execution(stateMachineArn=machine(sfn, "LiveOrder", LIVE), name="order-7")["executionArn"]
    deadline = time.monotonic() + 10
    while not any(e["type"] == "TaskStarted" for e in sfn.get_execution_history(executionArn=arn)["events"]):
        assert time.monotonic() < deadline, "the activity was never scheduled"
        time.sleep(0.05)

    open_execution(browser, server, arn)
    assert statuses(browser) == {"Prep": "succeeded", "Work": "running", "Approve": "running", "Quick": "succeeded",
                                 "After": "notrun"}
    assert fill(browser, "Approve") == FILLS["running"]
    assert fill(browser, "Prep") == FILLS["succeeded"]
    assert fill(browser, "After") == FILLS["notrun"]
    assert browser.evaluate("document.querySelector('#exec-status').textContent") == "RUNNING"
    # The Parallel's branches are groups inside the Parallel's group.
    assert browser.evaluate("document.querySelectorAll('svg.graph .branch').length") == 2
    browser.screenshot(ARTIFACTS / "running.png")

    task = sfn.get_activity_task(activityArn=activity)
    sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"approved": True}))
    browser.wait_for("document.querySelector('#exec-status').textContent === 'SUCCEEDED'")
    assert statuses(browser) == {"Prep": "succeeded", "Work": "succeeded", "Approve": "succeeded",
                                 "Quick": "succeeded", "After": "succeeded"}
    assert int(browser.evaluate("document.body.dataset.updates || '0'")) >= 1  # pushed, not reloaded
    browser.screenshot(ARTIFACTS / "running-then-succeeded.png")
    assert browser.errors == []


def test_failed_execution_opens_on_its_root_cause(server: Server, browser: Chromium) -> None:
    sfn = server.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine(sfn, "Pipeline", PIPELINE), name="batch-1")["executionArn"]
    deadline = time.monotonic() + 20
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    open_execution(browser, server, arn)
    # Opened on the root cause: the Fail state in Map iteration 1, whose iteration is picked.
    browser.wait_for("document.querySelector('#detail h2') && document.querySelector('#detail h2').textContent"
                     ".startsWith('Bad')")
    assert "Bad.Item" in browser.evaluate("document.querySelector('#root-cause').textContent")
    assert browser.evaluate("document.querySelector('[data-map=Fan] .active').dataset.iteration") == "1"
    shown = statuses(browser)
    assert shown == {"Prep": "succeeded", "Flaky": "retried", "Fan": "caught", "Check": "succeeded", "Bad": "failed",
                     "Ok": "notrun", "Publish": "notrun", "Failed": "failed"}
    for state in ("Flaky", "Fan", "Bad", "Failed", "Publish"):
        assert fill(browser, state) == FILLS[shown[state]], state
    # Catch edges are drawn apart (dashed red), Choice edges carry their rule.
    assert browser.evaluate("document.querySelectorAll('svg.graph .edge.catch').length") == 1
    assert browser.evaluate("getComputedStyle(document.querySelector('.edge.catch path')).strokeDasharray") != "none"
    labels = browser.evaluate("[...document.querySelectorAll('svg.graph .edge.choice text, svg.graph .edge.default "
                              "text')].map(t => t.textContent)")
    assert sorted(labels) == ["$ NumericEquals 2", "Default"]
    # The Map processor's states are drawn inside the Map's group.
    inside = browser.evaluate("""(() => {
        const box = (s) => document.querySelector(`[data-state="${s}"] > rect`).getBBox();
        const fan = box('Fan');
        return ['Check', 'Bad', 'Ok'].every(s => { const b = box(s);
            return b.x >= fan.x && b.y >= fan.y && b.x + b.width <= fan.x + fan.width && b.y + b.height <= fan.y + fan.height; });
    })()""")
    assert inside is True
    browser.screenshot(ARTIFACTS / "failed.png")
    if os.environ.get("SFN_LOCAL_README_SCREENSHOT"):
        browser.screenshot(REPO / "docs" / "console.png")

    # Map runs by iteration: iteration 0 took the Default branch.
    browser.evaluate("document.querySelector('[data-map=Fan] [data-iteration=\"0\"]').click()")
    browser.wait_for("document.querySelector('[data-state=\"Ok\"]').dataset.status === 'succeeded'")
    assert statuses(browser)["Bad"] == "notrun"
    # A state's details: the retried Task's attempts, its input and output.
    browser.evaluate("document.querySelector('[data-state=\"Flaky\"]').dispatchEvent(new MouseEvent('click'))")
    browser.wait_for("document.querySelector('#detail h2').textContent.startsWith('Flaky')")
    detail = browser.evaluate("document.querySelector('#detail').textContent")
    assert "Attempts (1 retries)" in detail and "TimeoutError" in detail and '"items"' in detail
    # Every data-flow stage, rebuilt by the server when asked for.
    browser.evaluate("const d = document.querySelector('#detail details.all-stages'); d.open = true;")
    stages = browser.wait_for("[...document.querySelectorAll('#detail .stages b')].map(b => b.textContent)"
                              ".join(',') || null")
    assert {"input", "afterInputPath", "afterParameters", "result", "afterResultPath"} <= set(stages.split(","))
    # The event table filters.
    browser.evaluate("const f = document.querySelector('#event-type'); f.value = 'MapIterationFailed'; "
                     "f.dispatchEvent(new Event('change'))")
    assert browser.wait_for("document.querySelectorAll('#events tbody tr').length") == 1
    browser.screenshot(ARTIFACTS / "failed-flaky-details.png")
    assert browser.errors == []


def test_sql_box_and_bucket_browser(server: Server, browser: Chromium) -> None:
    s3 = server.client("s3")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="raw/readme.txt", Body=b"hello from the lake")
    browser.goto(f"{server.url}/ui/#/buckets/lake?prefix=raw%2F&key=raw%2Freadme.txt")
    preview = browser.wait_for("document.querySelector('#object-preview') && "
                               "document.querySelector('#object-preview').textContent")
    assert preview == "hello from the lake"
    browser.goto(f"{server.url}/ui/#/sql?q={urllib.parse.quote('SELECT 6 * 7 AS answer')}")
    browser.wait_for("document.querySelector('#sql-result table') !== null")
    cells = browser.evaluate("[...document.querySelectorAll('#sql-result th, #sql-result td')].map(c => c.textContent)")
    assert cells == ["answer", "42"]
    browser.screenshot(ARTIFACTS / "sql.png")
    assert browser.errors == []
