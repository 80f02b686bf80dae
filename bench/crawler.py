"""Crawler speed: 1,000 small Parquet files in hive partitions, our crawl vs pyarrow reading their footers.

    python bench/crawler.py

Prints the median wall time of 5 runs of (a) pyarrow.parquet.read_metadata on every file (the
least any crawler must do) and (b) a full crawl (listing, schema merge, table and partitions
written to the catalog); the target is (b) <= 2 x (a).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.backends import Backends
from emulator.workspace import Config, Workspace

FILES, RUNS = 1000, 5


def write_files(lake: Path) -> list[Path]:
    table = pa.table({"id": pa.array(range(10), pa.int64()), "name": [f"n{i}" for i in range(10)],
                      "amount": pa.array([i / 3 for i in range(10)], pa.float64())})
    paths = []
    for i in range(FILES):
        path = lake / "events" / f"year={2000 + i // 100}" / f"month={i % 100 // 10:02d}" / f"day={i % 10:02d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        paths.append(path)
    return paths


def median_seconds(work) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        paths = write_files(lake)
        config = Config(buckets={"lake": lake},
                        crawlers={"bench": {"DatabaseName": "bench", "Targets": {"S3Targets": [{"Path": "s3://lake/"}]}}})
        crawlers = Backends(Workspace(root=Path(tmp) / "ws", project=tmp, config=config)).catalog.crawlers

        footers = median_seconds(lambda: [pq.read_metadata(p) for p in paths])
        crawl = median_seconds(lambda: crawlers.run("bench"))
        last = crawlers.get("bench")["LastCrawl"]
        assert last["Status"] == "SUCCEEDED", last
        print(f"{FILES} Parquet files in hive partitions, median of {RUNS}:")
        print(f"  (a) pyarrow footers only : {footers * 1000:8.1f} ms")
        print(f"  (b) crawler (full crawl) : {crawl * 1000:8.1f} ms")
        print(f"  ratio (b)/(a)            : {crawl / footers:8.2f}  (target <= 2.00)")


if __name__ == "__main__":
    main()
