"""EventBridge event patterns: the documented comparison operators, refused patterns, and properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.events.patterns import PatternError, compile_pattern

S3_EVENT = {
    "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
    "source": "aws.s3", "account": "111122223333", "time": "2021-11-12T00:00:00Z", "region": "ca-central-1",
    "resources": ["arn:aws:s3:::example-bucket"],
    "detail": {"version": "0", "bucket": {"name": "example-bucket"},
               "object": {"key": "incoming/Orders-2024.CSV", "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184"},
               "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "source-ip-address": "10.0.0.7",
               "reason": "PutObject", "tags": ["raw", "eu"], "note": None, "empty": ""},
}


def matches(pattern: Any, event: Any = S3_EVENT) -> bool:
    return compile_pattern(pattern).matches(event)


def detail(**fields: Any) -> dict[str, Any]:
    return {"detail": fields}


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"]}, True),
    ({"source": ["aws.s3"], "detail-type": ["Object Deleted"]}, False),
    (detail(bucket={"name": ["example-bucket"]}, object={"key": [{"prefix": "incoming/"}]}), True),
    (detail(object={"key": [{"prefix": "Incoming/"}]}), False),
    (detail(object={"key": [{"prefix": {"equals-ignore-case": "INCOMING/orders"}}]}), True),
    (detail(object={"key": [{"suffix": ".CSV"}]}), True),
    (detail(object={"key": [{"suffix": ".csv"}]}), False),
    (detail(object={"key": [{"suffix": {"equals-ignore-case": ".csv"}}]}), True),
    (detail(reason=[{"equals-ignore-case": "putobject"}]), True),
    (detail(object={"key": [{"wildcard": "incoming/*.CSV"}]}), True),
    (detail(object={"key": [{"wildcard": "*/lib/*"}]}), False),
    (detail(reason=[{"anything-but": "PutObject"}]), False),
    (detail(reason=[{"anything-but": ["CopyObject", "CompleteMultipartUpload"]}]), True),
    (detail(reason=[{"anything-but": {"prefix": "Put"}}]), False),
    (detail(object={"key": [{"anything-but": {"suffix": ".png"}}]}), True),
    (detail(reason=[{"anything-but": {"equals-ignore-case": ["putobject", "x"]}}]), False),
    (detail(object={"key": [{"anything-but": {"wildcard": "*/lib/*"}}]}), True),
    (detail(missing=[{"anything-but": "x"}]), False),  # anything-but needs the field
    (detail(object={"size": [{"numeric": [">", 0, "<=", 5]}]}), True),
    (detail(object={"size": [{"numeric": [">", 5]}]}), False),
    (detail(object={"size": [{"numeric": ["=", 5]}]}), True),
    (detail(object={"size": [5.0]}), True),
    (detail(object={"size": ["5"]}), False),  # a string is not a number
    (detail(object={"etag": [{"exists": True}]}), True),
    (detail(object={"version-id": [{"exists": False}]}), True),
    (detail(object={"version-id": [{"exists": True}]}), False),
    (detail(object=[{"exists": True}]), False),  # exists works on leaves, not on objects
    (detail(note=[None]), True),
    (detail(empty=[""]), True),
    (detail(tags=["eu"]), True),  # an array matches when any element does
    (detail(tags=["us"]), False),
    ({"resources": [{"prefix": "arn:aws:s3:::example"}]}, True),
    (detail(**{"source-ip-address": [{"cidr": "10.0.0.0/24"}]}), True),
    (detail(**{"source-ip-address": [{"cidr": "10.0.1.0/24"}]}), False),
    ({"source": ["aws.s3"], "$or": [detail(reason=["CopyObject"]), detail(object={"size": [{"numeric": ["<", 10]}]})]},
     True),
    ({"$or": [{"source": ["aws.glue"]}, detail(reason=["CopyObject"])]}, False),
    (detail(object={"key": ["incoming/Orders-2024.CSV"], "size": [6]}), False),  # every field must match
])
def test_documented_operators(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern) is expected


def test_arrays_of_objects_match_within_one_element() -> None:
    event = {"items": [{"kind": "a", "n": 1}, {"kind": "b", "n": 2}]}
    assert matches({"items": {"kind": ["a"], "n": [1]}}, event)
    assert not matches({"items": {"kind": ["a"], "n": [2]}}, event)


def test_wildcard_escapes() -> None:
    assert matches({"k": [{"wildcard": "a\\*b"}]}, {"k": "a*b"})
    assert not matches({"k": [{"wildcard": "a\\*b"}]}, {"k": "axxb"})
    assert matches({"k": [{"wildcard": "a\\\\*"}]}, {"k": "a\\zzz"})


@pytest.mark.parametrize(("pattern", "where"), [
    ({"source": "aws.s3"}, "EventPattern.source"),
    ({"detail": {"size": [{"numeric": [">", "x"]}]}}, "EventPattern.detail.size[0].numeric"),
    ({"detail": {"size": [{"numeric": [">", 1, ">", 2]}]}}, "EventPattern.detail.size[0].numeric"),
    ({"detail": {"k": [{"wildcard": "a**b"}]}}, "EventPattern.detail.k[0].wildcard"),
    ({"detail": {"k": [{"prefix": 3}]}}, "EventPattern.detail.k[0].prefix"),
    ({"detail": {"k": [{"regex": "x"}]}}, "EventPattern.detail.k[0]"),
    ({"detail": {"k": [{"exists": "yes"}]}}, "EventPattern.detail.k[0]"),
    ({"detail": {"k": []}}, "EventPattern.detail.k"),
    ({"detail": {"k": [["a"]]}}, "EventPattern.detail.k[0]"),
    ({"$or": [{"a": ["x"]}]}, "EventPattern.$or"),
    ({"k": [{"cidr": "10.0.0.0/33"}]}, "EventPattern.k[0].cidr"),
    ({"k": [{"anything-but": []}]}, "EventPattern.k[0].anything-but"),
    ({"k": [{"numeric": ["<", 6e9]}]}, "EventPattern.k[0].numeric"),
    ({}, "EventPattern"),
    ("[1]", "EventPattern"),
    ("{not json", "EventPattern"),
])
def test_refused_patterns_name_the_field(pattern: Any, where: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert caught.value.where == where


def test_json_text_and_dict_patterns_agree() -> None:
    text = '{"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "incoming/"}]}}}'
    assert compile_pattern(text).matches(S3_EVENT)


# -- properties --------------------------------------------------------------------------------------------
texts = st.text(alphabet="abcXYZ/._-*é", max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), texts)
events = st.dictionaries(st.sampled_from("abcd"), st.one_of(scalars, st.lists(scalars, max_size=3),
                                                           st.dictionaries(st.sampled_from("xy"), scalars, max_size=2)),
                         max_size=4)


def _leaf_fields(event: dict[str, Any]) -> dict[str, list[Any]]:
    out = {}
    for key, value in event.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(value, dict) and values:
            out[key] = values
    return out


@given(events, st.data())
def test_a_pattern_of_the_events_own_values_matches_it(event: dict[str, Any], data: st.DataObject) -> None:
    fields = _leaf_fields(event)
    chosen = data.draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=len(fields))) if fields else []
    pattern = {key: [data.draw(st.sampled_from(fields[key]))] for key in chosen} or {"zz": [{"exists": False}]}
    assert matches(pattern, event)


@given(events, st.sampled_from("abcd"), texts)
def test_exact_and_anything_but_are_complements_on_present_text(event: dict[str, Any], key: str, value: str) -> None:
    present = [v for v in _leaf_fields(event).get(key, []) if isinstance(v, str)]
    if len(present) != 1 or len(_leaf_fields(event)[key]) != 1:
        return
    assert matches({key: [value]}, event) is not matches({key: [{"anything-but": value}]}, event)


@given(texts, texts)
def test_prefix_suffix_and_ignore_case_follow_their_string_meaning(text: str, probe: str) -> None:
    event = {"k": text}
    assert matches({"k": [{"prefix": probe}]}, event) is text.startswith(probe)
    assert matches({"k": [{"suffix": probe}]}, event) is text.endswith(probe)
    assert matches({"k": [{"equals-ignore-case": probe or "x"}]}, event) is (text.casefold() == (probe or "x").casefold())


@given(st.lists(st.text(alphabet="ab/.", max_size=4), min_size=1, max_size=4), st.text(alphabet="ab/.", max_size=6))
def test_a_wildcard_matches_what_its_literal_pieces_spell(pieces: list[str], filler: str) -> None:
    pattern = "*".join(pieces)
    if "**" in pattern:
        return
    assert matches({"k": [{"wildcard": pattern}]}, {"k": filler.join(pieces)})
    assert matches({"k": [{"wildcard": pieces[0]}]}, {"k": pieces[0]})


@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False),
       st.floats(-1e6, 1e6, allow_nan=False))
def test_numeric_ranges(value: float, low: float, high: float) -> None:
    assert matches({"n": [{"numeric": [">", low, "<=", high]}]}, {"n": value}) is (low < value <= high)
    assert matches({"n": [{"numeric": [">=", low]}]}, {"n": value}) is (value >= low)


@given(events, st.sampled_from("abcdz"))
def test_exists_true_and_false_split_every_event(event: dict[str, Any], key: str) -> None:
    assert matches({key: [{"exists": True}]}, event) is not matches({key: [{"exists": False}]}, event)


@given(events, events, events)
def test_or_is_the_union_of_its_alternatives(event: dict[str, Any], left: dict[str, Any],
                                             right: dict[str, Any]) -> None:
    first = {k: [v[0]] for k, v in _leaf_fields(left).items()} or {"a": [{"exists": True}]}
    second = {k: [v[0]] for k, v in _leaf_fields(right).items()} or {"b": [{"exists": False}]}
    assert matches({"$or": [first, second]}, event) is (matches(first, event) or matches(second, event))
