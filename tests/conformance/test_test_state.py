"""emulator.test_state against AWS's recorded TestState responses (../shared/conformance/aws-recorded).

The comparison is the team's reference runner, ../shared/tools/test_state.py (wildcards, exclusions).
Cases we know we fail are listed in known_failures.txt's [test_state] section, with the reason.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
from pathlib import Path
from types import ModuleType

import pytest

import emulator
from tests.conformance import corpus

CASES_FILE = corpus.CORPUS / "test_state_cases.jsonl"
RUNNER_FILE = corpus.CORPUS.parents[1] / "tools" / "test_state.py"
MIN_PASS_RATE = 95.0

pytestmark = pytest.mark.skipif(
    not (CASES_FILE.is_file() and RUNNER_FILE.is_file()),
    reason=f"TestState corpus or runner not found ({CASES_FILE}, {RUNNER_FILE}): they live in ../shared/")


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shared_test_state_runner", RUNNER_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _known() -> dict[str, str]:
    out = {}
    for line in Path(corpus.KNOWN_FAILURES).read_text(encoding="utf-8").splitlines():
        if line.startswith("#test_state\t"):
            _, case_id, reason = line.split("\t", 2)
            out[case_id] = reason
    return out


def test_corpus_pass_rate(capsys: pytest.CaptureFixture[str]) -> None:
    runner = _runner()
    accepts = set(inspect.signature(emulator.test_state).parameters)
    cases = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    known = _known()
    assert set(known) <= {c["id"] for c in cases}, "known_failures.txt [test_state] names cases not in the corpus"
    failures: dict[str, str] = {}
    run = 0
    for case in cases:
        if runner.exclusion(case):
            continue
        run += 1
        why = runner.run_case(emulator.test_state, accepts, case)
        if why is not None:
            failures[case["id"]] = why
    rate = 100.0 * (run - len(failures)) / run
    with capsys.disabled():
        print(f"\nTestState corpus: {run - len(failures)}/{run} ({rate:.1f}%)")
    unlisted = {k: v for k, v in failures.items() if k not in known}
    fixed = sorted(set(known) - set(failures))
    assert not unlisted, f"failing TestState cases not in known_failures.txt: {unlisted}"
    assert not fixed, f"now passing: take them out of known_failures.txt: {fixed}"
    assert rate >= MIN_PASS_RATE
