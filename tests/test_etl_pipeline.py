"""The ETL pipeline definition end to end: extract → transform → validate → quality gate → load,
with SNS notifications, retries of transient Lambda errors and the error handler."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from functools import cached_property
from pathlib import Path

import pytest

import emulator
from definitions import etl_handlers
from emulator.backends import Backends
from emulator.backends.outbox import Outbox
from emulator.errors import StatesError
from emulator.integrations import messaging  # noqa: F401  (registers sns until the package imports it)
from emulator.workspace import Workspace

if not hasattr(Backends, "outbox"):  # until Backends.outbox is wired in emulator/backends/__init__.py
    _outbox = cached_property(lambda self: Outbox(self.workspace))
    _outbox.__set_name__(Backends, "outbox")
    Backends.outbox = _outbox

DEFINITION = Path(__file__).resolve().parents[1] / "definitions" / "etl_extract_transform_validate_load.asl.json"
TOPIC = "etl-notifications"
HANDLERS = {"etl-extract": etl_handlers.extract, "etl-transform": etl_handlers.transform,
            "etl-validate": etl_handlers.validate, "etl-load": etl_handlers.load}

GOOD = [
    ("o-1", "ada lovelace", "10.50", "eur", "2024-01-02"),
    ("o-2", "Grace  Hopper", "20", "USD", "2024-01-03"),
    ("o-3", "ada lovelace", "4.25", "EUR", "2024-01-04"),
    ("o-4", "alan turing", "100.10", "gbp", "2024-02-29"),
    ("o-5", "Grace Hopper", "0.40", "usd", "2024-03-01"),
    ("o-6", "edsger dijkstra", "7.77", "EUR", "2024-03-02"),
    ("o-7", "barbara liskov", "15", "USD", "2024-03-03"),
    ("o-8", "ken thompson", "3.30", "GBP", "2024-03-04"),
    ("o-9", "dennis ritchie", "8", "eur", "2024-03-05"),
]
BAD = [
    ("o-10", "x", "abc", "EUR", "2024-01-01"),       # amount not a number
    ("o-11", "y", "-5", "EUR", "2024-01-01"),        # negative
    ("o-1", "z", "1", "EUR", "2024-01-01"),          # duplicate id
    ("o-12", "w", "1", "JPY", "2024-01-01"),         # unknown currency
    ("o-13", "v", "1", "EUR", "2024-13-01"),         # bad date
    ("o-14", "", "1", "EUR", "2024-01-01"),          # missing customer
]


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path)


def write_csv(path: Path, rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(etl_handlers.FIELDS)
        writer.writerows(rows)
    return path


def run(ws: Workspace, tmp_path: Path, rows: list[tuple[str, ...]], threshold: float = 0.1,
        handlers: dict | None = None) -> emulator.Execution:
    source = write_csv(tmp_path / "orders.csv", rows)
    data = {"source": str(source), "output": str(tmp_path / "out" / "orders.json"), "threshold": threshold}
    return emulator.run(DEFINITION, data, workspace=ws, resources={**HANDLERS, **(handlers or {})}, seed=1)


def test_definition_is_valid() -> None:
    assert emulator.validate(DEFINITION) == []


def test_clean_batch_is_loaded_and_announced(ws: Workspace, tmp_path: Path) -> None:
    rows = GOOD + BAD[:1]  # 1 invalid row of 10: under the 0.2 threshold
    ex = run(ws, tmp_path, rows, threshold=0.2)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    # Expected values computed here, independently of the handlers.
    totals: dict[str, float] = defaultdict(float)
    for _, _, amount, currency, _ in GOOD:
        totals[currency.upper()] += float(amount)
    expected_totals = {k: round(v, 2) for k, v in sorted(totals.items())}
    assert expected_totals == {"EUR": 30.52, "GBP": 103.4, "USD": 35.4}
    loaded = json.loads((tmp_path / "out" / "orders.json").read_text())
    assert loaded["totals_by_currency"] == expected_totals
    assert loaded["rows_loaded"] == len(GOOD) and loaded["customers"] == 7
    assert [r["order_id"] for r in loaded["rows"]] == [r[0] for r in GOOD]
    assert loaded["rows"][1]["customer"] == "Grace Hopper" and loaded["rows"][0]["currency"] == "EUR"
    assert ex.output == {k: v for k, v in loaded.items() if k != "rows"}
    [note] = Outbox(ws).messages(topic=TOPIC)
    assert note["Subject"] == "ETL load succeeded"
    assert note["Body"] == f"Loaded 9 of 10 rows into {tmp_path / 'out' / 'orders.json'}"


def test_quality_gate_rejects_a_dirty_batch_and_alerts(ws: Workspace, tmp_path: Path) -> None:
    ex = run(ws, tmp_path, GOOD + BAD, threshold=0.2)  # 6 of 15 invalid = 0.4
    assert (ex.status, ex.error) == ("FAILED", "DataQualityCheckFailed")
    assert not (tmp_path / "out" / "orders.json").exists()
    [alert] = Outbox(ws).messages(topic=TOPIC)
    assert alert["Subject"] == "ETL data quality check failed"
    body = json.loads(alert["Body"])
    assert (body["total"], body["invalid_count"], body["invalid_ratio"], body["threshold"]) == (15, 6, 0.4, 0.2)
    assert [r["row"] for r in body["rejected"]] == list(range(10, 16))
    reasons = [r["reason"] for r in body["rejected"]]
    assert reasons[0] == "amount 'abc' is not a number" and reasons[2] == "duplicate order_id o-1"
    assert reasons[5] == "missing customer"


def test_transient_errors_are_retried(ws: Workspace, tmp_path: Path) -> None:
    calls = {"transform": 0, "load": 0}

    class TransientError(Exception):
        pass

    def flaky_transform(event: dict, context: object) -> dict:
        calls["transform"] += 1
        if calls["transform"] < 3:
            raise StatesError("Lambda.ServiceException", "Lambda is unavailable")
        return etl_handlers.transform(event, context)

    def flaky_load(event: dict, context: object) -> dict:
        calls["load"] += 1
        if calls["load"] == 1:
            raise TransientError("database connection reset")
        return etl_handlers.load(event, context)

    ex = run(ws, tmp_path, GOOD, handlers={"etl-transform": flaky_transform, "etl-load": flaky_load})
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert calls == {"transform": 3, "load": 1 + 1}
    failures = [e["taskFailedEventDetails"]["error"] for e in ex.history if e["type"] == "TaskFailed"]
    assert failures == ["Lambda.ServiceException", "Lambda.ServiceException", "TransientError"]
    # Back-off on the virtual clock: 2 s then 4 s for Transform, 2 s for Load.
    assert (ex.stop_date - ex.start_date).total_seconds() >= 8
    assert [m["Subject"] for m in Outbox(ws).messages(topic=TOPIC)] == ["ETL load succeeded"]


def test_unexpected_error_notifies_and_fails_with_the_original_error(ws: Workspace, tmp_path: Path) -> None:
    data = {"source": str(tmp_path / "missing.csv"), "output": str(tmp_path / "o.json"), "threshold": 0.1}
    ex = emulator.run(DEFINITION, data, workspace=ws, resources=HANDLERS)
    assert (ex.status, ex.error) == ("FAILED", "FileNotFoundError")
    [alert] = Outbox(ws).messages(topic=TOPIC)
    assert alert["Subject"] == "ETL pipeline failed"
    body = json.loads(alert["Body"])
    assert body["error"] == "FileNotFoundError" and "missing.csv" in json.loads(body["cause"])["errorMessage"]


def test_retries_give_up_after_max_attempts(ws: Workspace, tmp_path: Path) -> None:
    def always_throttled(event: dict) -> dict:
        raise StatesError("Lambda.TooManyRequestsException", "Rate exceeded")

    ex = run(ws, tmp_path, GOOD, handlers={"etl-extract": always_throttled})
    assert (ex.status, ex.error) == ("FAILED", "Lambda.TooManyRequestsException")
    assert sum(e["type"] == "TaskFailed" for e in ex.history) == 4  # 1 + MaxAttempts 3
    assert [m["Subject"] for m in Outbox(ws).messages(topic=TOPIC)] == ["ETL pipeline failed"]
