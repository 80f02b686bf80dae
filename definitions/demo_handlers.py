"""Python handlers behind the demo's Lambda tasks (`make demo` wires them with --handler)."""

from __future__ import annotations

from collections import Counter
from typing import Any

_attempts: Counter[str] = Counter()


class Throttled(Exception):
    """Raised on the first call for every third order, so the demo shows Retry at work."""


def enrich_order(order: dict[str, Any], context: Any) -> dict[str, Any]:
    _attempts[order["id"]] += 1
    if order["id"].endswith(("3", "6", "9")) and _attempts[order["id"]] == 1:
        raise Throttled(f"rate exceeded while pricing {order['id']}")
    return {**order, "total": round(order["quantity"] * order["unit_price"], 2)}


def notify(summary: dict[str, Any]) -> str:
    return f"{summary['batch']}: {summary['orders']} orders priced, {len(summary['review'])} flagged for review"
