"""Glue Data Quality: DQDL rulesets evaluated on catalog tables with the Athena engine (DuckDB).

A ruleset is DQDL text (`Rules = [ IsComplete "id", RowCount > 10, ... ]`), created with
CreateDataQualityRuleset and kept under `<workspace>/dataquality/`. StartDataQualityRulesetEvaluationRun
evaluates rulesets against `DataSource.GlueTable` in the background (RUNNING → SUCCEEDED, or FAILED
with an ErrorString); each ruleset gives one result (GetDataQualityResult): per rule PASS / FAIL /
ERROR with its EvaluatedMetrics, and Score = passed rules / rules.

DQDL is parsed by a small recursive-descent parser (`parse`). Each rule becomes one SQL query over
the table, run through `QueryEngine.start_query_execution`, so it passes the same confinement as any
Athena query (sqlguard: only catalog tables, no host access). Rule types: RowCount, ColumnCount,
ColumnExists, Completeness, IsComplete, Uniqueness, IsUnique, IsPrimaryKey, UniqueValueRatio,
DistinctValuesCount, Mean, Sum, StandardDeviation, ColumnCorrelation, ColumnValues, ColumnLength and
CustomSql (a scalar query over `primary`). Expressions: = != <> > >= < <=, [not] between (exclusive
bounds, as Glue evaluates them), [not] in [...] (with NULL, EMPTY, WHITESPACES_ONLY), [not] matches
(the whole value), now() and (now() - N days|hours); `with threshold` on ColumnValues/ColumnLength;
`where "<SQL condition>"` filters the rows a rule sees. Composite rules `(A) and (B)`, `(A) or (B)`
combine whole-dataset outcomes (CompositeRuleEvaluationMethod COLUMN; ROW is evaluated the same way).
In ColumnValues, NULL fails every expression except != and not in, as in Glue.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator import background
from emulator.backends.catalog import GlueError, now_iso, read_json, required, write_json
from emulator.errors import TASK_FAILED, StatesError

if TYPE_CHECKING:
    from emulator.backends import Backends

Params = dict[str, Any]
RESULTS_LOCATION = "s3://sfn-local-athena-results/dataquality/"
_NAME = re.compile(r"[\w.\- ]{1,255}")
_ENDED = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT"})
_done: dict[str, threading.Event] = {}  # run id → set when this process's run has ended


# -- DQDL: tokens ----------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<op>!=|<>|>=|<=|=|>|<|\[|\]|\(|\)|\{|\}|,|:|\+|-)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)
_COMPARATORS = ("=", "!=", "<>", ">", ">=", "<", "<=")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string | number | op | word | end
    value: str
    at: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    at = 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None:
            raise _syntax(text, at, f"unexpected character {text[at]!r}")
        if m.lastgroup != "space":
            out.append(_Token(m.lastgroup or "", m.group(), at))
        at = m.end()
    out.append(_Token("end", "", len(text)))
    return out


def _syntax(text: str, at: int, why: str) -> GlueError:
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return GlueError("InvalidInputException", f"The ruleset is not valid DQDL: line {line}:{column}: {why}")


# -- DQDL: the tree ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Operand:
    kind: str  # num | str | keyword (NULL, EMPTY, WHITESPACES_ONLY) | now (value: offset in seconds)
    value: Any


@dataclass(frozen=True, slots=True)
class Condition:
    op: str  # a comparator, "between", "in" or "matches"
    operands: tuple[Operand, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    type: str
    params: tuple[str, ...]
    condition: Condition | None
    threshold: Condition | None
    where: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Composite:
    op: str  # and | or
    parts: tuple[Rule | Composite, ...]
    text: str


Node = Rule | Composite

# Rule type → (number of column parameters, whether a condition is required).
RULE_TYPES: dict[str, tuple[int, bool]] = {
    "RowCount": (0, True), "ColumnCount": (0, True), "ColumnExists": (1, False),
    "Completeness": (1, True), "IsComplete": (1, False), "Uniqueness": (1, True), "IsUnique": (1, False),
    "IsPrimaryKey": (-1, False), "UniqueValueRatio": (1, True), "DistinctValuesCount": (1, True),
    "Mean": (1, True), "Sum": (1, True), "StandardDeviation": (1, True), "ColumnCorrelation": (2, True),
    "ColumnValues": (1, True), "ColumnLength": (1, True), "CustomSql": (1, True),
}
_ROW_LEVEL = frozenset({"ColumnValues", "ColumnLength"})


class _Parser:
    """document := [Metadata = {...}] [Sources = {...}] Rules = [ rule, ... ]
    rule := conjunction ('or' conjunction)* ; conjunction := atom ('and' atom)* ; atom := '(' rule ')' | simple
    simple := RuleType "param"* [condition] ['with' 'threshold' condition] ['where' "sql"]"""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    @property
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.peek.kind == "word" and self.peek.value in words

    def expect(self, kind: str, value: str | None = None) -> _Token:
        token = self.peek
        if token.kind != kind or (value is not None and token.value != value):
            wanted = repr(value) if value is not None else f"a {kind}"
            raise _syntax(self.text, token.at, f"expected {wanted}, found {token.value or 'the end'!r}")
        return self.take()

    def document(self) -> list[Node]:
        while self.is_word("Metadata", "Sources"):
            self.take()
            self.expect("op", "=")
            self.skip_dictionary()
        self.expect("word", "Rules")
        self.expect("op", "=")
        self.expect("op", "[")
        rules: list[Node] = []
        if not (self.peek.kind == "op" and self.peek.value == "]"):
            rules.append(self.rule())
            while self.peek.kind == "op" and self.peek.value == ",":
                self.take()
                rules.append(self.rule())
        self.expect("op", "]")
        self.expect("end")
        return rules

    def skip_dictionary(self) -> None:
        self.expect("op", "{")
        depth = 1
        while depth:
            token = self.take()
            if token.kind == "end":
                raise _syntax(self.text, token.at, "unclosed '{'")
            depth += {"{": 1, "}": -1}.get(token.value, 0) if token.kind == "op" else 0

    def rule(self) -> Node:
        start = self.peek.at
        parts = [self.conjunction()]
        while self.is_word("or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Composite("or", tuple(parts), self.source(start))

    def conjunction(self) -> Node:
        start = self.peek.at
        parts = [self.atom()]
        while self.is_word("and"):
            self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else Composite("and", tuple(parts), self.source(start))

    def atom(self) -> Node:
        if self.peek.kind == "op" and self.peek.value == "(":
            self.take()
            node = self.rule()
            self.expect("op", ")")
            return node
        return self.simple()

    def simple(self) -> Rule:
        token = self.expect("word")
        if token.value not in RULE_TYPES:
            raise _syntax(self.text, token.at, f"unknown rule type {token.value!r}; supported: "
                                                f"{', '.join(sorted(RULE_TYPES))}")
        params: list[str] = []
        while self.peek.kind == "string":
            params.append(_unquote(self.take().value))
        count, needs_condition = RULE_TYPES[token.value]
        if (count >= 0 and len(params) != count) or (count < 0 and not params):
            wanted = "one or more" if count < 0 else str(count)
            raise _syntax(self.text, token.at, f"{token.value} takes {wanted} quoted parameter(s), got {len(params)}")
        condition = self.condition() if self.at_condition() else None
        if needs_condition and condition is None:
            raise _syntax(self.text, self.peek.at, f"{token.value} needs an expression (e.g. > 0.9)")
        threshold = None
        if self.is_word("with"):
            self.take()
            self.expect("word", "threshold")
            threshold = self.condition()
            if token.value not in _ROW_LEVEL:
                raise _syntax(self.text, token.at, f"{token.value} does not take 'with threshold'")
        where = None
        if self.is_word("where"):
            self.take()
            where = _unquote(self.expect("string").value)
        return Rule(token.value, tuple(params), condition, threshold, where, self.source(token.at))

    def source(self, start: int) -> str:
        return self.text[start:self.tokens[self.i - 1].at + len(self.tokens[self.i - 1].value)].strip()

    def at_condition(self) -> bool:
        token = self.peek
        return (token.kind == "op" and token.value in _COMPARATORS) or self.is_word("between", "in", "not",
                                                                                     "matches")

    def condition(self) -> Condition:
        negated = self.is_word("not")
        if negated:
            self.take()
        token = self.take()
        if token.kind == "op" and token.value in _COMPARATORS and not negated:
            return Condition("!=" if token.value == "<>" else token.value, (self.operand(),))
        if token.kind == "word" and token.value == "between":
            low = self.operand()
            self.expect("word", "and")
            return Condition("between", (low, self.operand()), negated)
        if token.kind == "word" and token.value == "in":
            self.expect("op", "[")
            values = [self.operand()]
            while self.peek.kind == "op" and self.peek.value == ",":
                self.take()
                values.append(self.operand())
            self.expect("op", "]")
            return Condition("in", tuple(values), negated)
        if token.kind == "word" and token.value == "matches":
            return Condition("matches", (Operand("str", _unquote(self.expect("string").value)),), negated)
        raise _syntax(self.text, token.at, f"expected an expression (=, >, between, in, matches, ...), "
                                           f"found {token.value or 'the end'!r}")

    def operand(self) -> Operand:
        token = self.peek
        if token.kind == "number":
            self.take()
            return Operand("num", float(token.value))
        if token.kind == "string":
            self.take()
            return Operand("str", _unquote(token.value))
        if token.kind == "word" and token.value in ("NULL", "EMPTY", "WHITESPACES_ONLY"):
            self.take()
            return Operand("keyword", token.value)
        if token.kind == "op" and token.value == "(":
            self.take()
            inner = self.operand()
            self.expect("op", ")")
            return inner
        if token.kind == "word" and token.value == "now":
            self.take()
            self.expect("op", "(")
            self.expect("op", ")")
            offset = 0.0
            if self.peek.kind == "op" and self.peek.value in ("+", "-"):
                sign = -1.0 if self.take().value == "-" else 1.0
                offset = sign * self.duration(float(self.expect("number").value))
            elif self.peek.kind == "number" and self.peek.value.startswith("-"):
                offset = self.duration(float(self.take().value))
            return Operand("now", offset)
        raise _syntax(self.text, token.at, f"expected a value, found {token.value or 'the end'!r}")

    def duration(self, amount: float) -> float:
        unit = self.expect("word")
        if unit.value not in ("days", "hours"):
            raise _syntax(self.text, unit.at, "expected 'days' or 'hours'")
        return amount * (86400 if unit.value == "days" else 3600)


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def parse(text: Any) -> list[Node]:
    """The rules of a DQDL document; GlueError(InvalidInputException) naming line and column otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise GlueError("InvalidInputException", "Ruleset must be a non-empty DQDL document")
    return _Parser(text).document()


