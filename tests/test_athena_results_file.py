"""Athena results on DuckDB are kept as an Arrow IPC file, written without pulling in pandas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROGRAM = """
import json
import sys
from pathlib import Path
from emulator.backends import Backends
from emulator.workspace import Config, Workspace

sql = Backends(Workspace(root=Path(sys.argv[1]), project=Path(sys.argv[1]), config=Config())).sql
qid = sql.start_query_execution("SELECT 'a' AS x, 2 AS n UNION ALL SELECT 'b', 3",
                                output_location="s3://results/q/")
assert sql.get_query_execution(qid)["Status"]["State"] == "SUCCEEDED"
rows = sql.get_query_results(qid)["ResultSet"]["Rows"]
print(json.dumps([[c.get("VarCharValue") for c in r["Data"]] for r in rows]))
print("pandas" in sys.modules)
"""


def test_query_results_round_trip_without_importing_pandas(tmp_path: Path) -> None:
    # A fresh interpreter: pandas costs ~0.3 s to import, on the path of every CLI run with an Athena step.
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    rows, pandas_loaded = done.stdout.strip().splitlines()
    assert sorted(json.loads(rows)) == [["a", "2"], ["b", "3"], ["x", "n"]]
    assert pandas_loaded == "False"
