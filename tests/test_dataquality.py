"""Glue Data Quality: DQDL rulesets evaluated on a catalog table, every expected answer computed here in
plain Python over the same rows the table's CSV file holds."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

import emulator
from emulator.backends import Backends
from emulator.backends.catalog import GlueError
from emulator.backends.dataquality import Composite, Rule, parse
from emulator.workspace import Config, Workspace
from tests.conftest import chain
from tests.test_server_data import Served, data_app, serving

GLUE = "arn:aws:states:::aws-sdk:glue:"
ROLE = "arn:aws:iam::123456789012:role/dq"
# id, email, age, country: duplicates, gaps and outliers on purpose.
ROWS: list[tuple[int, str | None, int | None, str]] = [
    (1, "ann@example.com", 34, "US"), (2, "bob@example.com", 17, "CA"), (3, None, 45, "UK"),
    (4, "dee@example", 29, "US"), (4, "eve@example.com", None, "FR"), (6, "fay@example.com", 61, "US"),
    (7, "gus@example.com", 38, "CA"), (8, None, 22, "US"), (9, "ivy@example.com", 50, "DE"),
    (10, "jon@example.com", 27, "US"),
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("dq")
    lake = root / "lake"
    (lake / "people").mkdir(parents=True)
    lines = ["id,email,age,country"] + [",".join("" if v is None else str(v) for v in row) for row in ROWS]
    (lake / "people" / "people.csv").write_text("\n".join(lines) + "\n")
    workspace = Workspace(root=root / "ws", project=root, config=Config(buckets={"lake": lake}))
    catalog = Backends(workspace).catalog
    catalog.create_database({"Name": "crm"})
    catalog.create_table("crm", {
        "Name": "people", "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
        "StorageDescriptor": {"Location": "s3://lake/people/", "SerdeInfo": {"Parameters": {"field.delim": ","}},
                              "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "email", "Type": "string"},
                                          {"Name": "age", "Type": "bigint"}, {"Name": "country", "Type": "string"}]}})
    return workspace


def column(name: str) -> list[Any]:
    return [row[("id", "email", "age", "country").index(name)] for row in ROWS]


def completeness(name: str) -> float:
    return sum(v is not None for v in column(name)) / len(ROWS)


def uniqueness(name: str) -> float:
    counts = Counter(v for v in column(name) if v is not None)
    return sum(1 for n in counts.values() if n == 1) / len(ROWS)


def task(action: str, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": GLUE + action, "Parameters": parameters, **extra}


def evaluate(ws: Workspace, name: str, ruleset: str) -> dict[str, Any]:
    """Create the ruleset, run it with `.sync`, read its result: all through Task states."""
    definition = chain(
        ("Create", task("createDataQualityRuleset", {"Name": name, "Ruleset": ruleset,
                                                     "TargetTable": {"DatabaseName": "crm", "TableName": "people"}},
                        ResultPath=None)),
        ("Run", {"Type": "Task", "Resource": "arn:aws:states:::glue:startDataQualityRulesetEvaluationRun.sync",
                 "Parameters": {"DataSource": {"GlueTable": {"DatabaseName": "crm", "TableName": "people"}},
                                "Role": ROLE, "RulesetNames": [name]}, "ResultPath": "$.run"}),
        ("Result", task("getDataQualityResult", {"ResultId.$": "$.run.ResultIds[0]"}, ResultPath="$.result")),
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.output["run"]["Status"] == "SUCCEEDED"
    return ex.output["result"]


def test_rules_pass_fail_and_metrics_match_python(ws: Workspace) -> None:
    ages = [a for a in column("age") if a is not None]
    in_range = sum(1 for a in column("age") if a is not None and 18 < a < 60) / len(ROWS)
    allowed = {"US", "CA", "UK"}
    in_set = sum(c in allowed for c in column("country")) / len(ROWS)
    email_ok = sum(1 for e in column("email") if e is not None
                   and re.fullmatch(r"[a-z]+@example\.com", e)) / len(ROWS)
    adults = sum(1 for a in column("age") if a is not None and a >= 18)
    rules = [
        (f"RowCount = {len(ROWS)}", True, {"Dataset.*.RowCount": len(ROWS)}),
        ('IsComplete "email"', completeness("email") == 1, {"Column.email.Completeness": completeness("email")}),
        ('Completeness "age" > 0.85', completeness("age") > 0.85, {"Column.age.Completeness": completeness("age")}),
        ('IsUnique "id"', uniqueness("id") == 1, {"Column.id.Uniqueness": uniqueness("id")}),
        ('Uniqueness "id" >= 0.8', uniqueness("id") >= 0.8, {"Column.id.Uniqueness": uniqueness("id")}),
        ('Mean "age" between 30 and 40', 30 < statistics.mean(ages) < 40,
         {"Column.age.Mean": statistics.mean(ages)}),
        ('StandardDeviation "age" < 20', statistics.pstdev(ages) < 20,
         {"Column.age.StandardDeviation": statistics.pstdev(ages)}),
        ('DistinctValuesCount "country" = 5', len(set(column("country"))) == 5,
         {"Column.country.DistinctValuesCount": len(set(column("country")))}),
        ('ColumnValues "country" in ["US", "CA", "UK"]', in_set == 1,
         {"Column.country.ColumnValues.Compliance": in_set}),
        ('ColumnValues "country" in ["US", "CA", "UK"] with threshold > 0.7', in_set > 0.7,
         {"Column.country.ColumnValues.Compliance": in_set}),
        ('ColumnValues "age" between 18 and 60', in_range == 1, {"Column.age.ColumnValues.Compliance": in_range}),
        ('ColumnValues "email" matches "[a-z]+@example\\.com"', email_ok == 1,
         {"Column.email.ColumnValues.Compliance": email_ok}),
        ('CustomSql "select count(*) from primary where age >= 18" = 8', adults == 8,
         {"Dataset.*.CustomSQL": adults}),
        ('(IsComplete "id") and (RowCount > 100)', False,
         {"Column.id.Completeness": completeness("id"), "Dataset.*.RowCount": len(ROWS)}),
        ('(IsComplete "id") or (RowCount > 100)', completeness("id") == 1,
         {"Column.id.Completeness": completeness("id"), "Dataset.*.RowCount": len(ROWS)}),
    ]
    ruleset = "Rules = [\n  " + ",\n  ".join(text for text, _, _ in rules) + "\n]"
    result = evaluate(ws, "people-checks", ruleset)
    assert result["RulesetName"] == "people-checks"
    assert result["DataSource"] == {"GlueTable": {"DatabaseName": "crm", "TableName": "people"}}
    got = result["RuleResults"]
    assert [r["Name"] for r in got] == [f"Rule_{i}" for i in range(1, len(rules) + 1)]
    for (text, passes, metrics), rule in zip(rules, got, strict=True):
        assert rule["Description"] == text
        assert rule["Result"] == ("PASS" if passes else "FAIL"), (text, rule)
        assert rule["EvaluatedMetrics"] == pytest.approx(metrics), text
        assert ("EvaluationMessage" in rule) == (not passes), text
    assert result["Score"] == pytest.approx(sum(p for _, p, _ in rules) / len(rules))


def test_where_clause_and_errors(ws: Workspace) -> None:
    adults = [row for row in ROWS if row[2] is not None and row[2] > 30]
    expected = sum(row[1] is not None for row in adults) / len(adults)
    result = evaluate(ws, "filtered", 'Rules = [ Completeness "email" >= 0.5 where "age > 30", '
                                      'IsComplete "no_such_column", ColumnExists "country", ColumnExists "zip" ]')
    where, missing, exists, absent = result["RuleResults"]
    assert where["EvaluatedMetrics"] == {"Column.email.Completeness": pytest.approx(expected)}
    assert where["Result"] == ("PASS" if expected >= 0.5 else "FAIL")
    assert missing["Result"] == "ERROR" and "no_such_column" in missing["EvaluationMessage"]
    assert (exists["Result"], absent["Result"]) == ("PASS", "FAIL")
    assert result["Score"] == pytest.approx([where["Result"], "ERROR", "PASS", "FAIL"].count("PASS") / 4)


def test_parser_builds_composites_and_locates_errors() -> None:
    rules = parse('Rules = [ (RowCount > 0) or ((IsComplete "a") and (ColumnValues "b" not in [1, 2])) ]')
    (top,) = rules
    assert isinstance(top, Composite) and top.op == "or"
    first, second = top.parts
    assert isinstance(first, Rule) and first.type == "RowCount"
    assert isinstance(second, Composite) and second.op == "and"
    values = second.parts[1]
    assert isinstance(values, Rule) and values.condition is not None
    assert (values.condition.op, values.condition.negated, len(values.condition.operands)) == ("in", True, 2)
    with pytest.raises(GlueError) as bad:
        parse('Rules = [\n  IsComplete "a",\n  Completeness "b" >> 1 ]')
    assert bad.value.code == "InvalidInputException" and "line 3:" in bad.value.message
    with pytest.raises(GlueError, match="unknown rule type 'IsGreat'"):
        parse('Rules = [ IsGreat "a" ]')
    with pytest.raises(GlueError, match="needs an expression"):
        parse('Rules = [ Completeness "a" ]')


def test_invalid_ruleset_and_unknown_names_fail_as_glue_errors(ws: Workspace) -> None:
    ex = emulator.run(chain(("Create", task("createDataQualityRuleset", {"Name": "bad", "Ruleset": "Rules = [ x"}))),
                      {}, workspace=ws)
    assert ex.error == "Glue.InvalidInputException" and "not valid DQDL" in ex.cause
    ex = emulator.run(chain(("Run", task("startDataQualityRulesetEvaluationRun", {
        "DataSource": {"GlueTable": {"DatabaseName": "crm", "TableName": "people"}}, "Role": ROLE,
        "RulesetNames": ["never-created"]}))), {}, workspace=ws)
    assert ex.error == "Glue.EntityNotFoundException"


@pytest.fixture(scope="module")
def served(ws: Workspace) -> Iterator[Served]:
    backends = Backends(ws)
    with serving(data_app(backends)) as port:
        yield Served(f"http://127.0.0.1:{port}", backends)


def test_boto3_polls_a_run_to_its_result(served: Served) -> None:
    glue = served.client("glue")
    glue.create_data_quality_ruleset(Name="boto", Ruleset='Rules = [ RowCount > 5, IsComplete "email" ]')
    assert "boto" in [r["Name"] for r in glue.list_data_quality_rulesets()["Rulesets"]]
    run_id = glue.start_data_quality_ruleset_evaluation_run(
        DataSource={"GlueTable": {"DatabaseName": "crm", "TableName": "people"}}, Role=ROLE,
        RulesetNames=["boto"])["RunId"]
    for _ in range(200):
        run = glue.get_data_quality_ruleset_evaluation_run(RunId=run_id)
        if run["Status"] != "RUNNING":
            break
    assert run["Status"] == "SUCCEEDED" and run["StartedOn"] <= run["CompletedOn"]
    result = glue.get_data_quality_result(ResultId=run["ResultIds"][0])
    assert [r["Result"] for r in result["RuleResults"]] == [
        "PASS" if len(ROWS) > 5 else "FAIL", "PASS" if completeness("email") == 1 else "FAIL"]
    with pytest.raises(ClientError) as missing:
        glue.get_data_quality_result(ResultId="dqresult-0")
    assert missing.value.response["Error"]["Code"] == "EntityNotFoundException"
    with pytest.raises(ClientError) as bad:
        glue.create_data_quality_ruleset(Name="broken", Ruleset="Rules = [ RowCount ]")
    assert bad.value.response["Error"]["Code"] == "InvalidInputException"


def test_a_missing_table_fails_the_run(ws: Workspace) -> None:
    definition = chain(
        ("Create", task("createDataQualityRuleset", {"Name": "orphan", "Ruleset": "Rules = [ RowCount > 0 ]"},
                        ResultPath=None)),
        ("Run", {"Type": "Task", "Resource": "arn:aws:states:::glue:startDataQualityRulesetEvaluationRun.sync",
                 "Parameters": {"DataSource": {"GlueTable": {"DatabaseName": "crm", "TableName": "nope"}},
                                "Role": ROLE, "RulesetNames": ["orphan"]}}),
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.error == "States.TaskFailed" and '"Status":"FAILED"' in ex.cause and "nope" in ex.cause