# -- evaluation ------------------------------------------------------------------------------------------
class _RuleError(Exception):
    """The rule cannot be evaluated (missing column, failed query): its result is ERROR."""


@dataclass
class _Outcome:
    result: str  # PASS | FAIL | ERROR
    metrics: dict[str, float] = field(default_factory=dict)
    message: str | None = None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(operand: Operand) -> str:
    if operand.kind == "num":
        value = operand.value
        return str(int(value)) if float(value).is_integer() else repr(value)
    if operand.kind == "now":
        seconds = int(operand.value)
        if not seconds:
            return "current_timestamp"
        return f"current_timestamp {'-' if seconds < 0 else '+'} INTERVAL '{abs(seconds)}' SECOND"
    return "'" + str(operand.value).replace("'", "''") + "'"


def _row_predicate(value: str, condition: Condition) -> str:
    """SQL true for a row that meets `condition`; NULL (a failing row) for NULL values but in != / not in."""
    op, operands = condition.op, condition.operands
    if op in _COMPARATORS:
        if op == "!=":
            return f"({value} IS NULL OR {value} <> {_literal(operands[0])})"
        return f"{value} {op} {_literal(operands[0])}"
    if op == "between":
        inside = f"({value} > {_literal(operands[0])} AND {value} < {_literal(operands[1])})"
        return f"NOT {inside}" if condition.negated else inside
    if op == "matches":
        pattern = "'^(?:" + str(operands[0].value).replace("'", "''") + ")$'"
        test = f"regexp_like({value}, {pattern})"
        return f"NOT {test}" if condition.negated else test
    tests: list[str] = []
    plain = [o for o in operands if o.kind != "keyword"]
    if plain:
        tests.append(f"{value} IN ({', '.join(_literal(o) for o in plain)})")
    keywords = {o.value for o in operands if o.kind == "keyword"}
    if "NULL" in keywords:
        tests.append(f"{value} IS NULL")
    if "EMPTY" in keywords:
        tests.append(f"CAST({value} AS varchar) = ''")
    if "WHITESPACES_ONLY" in keywords:
        tests.append(f"(length(CAST({value} AS varchar)) > 0 AND trim(CAST({value} AS varchar)) = '')")
    listed = "(" + " OR ".join(tests) + ")"
    if not condition.negated:
        return listed
    return f"NOT {listed}" if "NULL" in keywords else f"({value} IS NULL OR NOT {listed})"


