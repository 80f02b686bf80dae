"""What the tests of Spark on another cluster (a standalone master, a Spark Connect server) share: the
orders the pipeline reads, a free loopback port, and the check of what the pipeline wrote."""

from __future__ import annotations

import socket
from typing import Any

import pyarrow.parquet as pq
import pytest

ORDERS = [(i, float(i), ["eu", "us"][i % 2]) for i in range(40)]
ORDERS_CSV = ("id,amount,region\n" + "".join(f"{i},{a},{r}\n" for i, a, r in ORDERS)).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_orders_written(store: Any) -> None:
    """The pipeline's totals per region and its curated orders, partitioned by region, in the object store."""
    totals = {row["region"]: row for row in pq.read_table(store.local_path("s3://lake/totals/")).to_pylist()}
    for region in ("eu", "us"):
        assert totals[region]["n"] == sum(1 for o in ORDERS if o[2] == region)
        assert totals[region]["total"] == pytest.approx(sum(o[1] for o in ORDERS if o[2] == region))
    curated = store.local_path("s3://lake/curated/")
    assert sorted(p.name for p in curated.iterdir() if p.is_dir()) == ["region=eu", "region=us"]
    rows = pq.read_table(curated / "region=eu").to_pylist()
    assert sorted(int(r["id"]) for r in rows) == [i for i, _, r in ORDERS if r == "eu"]
