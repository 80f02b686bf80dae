"""Lambda handlers behind definitions/etl_extract_transform_validate_load.asl.json.

Each is a plain `(event, context)` function doing real, deterministic work on its event; files
are local paths named in the event (Extract reads `source`, Load writes `output`), so the same
functions run under the emulator, in a unit test, or as a real Lambda with a mounted volume.

Rows are orders: order_id, customer, amount, currency, order_date.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

CURRENCIES = frozenset({"EUR", "GBP", "USD"})
FIELDS = ("order_id", "customer", "amount", "currency", "order_date")


def extract(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Read the CSV at `source` (or take `rows` as given) into a list of dicts, in file order."""
    if "rows" in event:
        rows = [dict(row) for row in event["rows"]]
    else:
        with Path(event["source"]).open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    return {"rows": rows, "count": len(rows)}


def transform(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Normalise types and spelling; rows that cannot be parsed go to `invalid` with the reason."""
    rows, invalid = [], []
    for number, raw in enumerate(event["rows"], start=1):
        missing = [f for f in FIELDS if not str(raw.get(f) or "").strip()]
        if missing:
            invalid.append({"row": number, "reason": f"missing {', '.join(missing)}"})
            continue
        try:
            amount = round(float(raw["amount"]), 2)
        except ValueError:
            invalid.append({"row": number, "reason": f"amount {raw['amount']!r} is not a number"})
            continue
        rows.append({
            "row": number,
            "order_id": raw["order_id"].strip(),
            "customer": " ".join(raw["customer"].split()).title(),
            "amount": amount,
            "currency": raw["currency"].strip().upper(),
            "order_date": raw["order_date"].strip(),
        })
    return {"rows": rows, "invalid": invalid}


def validate(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Business rules on transformed rows; the ratio of rejected rows drives the quality gate."""
    rejected = list(event.get("invalid", []))
    valid, seen = [], set()
    for row in event["rows"]:
        reason = None
        if row["amount"] < 0:
            reason = "negative amount"
        elif row["currency"] not in CURRENCIES:
            reason = f"unknown currency {row['currency']}"
        elif row["order_id"] in seen:
            reason = f"duplicate order_id {row['order_id']}"
        else:
            try:
                date.fromisoformat(row["order_date"])
            except ValueError:
                reason = f"bad date {row['order_date']}"
        if reason is None:
            seen.add(row["order_id"])
            valid.append(row)
        else:
            rejected.append({"row": row["row"], "reason": reason})
    total = len(valid) + len(rejected)
    return {
        "valid_rows": valid,
        "rejected": sorted(rejected, key=lambda r: r["row"]),
        "total": total,
        "invalid_count": len(rejected),
        "invalid_ratio": round(len(rejected) / total, 4) if total else 0.0,
    }


def load(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Write the valid rows and per-currency totals as JSON to `output`; return the summary."""
    rows = event["rows"]
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["currency"]] = round(totals.get(row["currency"], 0.0) + row["amount"], 2)
    summary = {
        "output": event["output"],
        "rows_loaded": len(rows),
        "totals_by_currency": dict(sorted(totals.items())),
        "customers": len({row["customer"] for row in rows}),
    }
    target = Path(event["output"])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps({**summary, "rows": rows}, indent=1), encoding="utf-8")
    tmp.replace(target)  # a reader never sees half a load
    return summary
