"""Athena results as a person reads them: rows drawn as a plain-text table, by `sfn-local query` and
in the output `sfn-local run` prints (every ResultSet inside it drawn below the JSON)."""

from __future__ import annotations

import json
from typing import Any

Row = list[str]


def text_table(rows: list[Row]) -> list[str]:
    """`rows` (the first is the header) as aligned lines, with a rule under the header."""
    count = max(len(row) for row in rows)
    rows = [row + [""] * (count - len(row)) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(count)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(row, dict) and isinstance(row.get("Data"), list)
        and all(isinstance(cell, dict) for cell in row["Data"]) for row in value)


def _is_result_set(value: Any) -> bool:
    return isinstance(value, dict) and _is_rows(value.get("Rows"))


def _columns(result_set: dict[str, Any]) -> Row | None:
    info = (result_set.get("ResultSetMetadata") or {}).get("ColumnInfo")
    if isinstance(info, list) and all(isinstance(c, dict) for c in info):
        return [str(c.get("Label") or c.get("Name") or "") for c in info]
    return None


def result_rows(rows: list[dict[str, Any]], columns: Row | None = None) -> list[Row]:
    """Athena `Rows` as text rows, header first: the first row is the header (GetQueryResults' first page
    starts with the column names) unless `columns` are given and that row differs from them."""
    values = [["NULL" if cell.get("VarCharValue") is None else str(cell["VarCharValue"]) for cell in row["Data"]]
              for row in rows]
    if columns is None or values[0] == columns:
        return values
    return [columns, *values]


def _extract(value: Any, where: str, found: list[tuple[str, list[Row]]]) -> Any:
    """`value` with each ResultSet (or Rows list) replaced by a note pointing at its table in `found`."""
    if _is_result_set(value) or _is_rows(value):
        rows = value["Rows"] if isinstance(value, dict) else value
        table = result_rows(rows, _columns(value) if isinstance(value, dict) else None)
        found.append((where, table))
        return f"(table {len(found)} below: {len(table) - 1} rows)"
    if isinstance(value, dict):
        return {key: _extract(item, f"{where}.{key}", found) for key, item in value.items()}
    if isinstance(value, list):
        return [_extract(item, f"{where}[{i}]", found) for i, item in enumerate(value)]
    return value


def render_output(output: Any) -> str:
    """An execution's output for a person: JSON, with every Athena ResultSet drawn as a table after it."""
    found: list[tuple[str, list[Row]]] = []
    text = json.dumps(_extract(output, "$", found), indent=2, ensure_ascii=False, default=str)
    tables = [f"table {number}: {where}\n" + "\n".join(text_table(rows))
              for number, (where, rows) in enumerate(found, 1)]
    return "\n".join([text, *tables])
