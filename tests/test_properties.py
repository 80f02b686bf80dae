"""Properties that must hold for any JSON, checked with hypothesis."""

from __future__ import annotations

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st

import emulator
from emulator.asl.paths import Path

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text("abcxyz", min_size=1, max_size=3), inner,
                                                                max_size=4),
    max_leaves=20,
)
keys = st.lists(st.text("abcdef", min_size=1, max_size=3), min_size=1, max_size=4)


@given(data=st.dictionaries(st.text("abc", min_size=1, max_size=2), json_values, max_size=4), steps=keys,
       value=json_values)
def test_result_path_places_value_and_never_mutates(data: dict, steps: list[str], value: object) -> None:
    path = Path("$." + ".".join(steps))
    frozen = copy.deepcopy(data)
    try:
        out = path.set(data, value)
    except emulator.StatesError:
        return  # an existing non-object on the way: AWS fails too
    assert data == frozen
    assert path.get(out) == value


@settings(max_examples=50, deadline=None)
@given(value=json_values)
def test_json_round_trip_through_intrinsics(value: object) -> None:
    definition = {"StartAt": "A", "States": {"A": {
        "Type": "Pass",
        "Parameters": {"back.$": "States.StringToJson(States.JsonToString($.v))"},
        "End": True}}}
    ex = emulator.run(definition, {"v": value})
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"back": value}


@settings(max_examples=50, deadline=None)
@given(value=json_values)
def test_pass_chain_preserves_any_input_and_history_is_json(value: object) -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}}}
    ex = emulator.run(definition, value)
    assert ex.output == (value if value is not None else {})
    for event in ex.history:
        for details in (v for k, v in event.items() if k.endswith("EventDetails")):
            for field in ("input", "output"):
                if field in details:
                    json.loads(details[field])
