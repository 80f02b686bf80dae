"""Loading the AWS-recorded conformance corpus from ../shared/ and checking one case."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import emulator

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "aws-recorded"
KNOWN_FAILURES = Path(__file__).with_name("known_failures.txt")


def available() -> bool:
    return (CORPUS / "cases.jsonl").is_file()


def skip_reason() -> str:
    return f"AWS-recorded conformance corpus not found at {CORPUS} (it lives in ../shared/ beside the project)"


def _lines(name: str) -> list[dict[str, Any]]:
    path = CORPUS / name
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@cache
def pure_cases() -> list[dict[str, Any]]:
    """Cases that need no AWS service, without duplicates."""
    return [c for c in _lines("cases.jsonl") if not c["needs_services"] and c["duplicate_of"] is None]


@cache
def histories() -> dict[str, list[dict[str, Any]]]:
    return {h["id"]: h["events"] for h in _lines("histories.jsonl")}


@cache
def known_failures() -> dict[str, str]:
    """`case id<TAB>reason` lines; `#` starts a comment."""
    out: dict[str, str] = {}
    for raw in KNOWN_FAILURES.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            case_id, _, reason = line.partition("\t")
            out[case_id.strip()] = reason.strip()
    return out


def is_jsonata(case: dict[str, Any]) -> bool:
    return "JSONata" in json.dumps(case["definition"])


@dataclass
class Outcome:
    passed: bool
    why: str
    execution: Any = None


def check(case: dict[str, Any]) -> Outcome:
    """Run one case and compare with what AWS recorded (outputs only where deterministic)."""
    expected = case["expected"]
    data = {} if case.get("input_omitted") else case.get("input")
    try:
        ex = emulator.run(case["definition"], data, seed=0)
    except emulator.DefinitionError as exc:
        return Outcome(False, f"rejected: {str(exc)[:200]}")
    if ex.status != expected["status"]:
        return Outcome(False, f"status {ex.status} ({ex.error}: {str(ex.cause)[:160]}), AWS {expected['status']}", ex)
    if not case["deterministic"]:
        return Outcome(True, "", ex)
    if expected["status"] == "SUCCEEDED":
        if "output" in expected and ex.output != expected["output"]:
            return Outcome(False, f"output {json.dumps(ex.output)[:200]} != {json.dumps(expected['output'])[:200]}", ex)
        return Outcome(True, "", ex)
    if "error" in expected and ex.error != expected["error"]:
        return Outcome(False, f"error {ex.error!r} != {expected['error']!r}", ex)
    if expected.get("cause") is not None and ex.cause != expected["cause"]:
        return Outcome(False, f"cause {str(ex.cause)[:160]!r} != {str(expected['cause'])[:160]!r}", ex)
    return Outcome(True, "", ex)


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]
