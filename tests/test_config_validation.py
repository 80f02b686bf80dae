"""The project config is checked when loaded: unknown sections and keys (with the nearest known name),
wrong types, Glue job scripts and bucket folders that do not exist — every problem at once, each as
`file:line: key: problem`, the line found in the TOML text."""

from __future__ import annotations

import os
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from emulator.cli import cli
from emulator.workspace import ConfigError, _Locator, load_config

ROOT = Path(__file__).resolve().parents[1]


def problems(folder: Path, toml: str, name: str = "sfn-local.toml") -> list[str]:
    """The problem lines of the ConfigError that loading `toml` raises."""
    (folder / name).write_text(textwrap.dedent(toml).lstrip("\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    text = str(info.value)
    lines = text.splitlines()
    return [line.strip() for line in lines[1:]] if len(lines) > 1 else lines


def test_the_projects_own_config_loads_clean() -> None:
    config = load_config(ROOT)
    assert config.source == ROOT / "sfn-local.toml"
    assert config.glue_jobs["csv-to-parquet"]["ScriptLocation"].endswith("csv_to_parquet.py")
    assert set(config.buckets) == {"car-rental-raw", "car-rental-code", "customers-raw"}


def test_a_misspelt_section_is_reported_with_the_nearest_name(tmp_path: Path) -> None:
    found = problems(tmp_path, """
        # handlers
        [lambda]
        enrich = "handlers:enrich"
        """)
    assert found == [f"{tmp_path / 'sfn-local.toml'}:2: [lambda]: unknown section (did you mean 'lambdas'?)"]


def test_unknown_keys_name_the_nearest_aws_field(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text("print(1)\n")
    found = problems(tmp_path, """
        [crawlers.c]
        DatabaseName = "d"
        TablePrefx = "t_"
        Targets = { S3Targets = [{ Path = "s3://b/", Exclusion = ["*.tmp"] }] }

        [glue_jobs.j]
        ScriptLocation = "job.py"
        DefaultArgs = { "--x" = "1" }

        [targets]
        lamda = "local"

        [spark]
        mastr = "local[2]"
        """)
    where = tmp_path / "sfn-local.toml"
    assert found == [
        f"{where}:3: [crawlers.c] TablePrefx: unknown key (did you mean 'TablePrefix'?)",
        f"{where}:4: [crawlers.c] Targets.S3Targets[0].Exclusion: unknown key (did you mean 'Exclusions'?)",
        f"{where}:8: [glue_jobs.j] DefaultArgs: unknown key (did you mean 'DefaultArguments'?)",
        f"{where}:11: [targets] lamda: unknown service (did you mean 'lambda'?)",
        f"{where}:14: [spark] mastr: unknown key (did you mean 'master'?)",
    ]


def test_wrong_types_are_located_in_dotted_keys_inline_tables_and_multiline_arrays(tmp_path: Path) -> None:
    found = problems(tmp_path, """
        [crawlers.c]
        DatabaseName = "d"
        Targets.S3Targets = [
            { Path = "s3://b/one/" },
            { Path = 3 },
        ]
        SchemaChangePolicy = { UpdateBehavior = 1 }

        [glue_jobs]
        j = 5

        [targets]
        glue = "cloud"
        """)
    where = tmp_path / "sfn-local.toml"
    assert found == [
        f"{where}:5: [crawlers.c] Targets.S3Targets[1].Path: expected an s3:// path (string), got integer 3",
        f"{where}:7: [crawlers.c] SchemaChangePolicy.UpdateBehavior: expected a string, got integer 1",
        f"{where}:10: [glue_jobs.j]: expected a table with ScriptLocation, got integer 5",
        f"{where}:13: [targets] glue: expected \"local\" or \"aws\", got string 'cloud'",
    ]


def test_a_missing_required_key_points_at_its_table(tmp_path: Path) -> None:
    found = problems(tmp_path, """
        [buckets]

        [crawlers.c]
        Targets = { S3Targets = [] }
        """)
    assert found == [f"{tmp_path / 'sfn-local.toml'}:3: [crawlers.c] DatabaseName: expected a database name (string), "
                     "but it is missing"]


def test_glue_scripts_that_do_not_exist_are_reported(tmp_path: Path) -> None:
    (tmp_path / "code" / "jobs").mkdir(parents=True)
    (tmp_path / "code" / "jobs" / "here.py").write_text("print(1)\n")
    found = problems(tmp_path, """
        [buckets]
        code = "code"
        [glue_jobs.local]
        ScriptLocation = "jobs/gone.py"
        [glue_jobs.mapped]
        ScriptLocation = "s3://code/jobs/gone.py"
        [glue_jobs.present]
        ScriptLocation = "s3://code/jobs/here.py"
        [glue_jobs.in-workspace]
        ScriptLocation = "s3://uploaded/jobs/any.py"
        [glue_jobs.aws-shaped]
        Command = { Name = "glueetl", ScriptLocation = "s3://code/jobs/missing.py" }
        """)
    where = tmp_path / "sfn-local.toml"
    assert found == [
        f"{where}:4: [glue_jobs.local] ScriptLocation: the script {tmp_path / 'jobs' / 'gone.py'} does not exist",
        f"{where}:6: [glue_jobs.mapped] ScriptLocation: the script {tmp_path / 'code' / 'jobs' / 'gone.py'} "
        "does not exist",
        f"{where}:12: [glue_jobs.aws-shaped] Command.ScriptLocation: the script "
        f"{tmp_path / 'code' / 'jobs' / 'missing.py'} does not exist",
    ]


def test_createjobs_command_script_location_is_read(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text("print(1)\n")
    (tmp_path / "sfn-local.toml").write_text('[glue_jobs.j]\nCommand = { Name = "glueetl", ScriptLocation = "job.py" }\n')
    assert load_config(tmp_path).glue_jobs["j"]["ScriptLocation"] == "job.py"


def test_bucket_folders_that_do_not_exist_are_reported(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "file.csv").write_text("a\n1\n")
    found = problems(tmp_path, """
        [buckets]
        raw = "data"
        gone = "no/such/folder"
        "odd name" = "file.csv"
        """)
    where = tmp_path / "sfn-local.toml"
    assert found == [
        f"{where}:3: [buckets] gone: the folder {tmp_path / 'no' / 'such' / 'folder'} does not exist "
        "(create it, or fix the path)",
        f"{where}:4: [buckets] \"odd name\": the folder {tmp_path / 'file.csv'} is not a folder "
        "(create it, or fix the path)",
    ]


def test_rules_and_glue_workflows_use_the_aws_field_names(tmp_path: Path) -> None:
    found = problems(tmp_path, '''
        [rules.nightly]
        ScheduleExpression = "cron(0 2 * * ? *)"
        Description = """
        [lambda]
        not a section: inside a string
        """
        Targets = [{ Id = "t", Arn = "arn:aws:states:us-east-1:123456789012:stateMachine:m", Inptu = "{}" }]

        [glue_workflows.etl]
        Description = "d"

        [[glue_workflows.etl.Triggers]]
        Name = "start"
        Type = "ON_DEMAND"

        [[glue_workflows.etl.Triggers]]
        Name = "then"
        Type = "CONDITIONAL"
        Predicate = { Conditions = [{ JobName = "a", State = "SUCCEEDED", CrawlerNam = "x" }] }
        Action = [{ JobName = "b" }]
        ''')
    where = tmp_path / "sfn-local.toml"
    assert found == [
        f"{where}:7: [rules.nightly] Targets[0].Inptu: unknown key (did you mean 'Input'?)",
        f"{where}:19: [glue_workflows.etl] Triggers[1].Predicate.Conditions[0].CrawlerNam: unknown key "
        "(did you mean 'CrawlerName'?)",
        f"{where}:20: [glue_workflows.etl] Triggers[1].Action: unknown key (did you mean 'Actions'?)",
    ]


def test_pyproject_tool_section_is_located_and_named_in_full(tmp_path: Path) -> None:
    found = problems(tmp_path, """
        [project]
        name = "x"

        [tool.sfn-local.buckets]
        raw = "missing"

        [tool.sfn-local]
        lambdas = { f = "h" }
        """, name="pyproject.toml")
    where = tmp_path / "pyproject.toml"
    assert found == [
        f"{where}:5: [tool.sfn-local.buckets] raw: the folder {tmp_path / 'missing'} does not exist "
        "(create it, or fix the path)",
        f"{where}:8: [tool.sfn-local.lambdas] f: expected \"module:function\" (string), got string 'h'",
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "sfn-local.toml").write_text(textwrap.dedent("""
        [lambda]
        f = "h:f"
        [buckets]
        raw = "nowhere"
        [crawlers.c]
        DatabaseNme = "d"
        Targets = { S3Targets = [{ Path = "s3://raw/" }] }
        [glue_jobs.j]
        ScriptLocation = "gone.py"
        Timeout = "1h"
        [spark]
        master = "local[2]"
        remote = "sc://localhost:15002"
        """).lstrip("\n"))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    head, *lines = str(info.value).splitlines()
    assert head == f"7 problems in {tmp_path / 'sfn-local.toml'}:"
    located = [(int(line.split(":")[1]), line.split(": ", 2)[1]) for line in lines]
    assert located == [(1, "[lambda]"), (4, "[buckets] raw"), (5, "[crawlers.c] DatabaseName"),
                       (6, "[crawlers.c] DatabaseNme"), (9, "[glue_jobs.j] ScriptLocation"),
                       (10, "[glue_jobs.j] Timeout"), (13, "[spark] remote")]


def test_the_cli_prints_one_located_block_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sfn-local.toml").write_text('[lambda]\nf = "h:f"\n[buckets]\nraw = "nowhere"\n')
    (tmp_path / "m.json").write_text('{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SFN_LOCAL_WORKSPACE", raising=False)
    for args in (["run", "m.json"], ["s3", "ls"]):
        result = CliRunner().invoke(cli, ["--workspace", os.fspath(tmp_path / "ws"), *args], catch_exceptions=False)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.stderr and result.stdout == ""
        assert result.stderr.splitlines() == [
            f"error: config: 2 problems in {tmp_path / 'sfn-local.toml'}:",
            f"  {tmp_path / 'sfn-local.toml'}:1: [lambda]: unknown section (did you mean 'lambdas'?)",
            f"  {tmp_path / 'sfn-local.toml'}:4: [buckets] raw: the folder {tmp_path / 'nowhere'} does not exist "
            "(create it, or fix the path)",
        ]


TRICKY = '''
a."b.c" = 1   # a comment
'x y'.z = 'literal'
[t]
when = 1979-05-27 07:32:00Z
day = 1979-05-27
text = """multi
[lambda]
line"""
raw = \'\'\'raw "x" \'\'\'
arr = [ # comment
  1,
  [2, 3], # comment
  { k = "v", "q.k" = [ {z = 1} ] },
]
[[aot.x]]
n = 1
[[aot.x]]
n = 2
m = { a = { b = true } }
[t.sub]
"e\\"scaped" = -1.5e3
'''


def test_every_key_of_a_tricky_document_is_located() -> None:
    def paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        if path:
            yield path
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            yield from paths(item, (*path, key))

    lines = _Locator(TRICKY).scan()
    assert [p for p in paths(tomllib.loads(TRICKY)) if p not in lines] == []
    assert lines[("a", "b.c")] == 2 and lines[("x y", "z")] == 3 and lines[("t", "text")] == 7
    assert lines[("t", "arr", 2, "q.k", 0, "z")] == 14 and lines[("aot", "x", 1)] == 18
    assert lines[("aot", "x", 1, "m", "a", "b")] == 20 and lines[("t", "sub", 'e"scaped')] == 22
    assert ("lambda",) not in lines  # a header inside a string is not a table