def meets(metric: float | None, condition: Condition) -> bool:
    """Whether a dataset-level metric meets a condition (between excludes its bounds, as in Glue)."""
    if metric is None or (isinstance(metric, float) and math.isnan(metric)):
        return False
    values = []
    for operand in condition.operands:
        if operand.kind != "num":
            raise _RuleError(f"Expression {operand.value!r} is not a number; this rule compares a numeric metric")
        values.append(operand.value)
    op = condition.op
    if op == "=":
        return metric == values[0]
    if op == "!=":
        return metric != values[0]
    if op in (">", ">=", "<", "<="):
        return {">": metric > values[0], ">=": metric >= values[0], "<": metric < values[0],
                "<=": metric <= values[0]}[op]
    if op == "between":
        return (values[0] < metric < values[1]) != condition.negated
    if op == "in":
        return (metric in values) != condition.negated
    raise _RuleError(f"'{op}' does not apply to a numeric metric")


class _Evaluator:
    """Evaluates one ruleset's rules against one catalog table."""

    def __init__(self, backends: Backends, database: str, table: str, run_id: str) -> None:
        self.sql = backends.sql
        self.database, self.table = database.lower(), table.lower()
        definition = backends.catalog.get_table(self.database, self.table)
        self.columns = [c["Name"].lower() for c in definition.get("StorageDescriptor", {}).get("Columns", [])]
        self.columns += [k["Name"].lower() for k in definition.get("PartitionKeys", [])]
        self.output = f"{RESULTS_LOCATION}{run_id}/"

    def evaluate(self, node: Node) -> _Outcome:
        if isinstance(node, Composite):
            parts = [self.evaluate(p) for p in node.parts]
            metrics = {k: v for p in parts for k, v in p.metrics.items()}
            if any(p.result == "ERROR" for p in parts):
                return _Outcome("ERROR", metrics, next(p.message for p in parts if p.result == "ERROR"))
            passed = [p.result == "PASS" for p in parts]
            ok = all(passed) if node.op == "and" else any(passed)
            return _Outcome("PASS" if ok else "FAIL", metrics,
                            None if ok else f"The {node.op} of the rules' outcomes is false")
        try:
            return self._simple(node)
        except _RuleError as exc:
            return _Outcome("ERROR", {}, str(exc))

    def _column(self, name: str) -> str:
        if name.lower() not in self.columns:
            raise _RuleError(f"Column {name} does not exist in table {self.database}.{self.table}")
        return _quote(name.lower())

    def _base(self, rule: Rule) -> str:
        source = f"{_quote(self.database)}.{_quote(self.table)}"
        if rule.where is None:
            return f"WITH base AS (SELECT * FROM {source})"
        import sqlglot  # loads when a rule is evaluated, not when the Glue integration is resolved
        from sqlglot.errors import ParseError, TokenError

        try:
            condition = sqlglot.condition(rule.where, dialect="spark")
        except (ParseError, TokenError) as exc:
            raise _RuleError(f"The where clause {rule.where!r} is not a valid SQL condition: {exc}") from None
        return f"WITH base AS (SELECT * FROM {source} WHERE {condition.sql(dialect='trino')})"

    def _scalars(self, sql: str) -> list[float | None]:
        """Run one query (one result row) through the Athena engine; its values as numbers."""
        engine = self.sql
        query_id = engine.start_query_execution(sql, database=self.database, output_location=self.output)
        status = engine.get_query_execution(query_id)["Status"]
        if status["State"] != "SUCCEEDED":
            raise _RuleError(f"The rule's query failed: {status.get('StateChangeReason', status['State'])}")
        rows = engine.get_query_results(query_id, 2)["ResultSet"]["Rows"]
        if len(rows) < 2:
            raise _RuleError("The rule's query returned no row")
        values: list[float | None] = []
        for cell in rows[1]["Data"]:
            text = cell.get("VarCharValue")
            try:
                values.append(None if text is None else float(text))
            except ValueError:
                raise _RuleError(f"The rule's query returned {text!r}, not a number") from None
        return values

    def _simple(self, rule: Rule) -> _Outcome:
        kind, params = rule.type, rule.params
        if kind == "ColumnExists":
            ok = params[0].lower() in self.columns
            return _Outcome("PASS" if ok else "FAIL", {}, None if ok else f"Column {params[0]} does not exist")
        if kind == "ColumnCount":
            return self._judge(rule, {"Dataset.*.ColumnCount": float(len(self.columns))})
        base = self._base(rule)
        if kind == "RowCount":
            (count,) = self._scalars(f"{base} SELECT count(*) FROM base")
            return self._judge(rule, {"Dataset.*.RowCount": count})
        if kind == "CustomSql":
            return self._judge(rule, {"Dataset.*.CustomSQL": self._custom(params[0])})
        if kind == "ColumnCorrelation":
            a, b = self._column(params[0]), self._column(params[1])
            (value,) = self._scalars(f"{base} SELECT corr(CAST({a} AS double), CAST({b} AS double)) FROM base")
            return self._judge(rule, {f"Multicolumn.{params[0]},{params[1]}.ColumnCorrelation": value})
        if kind == "IsPrimaryKey":
            cols = [self._column(p) for p in params]
            metrics: dict[str, float | None] = {}
            for name, col in zip(params, cols, strict=True):
                metrics[f"Column.{name}.Completeness"] = self._completeness(base, col)
            label = ",".join(params)
            metrics[f"Column.{label}.Uniqueness"] = self._uniqueness(base, cols)
            ok = all(v == 1.0 for v in metrics.values())
            return self._outcome(ok, metrics, next((v for v in metrics.values() if v != 1.0), None))
        col = self._column(params[0])
        name = params[0]
        if kind in ("Completeness", "IsComplete"):
            return self._judge(rule, {f"Column.{name}.Completeness": self._completeness(base, col)})
        if kind in ("Uniqueness", "IsUnique"):
            return self._judge(rule, {f"Column.{name}.Uniqueness": self._uniqueness(base, [col])})
        if kind == "UniqueValueRatio":
            (value,) = self._scalars(
                f"{base}, g AS (SELECT {col} AS v, count(*) AS n FROM base WHERE {col} IS NOT NULL GROUP BY {col}) "
                "SELECT CAST((SELECT count(*) FROM g WHERE n = 1) AS double) / nullif((SELECT count(*) FROM g), 0)")
            return self._judge(rule, {f"Column.{name}.UniqueValueRatio": value})
        aggregates = {"DistinctValuesCount": f"count(DISTINCT {col})", "Mean": f"avg(CAST({col} AS double))",
                      "Sum": f"sum(CAST({col} AS double))", "StandardDeviation": f"stddev_pop(CAST({col} AS double))"}
        if kind in aggregates:
            (value,) = self._scalars(f"{base} SELECT {aggregates[kind]} FROM base")
            return self._judge(rule, {f"Column.{name}.{kind}": value})
        # ColumnValues / ColumnLength: the share of rows meeting the expression.
        assert rule.condition is not None
        value = col if kind == "ColumnValues" else f"length(CAST({col} AS varchar))"
        passing = f"CASE WHEN {_row_predicate(value, rule.condition)} THEN 1 ELSE 0 END"
        total, good = self._scalars(f"{base} SELECT count(*), sum({passing}) FROM base")
        compliance = (good or 0.0) / total if total else 1.0
        metrics = {f"Column.{name}.{kind}.Compliance": compliance}
        ok = meets(compliance, rule.threshold) if rule.threshold else compliance == 1.0
        failed_rows = int((total or 0) - (good or 0))
        message = None if ok else (f"Value: {compliance} does not meet the constraint requirement! "
                                   f"{failed_rows} of {int(total or 0)} row(s) did not meet the expression")
        return _Outcome("PASS" if ok else "FAIL", metrics, message)

    def _completeness(self, base: str, col: str) -> float | None:
        (value,) = self._scalars(f"{base} SELECT CAST(count({col}) AS double) / nullif(count(*), 0) FROM base")
        return value

    def _uniqueness(self, base: str, cols: list[str]) -> float | None:
        listed = ", ".join(cols)
        present = " AND ".join(f"{c} IS NOT NULL" for c in cols)
        (value,) = self._scalars(
            f"{base}, g AS (SELECT count(*) AS n FROM base WHERE {present} GROUP BY {listed}) "
            "SELECT CAST((SELECT count(*) FROM g WHERE n = 1) AS double) / nullif((SELECT count(*) FROM base), 0)")
        return value

    def _custom(self, query: str) -> float | None:
        """CustomSql: the query's one value, `primary` being the data source's table."""
        import sqlglot
        from sqlglot import exp
        from sqlglot.errors import ParseError, TokenError

        try:
            tree = sqlglot.parse_one(query, read="spark")
        except (ParseError, TokenError) as exc:
            raise _RuleError(f"The custom SQL is not valid: {exc}") from None
        for table in tree.find_all(exp.Table):
            if table.name.lower() == "primary" and not table.db:
                table.set("db", exp.to_identifier(self.database, quoted=True))
                table.set("this", exp.to_identifier(self.table, quoted=True))
        values = self._scalars(tree.sql(dialect="trino"))
        if len(values) != 1:
            raise _RuleError("The custom SQL must return a single value")
        return values[0]

    def _judge(self, rule: Rule, metrics: dict[str, float | None]) -> _Outcome:
        (metric,) = metrics.values()
        if rule.condition is None:  # IsComplete / IsUnique: the metric must be 1
            return self._outcome(metric == 1.0, metrics, metric)
        return self._outcome(meets(metric, rule.condition), metrics, metric)

    @staticmethod
    def _outcome(ok: bool, metrics: dict[str, float | None], metric: float | None) -> _Outcome:
        kept = {k: v for k, v in metrics.items() if v is not None}
        return _Outcome("PASS" if ok else "FAIL", kept,
                        None if ok else f"Value: {metric} does not meet the constraint requirement!")


