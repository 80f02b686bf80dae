"""Conformance with executions recorded against real AWS (../shared/conformance/aws-recorded).

Every pure-ASL case runs as its own test; the ones we know we fail are listed, with the
reason, in known_failures.txt and marked xfail(strict): a listed case that starts passing
fails the run until it is taken off the list.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conformance import corpus

pytestmark = pytest.mark.skipif(not corpus.available(), reason=corpus.skip_reason())

CASES = corpus.pure_cases() if corpus.available() else []


def _params() -> list[object]:
    known = corpus.known_failures()
    out = []
    for case in CASES:
        marks = []
        if case["id"] in known:
            marks.append(pytest.mark.xfail(reason=known[case["id"]], strict=True))
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_case(case: dict) -> None:
    outcome = corpus.check(case)
    assert outcome.passed, outcome.why


def test_known_failures_name_real_cases() -> None:
    ids = {c["id"] for c in CASES}
    stale = sorted(set(corpus.known_failures()) - ids)
    assert not stale, f"known_failures.txt names cases not in the corpus: {stale[:5]}"


def test_pass_rate_per_category(capsys: pytest.CaptureFixture[str]) -> None:
    total, passed = Counter(), Counter()
    for case in CASES:
        if not case["deterministic"]:
            continue
        key = ("jsonata" if corpus.is_jsonata(case) else "jsonpath", case["category"])
        total[key] += 1
        passed[key] += corpus.check(case).passed
    with capsys.disabled():
        print("\nAWS-recorded conformance, deterministic pure-ASL cases:")
        for key in sorted(total):
            print(f"  {key[0]:8} {key[1]:14} {passed[key]:4}/{total[key]}")
    jp_total = sum(n for k, n in total.items() if k[0] == "jsonpath")
    jp_passed = sum(n for k, n in passed.items() if k[0] == "jsonpath")
    assert jp_total and jp_passed / jp_total >= 0.95, f"JSONPath pass rate {jp_passed}/{jp_total} is under 95%"


def test_history_event_types_match_aws(capsys: pytest.CaptureFixture[str]) -> None:
    recorded = corpus.histories()
    compared = matched = 0
    mismatches = []
    for case in CASES:
        if case["id"] not in recorded:
            continue
        outcome = corpus.check(case)
        if outcome.execution is None:
            continue
        compared += 1
        ours, theirs = corpus.event_types(outcome.execution.history), corpus.event_types(recorded[case["id"]])
        if ours == theirs:
            matched += 1
        else:
            mismatches.append(case["id"])
    with capsys.disabled():
        print(f"\nHistory event-type sequences equal to AWS's: {matched}/{compared}")
        for case_id in mismatches[:10]:
            print(f"  differs: {case_id}")
    assert compared and matched / compared >= 0.90
