"""Deterministic sensor readings for the Distributed Map example and bench (no randomness: row i is fixed).

`python sample_data/distributed/generate.py [ROWS] [PATH]` writes ROWS rows (default 2,500) to PATH
(default sample_data/distributed/readings.csv); the bench generates its 100,000-row files at run time.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

HEADER = "id,sensor,amount\n"


def rows(count: int) -> Iterator[str]:
    for i in range(count):
        yield f"{i},s{i % 17:02d},{(i * 37) % 1000 / 10:.1f}\n"


def csv_bytes(count: int) -> bytes:
    return (HEADER + "".join(rows(count))).encode("utf-8")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2_500
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("readings.csv")
    target.write_bytes(csv_bytes(count))