def evaluate_ruleset(backends: Backends, ruleset: str, database: str, table: str,
                     run_id: str = "adhoc") -> list[Params]:
    """RuleResults of a DQDL ruleset on a catalog table (Name Rule_<n>, Description, Result, ...)."""
    rules = parse(ruleset)
    evaluator = _Evaluator(backends, database, table, run_id)
    results = []
    for number, rule in enumerate(rules, 1):
        outcome = evaluator.evaluate(rule)
        result: Params = {"Name": f"Rule_{number}", "Description": rule.text, "Result": outcome.result,
                          "EvaluatedMetrics": outcome.metrics}
        if outcome.message:
            result["EvaluationMessage"] = outcome.message
        results.append(result)
    return results


# -- the API -------------------------------------------------------------------------------------------------
def _now_ms() -> int:
    return int(time.time() * 1000)


class DataQuality:
    """Rulesets, evaluation runs and results of one workspace (JSON files under `<workspace>/dataquality/`)."""

    def __init__(self, backends: Backends) -> None:
        self.backends = backends
        self.workspace = backends.workspace
        self.folder = self.workspace.path("dataquality")

    def _file(self, kind: str, name: Any) -> Path:
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name.startswith("."):
            raise GlueError("InvalidInputException", f"'{name}' is not a valid name")
        return self.folder / kind / f"{name}.json"

    def _read(self, kind: str, name: Any, what: str) -> Params:
        path = self._file(kind, name)
        if not path.is_file():
            raise GlueError("EntityNotFoundException", f"{what} {name} not found")
        return read_json(path)

    # -- rulesets
    def create_ruleset(self, p: Params) -> Params:
        name = required(p, "Name", lists=True)
        parse(required(p, "Ruleset", lists=True))
        path = self._file("rulesets", name)
        with self.workspace.lock("dataquality"):
            if path.is_file():
                raise GlueError("AlreadyExistsException", f"Ruleset {name} already exists")
            stamp = now_iso()
            record = {"Name": name, "Ruleset": p["Ruleset"], "CreatedOn": stamp, "LastModifiedOn": stamp}
            for key in ("Description", "TargetTable", "Tags"):
                if p.get(key):
                    record[key] = p[key]
            write_json(path, record)
        return {"Name": name}

    def get_ruleset(self, p: Params) -> Params:
        record = self._read("rulesets", required(p, "Name", lists=True), "Ruleset")
        return {k: v for k, v in record.items() if k != "Tags"}

    def update_ruleset(self, p: Params) -> Params:
        name = required(p, "Name", lists=True)
        with self.workspace.lock("dataquality"):
            record = self._read("rulesets", name, "Ruleset")
            if "Ruleset" in p:
                parse(p["Ruleset"])
                record["Ruleset"] = p["Ruleset"]
            if "Description" in p:
                record["Description"] = p["Description"]
            record["LastModifiedOn"] = now_iso()
            write_json(self._file("rulesets", name), record)
        return {k: record[k] for k in ("Name", "Description", "Ruleset") if k in record}

    def delete_ruleset(self, p: Params) -> Params:
        name = required(p, "Name", lists=True)
        with self.workspace.lock("dataquality"):
            self._read("rulesets", name, "Ruleset")
            self._file("rulesets", name).unlink()
        return {}

    def list_rulesets(self, p: Params) -> Params:
        folder = self.folder / "rulesets"
        records = [read_json(f) for f in sorted(folder.glob("*.json"))] if folder.is_dir() else []
        summaries = []
        for record in records:
            summary = {k: record[k] for k in ("Name", "Description", "CreatedOn", "LastModifiedOn", "TargetTable")
                       if k in record}
            summary["RuleCount"] = len(parse(record["Ruleset"]))
            summaries.append(summary)
        return {"Rulesets": summaries}

    # -- runs
    def start_run(self, p: Params) -> Params:
        source = required(p, "DataSource", lists=True)
        table = source.get("GlueTable") if isinstance(source, dict) else None
        if not isinstance(table, dict) or not table.get("DatabaseName") or not table.get("TableName"):
            raise GlueError("InvalidInputException", "DataSource.GlueTable needs DatabaseName and TableName")
        names = required(p, "RulesetNames", lists=True)
        rulesets = {name: self._read("rulesets", name, "Ruleset")["Ruleset"] for name in names}
        run_id = "dqrun-" + secrets.token_hex(20)
        now = _now_ms()
        run: Params = {"RunId": run_id, "DataSource": source, "Role": p.get("Role", ""),
                       "NumberOfWorkers": p.get("NumberOfWorkers", 5), "Timeout": p.get("Timeout", 2880),
                       "AdditionalRunOptions": p.get("AdditionalRunOptions") or {}, "Status": "RUNNING",
                       "StartedOn": now, "LastModifiedOn": now, "RulesetNames": list(names)}
        _done[run_id] = threading.Event()
        write_json(self._file("runs", run_id), run)
        background.spawn(self._run, run, rulesets, table, name=f"dq-{run_id[:16]}")
        return {"RunId": run_id}

    def _run(self, run: Params, rulesets: dict[str, str], table: Params) -> None:
        try:
            result_ids = []
            for name, ruleset in rulesets.items():
                started = _now_ms()
                rule_results = evaluate_ruleset(self.backends, ruleset, table["DatabaseName"], table["TableName"],
                                                run["RunId"])
                passed = sum(r["Result"] == "PASS" for r in rule_results)
                result_id = "dqresult-" + secrets.token_hex(20)
                write_json(self._file("results", result_id), {
                    "ResultId": result_id, "Score": passed / len(rule_results) if rule_results else 1.0,
                    "DataSource": run["DataSource"], "RulesetName": name, "StartedOn": started,
                    "CompletedOn": _now_ms(), "RulesetEvaluationRunId": run["RunId"], "RuleResults": rule_results,
                    "AnalyzerResults": [], "Observations": []})
                result_ids.append(result_id)
            run.update(Status="SUCCEEDED", ResultIds=result_ids)
        except GlueError as exc:  # the table or database is missing: the run fails, as Glue reports it
            run.update(Status="FAILED", ErrorString=exc.message)
        except Exception as exc:  # an engine fault ends the run FAILED, never the caller's thread
            run.update(Status="FAILED", ErrorString=f"{type(exc).__name__}: {exc}")
        finally:
            now = _now_ms()
            run.update(CompletedOn=now, LastModifiedOn=now, ExecutionTime=round((now - run["StartedOn"]) / 1000))
            write_json(self._file("runs", run["RunId"]), run)
            _done[run["RunId"]].set()

    def get_run(self, p: Params) -> Params:
        return self._read("runs", required(p, "RunId", lists=True), "Data quality ruleset evaluation run")

    def list_runs(self, p: Params) -> Params:
        folder = self.folder / "runs"
        runs = [read_json(f) for f in folder.glob("*.json")] if folder.is_dir() else []
        runs.sort(key=lambda r: -r["StartedOn"])
        return {"Runs": [{k: r[k] for k in ("RunId", "Status", "StartedOn", "DataSource") if k in r} for r in runs]}

    def wait_run(self, run_id: str, timeout: float | None = None) -> Params:
        """The run once it has ended (the `.sync` way)."""
        event = _done.get(run_id)
        if event is not None:
            event.wait(timeout)
        return self.get_run({"RunId": run_id})

    def start_run_sync(self, p: Params) -> Params:
        run = self.wait_run(self.start_run(p)["RunId"])
        if run["Status"] != "SUCCEEDED":
            raise StatesError(TASK_FAILED, json.dumps(run, separators=(",", ":")))
        return run

    # -- results
    def get_result(self, p: Params) -> Params:
        return self._read("results", required(p, "ResultId", lists=True), "Data quality result")

    def batch_get_results(self, p: Params) -> Params:
        found, missing = [], []
        for result_id in required(p, "ResultIds", lists=True):
            try:
                found.append(self.get_result({"ResultId": result_id}))
            except GlueError:
                missing.append(result_id)
        return {"Results": found, "ResultsNotFound": missing}

    def list_results(self, p: Params) -> Params:
        folder = self.folder / "results"
        results = [read_json(f) for f in folder.glob("*.json")] if folder.is_dir() else []
        results.sort(key=lambda r: -r["StartedOn"])
        return {"Results": [{k: r[k] for k in ("ResultId", "DataSource", "StartedOn")} for r in results]}


# camelCase action → what it does, for `aws-sdk:glue:<action>` Tasks and the Glue HTTP front.
ACTIONS: dict[str, Callable[[Backends, Params], Params]] = {
    "createDataQualityRuleset": lambda b, p: DataQuality(b).create_ruleset(p),
    "getDataQualityRuleset": lambda b, p: DataQuality(b).get_ruleset(p),
    "updateDataQualityRuleset": lambda b, p: DataQuality(b).update_ruleset(p),
    "deleteDataQualityRuleset": lambda b, p: DataQuality(b).delete_ruleset(p),
    "listDataQualityRulesets": lambda b, p: DataQuality(b).list_rulesets(p),
    "startDataQualityRulesetEvaluationRun": lambda b, p: DataQuality(b).start_run(p),
    "getDataQualityRulesetEvaluationRun": lambda b, p: DataQuality(b).get_run(p),
    "listDataQualityRulesetEvaluationRuns": lambda b, p: DataQuality(b).list_runs(p),
    "getDataQualityResult": lambda b, p: DataQuality(b).get_result(p),
    "batchGetDataQualityResult": lambda b, p: DataQuality(b).batch_get_results(p),
    "listDataQualityResults": lambda b, p: DataQuality(b).list_results(p),
}
