"""Athena overhead: a GROUP BY over hive-partitioned Parquet, plain DuckDB vs our Athena engine.

    python bench/athena.py [--rows 1000000] [--files 40] [--repeat 5]

Writes the rows as `--files` Parquet files under `region=../month=..` directories in a scratch
workspace, registers the table in the Glue catalog, then times (median of --repeat, after one
warm-up each) the same GROUP BY run by DuckDB straight on the files and by
QueryEngine.start_query_execution + every page of get_query_results. Target: ours <= 1.5 x DuckDB + 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from emulator.backends import Backends  # noqa: E402
from emulator.backends.sql import QueryEngine  # noqa: E402
from emulator.workspace import Workspace  # noqa: E402

REGIONS = ["eu", "us", "ap", "sa", "af"]
QUERY = "SELECT region, month, count(*) AS n, sum(amount) AS total, avg(qty) AS qty FROM events GROUP BY 1, 2"


def write_data(backends: Backends, rows: int, files: int) -> Path:
    """`files` Parquet files (one per region/month pair) holding `rows` rows between them."""
    root = backends.object_store.local_path("s3://bench-lake/events/")
    months = files // len(REGIONS)
    con = duckdb.connect()
    per_file = rows // files
    for f in range(files):
        region, month = REGIONS[f % len(REGIONS)], 1 + f // len(REGIONS) % months
        folder = root / f"region={region}" / f"month={month}"
        folder.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT {f} * {per_file} + i AS id, (i % 997) * 0.25 AS amount, i % 13 AS qty, "
                    f"'user' || (i % 5000) AS user_id FROM range({per_file}) t(i)) "
                    f"TO '{folder / f'part-{f}.parquet'}' (FORMAT PARQUET)")
    backends.catalog.create_database({"Name": "bench"})
    backends.catalog.create_table("bench", {
        "Name": "events",
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"},
                                          {"Name": "qty", "Type": "bigint"}, {"Name": "user_id", "Type": "string"}],
                              "Location": "s3://bench-lake/events/", "SerdeInfo": {}},
        "PartitionKeys": [{"Name": "region", "Type": "string"}, {"Name": "month", "Type": "int"}],
        "Parameters": {"classification": "parquet"},
    })
    return root


def all_rows(engine: QueryEngine, query_id: str) -> list[dict[str, object]]:
    """Every row of a result, as a client reads it: GetQueryResults pages (1,000 rows at most) while NextToken."""
    rows: list[dict[str, object]] = []
    token = None
    while True:
        page = engine.get_query_results(query_id, next_token=token)
        rows.extend(page["ResultSet"]["Rows"])
        token = page.get("NextToken")
        if not token:
            return rows


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: file metadata in the OS cache, views built
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        backends = Backends(Workspace(root=Path(scratch) / "ws", project=Path(scratch)))
        root = write_data(backends, args.rows, args.files)
        plain = duckdb.connect()
        glob = f"{root}/**/*.parquet"
        direct = QUERY.replace("FROM events", f"FROM read_parquet('{glob}', hive_partitioning=true)")

        def duckdb_only() -> object:
            return plain.sql(direct).fetchall()

        engine = backends.sql

        def athena() -> list[dict[str, object]]:
            query_id = engine.start_query_execution(QUERY, database="bench")
            assert engine.get_query_execution(query_id)["Status"]["State"] == "SUCCEEDED"
            return all_rows(engine, query_id)

        groups = len(duckdb_only())
        ours_rows = len(athena()) - 1  # the header row comes first
        assert groups == ours_rows, (groups, ours_rows)
        base, ours = median_ms(duckdb_only, args.repeat), median_ms(athena, args.repeat)
        print(f"{args.rows:,} rows in {args.files} files, {groups} groups; median of {args.repeat}")
        print(f"  plain DuckDB            {base:8.1f} ms")
        print(f"  Athena (start+results)  {ours:8.1f} ms")
        print(f"  ratio {ours / base:.2f}x, overhead {ours - base:+.1f} ms "
              f"(target: <= 1.5x + 50 ms = {1.5 * base + 50:.1f} ms) -> {'OK' if ours <= 1.5 * base + 50 else 'MISS'}")


if __name__ == "__main__":
    main()
