"""Bad arguments, files and config never give the CLI a traceback, an "internal error" or exit 0.

The property tests drive the real click command (CliRunner, exceptions not caught, so any
exception the CLI lets out fails the test) with hypothesis-made arguments that are each wrong
in some way, and check the exit code (1 or 2) and that the output has no traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.cli import cli
from emulator.engine.history import MAX_PAYLOAD_BYTES
from emulator.errors import InvalidName, check_execution_name

PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
# argv can hold neither NUL nor (on a UTF-8 system) lone surrogates as str; everything else can appear.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@contextmanager
def project() -> Iterator[Path]:
    """A fresh project directory, made the current one, with a valid definition in it."""
    previous = Path.cwd()
    # The in-process AWS endpoint a Lambda handler starts may still be opening its store under the
    # workspace when the test ends; its files must not fail the cleanup.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as name:
        folder = Path(name).resolve()
        (folder / "m.json").write_text(json.dumps(PASS))
        os.chdir(folder)
        try:
            yield folder
        finally:
            os.chdir(previous)


def invoke(folder: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--workspace", str(folder / "ws"), *args], catch_exceptions=False)
    return result


def saved(folder: Path) -> dict[str, dict]:
    """The executions in the workspace's store by name (none when there is no store)."""
    path = folder / "ws" / "stepfunctions" / "store.sqlite3"
    if not path.is_file():
        return {}
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT name, doc FROM records WHERE kind = 'execution'").fetchall()
    assert len({name for name, _ in rows}) == len(rows), "a name is taken once (one state machine here)"
    return {name: json.loads(doc) for name, doc in rows}


def assert_clean_failure(result: Result) -> None:
    text = result.stdout + result.stderr
    assert result.exit_code in (1, 2), (result.exit_code, text)
    assert "Traceback" not in text and "internal error" not in text, text
    assert text.strip(), "a failure says why"


def is_invalid_name(name: str) -> bool:
    try:
        check_execution_name(name)
    except InvalidName:
        return True
    return False


# -- execution names ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../x", "a/b", "a b", "x" * 81, "", "tab\there", "q?", "c:d", "\u0085nel"])
def test_invalid_names_are_refused_with_aws_error(name: str) -> None:
    with project() as folder:
        result = invoke(folder, "run", "m.json", "--name", name)
        assert_clean_failure(result)
        assert result.exit_code == 2
        assert ("InvalidName: Invalid Name:" in result.stderr) or ("ValidationException" in result.stderr)
        assert saved(folder) == {}
        assert not (folder.parent / "x.json").exists()


@SETTINGS
@given(name=st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=90))
def test_any_name_is_refused_or_saved_in_the_store(name: str) -> None:
    with project() as folder:
        result = invoke(folder, "run", "m.json", "--name", name)
        if is_invalid_name(name):
            assert_clean_failure(result)
            assert saved(folder) == {}
        else:
            assert result.exit_code == 0, result.stderr
            assert list(saved(folder)) == [name]
            assert saved(folder)[name]["executionArn"].endswith(f":execution:m:{name}")
            # Nothing is written outside the workspace, whatever the name.
            assert {p.name for p in folder.iterdir()} == {"m.json", "ws"}
            history = invoke(folder, "history", "--", name)  # a name may start with "-"
            assert history.exit_code == 0 and "ExecutionSucceeded" in history.stdout


def test_a_taken_name_is_execution_already_exists_not_an_overwrite() -> None:
    with project() as folder:
        assert invoke(folder, "run", "m.json", "--name", "once", "--input", '{"v": 1}').exit_code == 0
        before = saved(folder)["once"]
        again = invoke(folder, "run", "m.json", "--name", "once", "--input", '{"v": 2}')
        assert_clean_failure(again)
        assert again.exit_code == 2
        assert "ExecutionAlreadyExists: Execution Already Exists: 'arn:aws:states:" in again.stderr
        assert saved(folder)["once"] == before and json.loads(before["input"]) == {"v": 1}
        # Without --name every run gets its own name, even with the same --seed.
        seeded = [invoke(folder, "run", "m.json", "--seed", "7") for _ in range(2)]
        assert [r.exit_code for r in seeded] == [0, 0]
        assert len(saved(folder)) == 3


# -- input --------------------------------------------------------------------------------------
def test_an_input_over_256_kib_is_refused_before_anything_is_written() -> None:
    with project() as folder:
        big = folder / "big.json"
        big.write_text(json.dumps({"blob": "x" * MAX_PAYLOAD_BYTES}))
        for arg in ("@" + str(big), big.read_text()):
            result = invoke(folder, "run", "m.json", "--name", "big", "--input", arg)
            assert_clean_failure(result)
            assert "ValidationException" in result.stderr and str(MAX_PAYLOAD_BYTES) in result.stderr
            assert saved(folder) == {}
        exact = {"b": "y" * (MAX_PAYLOAD_BYTES - 8)}  # 262144 bytes as compact JSON: still accepted
        assert len(json.dumps(exact, separators=(",", ":"))) == MAX_PAYLOAD_BYTES
        ok = invoke(folder, "run", "m.json", "--input", json.dumps(exact, separators=(",", ":")))
        assert ok.exit_code == 0, ok.stderr


def test_binary_and_deeply_nested_input() -> None:
    with project() as folder:
        (folder / "bin.dat").write_bytes(bytes(range(256)))
        result = invoke(folder, "run", "m.json", "--input", "@bin.dat")
        assert_clean_failure(result)
        assert "not UTF-8" in result.stderr
        deep = invoke(folder, "run", "m.json", "--input", "[" * 100_000 + "]" * 100_000)
        assert_clean_failure(deep)
        assert "too deeply" in deep.stderr


# -- handlers -------------------------------------------------------------------------------------
BAD_MODULES = {
    "syntax_error": ("def f(:\n    pass\n", "line 1"),
    "raises_at_import": ("x = 1\nraise RuntimeError('no config')\n", "line 2: RuntimeError: no config"),
    "exits_at_import": ("import sys\nsys.exit(4)\n", "sys.exit(4)"),
    "binary_module": (b"\xff\xfe\x00garbage", "binary_module.py"),
}


@pytest.mark.parametrize("module", list(BAD_MODULES))
def test_a_handler_that_fails_to_import_is_one_error_naming_file_and_line(module: str) -> None:
    source, expected = BAD_MODULES[module]
    with project() as folder:
        path = folder / f"{module}.py"
        path.write_bytes(source if isinstance(source, bytes) else source.encode())
        result = invoke(folder, "run", "m.json", "--handler", f"fn={module}:f")
        assert_clean_failure(result)
        assert result.exit_code == 2
        assert f"{module}.py" in result.stderr and expected in result.stderr, result.stderr


def test_a_config_lambda_that_fails_to_import_fails_the_task_not_the_cli() -> None:
    with project() as folder:
        (folder / "broken.py").write_text("import sys\nsys.exit(1)\n")
        (folder / "sfn-local.toml").write_text('[lambdas]\nfn = "broken:handler"\n')
        (folder / "l.json").write_text(json.dumps({"StartAt": "L", "States": {"L": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "fn", "Payload": {}}, "End": True}}}))
        result = invoke(folder, "run", "l.json")
        assert_clean_failure(result)
        assert result.exit_code == 1 and "broken.py, line 2" in result.stdout, result.stdout


# -- config -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("toml", "key"), [
    ("[glue_jobs]\nj = 5\n", "[glue_jobs.j]"),
    ('[crawlers.c]\nDatabaseName = 5\nTargets = { S3Targets = [{ Path = "s3://b/" }] }\n', "[crawlers.c] DatabaseName"),
    ("[buckets]\nb = 5\n", "[buckets] b"),
    ("[lambdas]\nf = 5\n", "[lambdas] f"),
    ('[crawlers.c]\nDatabaseName = "d"\nTargets = { S3Targets = "s3://b/" }\n', "[crawlers.c] Targets.S3Targets"),
    ('[crawlers.c]\nDatabaseName = "d"\nTargets = { S3Targets = [{ Path = 3 }] }\n',
     "[crawlers.c] Targets.S3Targets[0].Path"),
    ('[glue_jobs.j]\nScriptLocation = "x.py"\nDefaultArguments = { "--a" = [1] }\n',
     "[glue_jobs.j] DefaultArguments.--a"),
    ("buckets = [1]\n", "[buckets]"),
])
def test_a_config_value_of_the_wrong_type_names_file_and_key(toml: str, key: str) -> None:
    with project() as folder:
        (folder / "sfn-local.toml").write_text(toml)
        for args in (["run", "m.json"], ["s3", "ls"], ["catalog", "ls"], ["query", "SELECT 1"]):
            result = invoke(folder, *args)
            assert_clean_failure(result)
            assert result.exit_code == 2
            # file:line: key: problem (the line of the key, or of its table when the key is the table)
            assert re.search(rf"sfn-local\.toml:\d+: {re.escape(key)}: expected", result.stderr), result.stderr
            assert ", got " in result.stderr, result.stderr


# -- history ---------------------------------------------------------------------------------
def write_store(folder: Path, content: bytes) -> Path:
    """Put `content` where the workspace's store is (a damaged or foreign file)."""
    path = folder / "ws" / "stepfunctions" / "store.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("content", [bytes(range(256)), b"[1, 2, 3]", b'{"history": []}', b"SQLite format 3\x00" * 9])
def test_a_store_that_is_not_a_database_is_one_error_naming_it(content: bytes) -> None:
    with project() as folder:
        path = write_store(folder, content)
        for args in (["history", "x"], ["executions"], ["redrive", "x"], ["run", "m.json"]):
            result = invoke(folder, *args)
            assert_clean_failure(result)
            assert result.exit_code == 1 and str(path) in result.stderr, result.stderr
        assert path.read_bytes() == content


def test_history_of_an_unknown_execution() -> None:
    with project() as folder:
        for name in ("nope", "arn:aws:states:us-east-1:123456789012:execution:m:nope", "rec.json"):
            result = invoke(folder, "history", name)
            assert_clean_failure(result)
            assert f"no saved execution '{name}'" in result.stderr
        assert invoke(folder, "run", "m.json", "--name", "yes").exit_code == 0
        assert "no saved execution 'nope'" in invoke(folder, "history", "nope").stderr


# -- property tests over every command ----------------------------------------------------------
FILE_CONTENT = st.one_of(
    st.binary(max_size=64),
    TEXT.map(str.encode),
    st.recursive(st.none() | st.integers() | TEXT, lambda c: st.lists(c, max_size=3)
                 | st.dictionaries(TEXT, c, max_size=3), max_leaves=8).map(lambda v: json.dumps(v).encode()),
    st.just(b'{"StartAt": "A", "States": {"A": {"Type": "Nope"}}}'),
)


def bad_run_args(folder: Path, data: st.DataObject) -> list[str]:
    """`run` arguments with at least one of them wrong."""
    wrong = data.draw(st.sampled_from(["definition", "name", "input", "input_file", "handler"]))
    args = ["run", "m.json"]
    if wrong == "definition":
        path = folder / "def.json"
        path.write_bytes(data.draw(FILE_CONTENT))
        args = ["run", data.draw(st.sampled_from([str(path), "missing.json", str(folder)]))]
    elif wrong == "name":
        args += ["--name", data.draw(TEXT.filter(is_invalid_name))]
    elif wrong == "input":
        args += ["--input", data.draw(TEXT.filter(lambda t: not t.startswith("@")).filter(_not_json))]
    elif wrong == "input_file":
        path = folder / "in.dat"
        content = data.draw(st.binary(max_size=64).filter(lambda b: _not_json(b.decode("utf-8", "replace"))
                                                          or b"\xff" in b))
        path.write_bytes(content)
        args += ["--input", data.draw(st.sampled_from(["@" + str(path), "@missing.json", "@" + str(folder)]))]
    else:
        module = folder / "badmod.py"
        module.write_bytes(data.draw(FILE_CONTENT) + b"\nraise SystemExit(3)\n")
        spec = data.draw(st.sampled_from(["fn=badmod:f", "fn=badmod", "=badmod:f", "nohandler", "fn=:f", "fn=.x:f",
                                          "fn=badmod_missing:f"]))
        args += ["--handler", spec]
    return args


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


@SETTINGS
@given(data=st.data())
def test_run_with_bad_arguments(data: st.DataObject) -> None:
    with project() as folder:
        assert_clean_failure(invoke(folder, *bad_run_args(folder, data)))


@SETTINGS
@given(content=FILE_CONTENT, missing=st.booleans())
def test_validate_with_bad_files(content: bytes, missing: bool) -> None:
    with project() as folder:
        path = folder / "def.json"
        if not missing:
            path.write_bytes(content)
        result = invoke(folder, "validate", str(path))
        if not missing and result.exit_code == 0:  # the drawn content may be a valid definition after all
            return
        assert_clean_failure(result)


@SETTINGS
@given(content=FILE_CONTENT, name=TEXT)
def test_history_with_bad_stores_and_names(content: bytes, name: str) -> None:
    with project() as folder:
        assert_clean_failure(invoke(folder, "history", name or "x"))
        write_store(folder, content)
        assert_clean_failure(invoke(folder, "history", name or "x"))


S3_URI = st.one_of(TEXT, TEXT.map(lambda t: "s3://" + t), TEXT.map(lambda t: "s3://bucket/" + t))


@SETTINGS
@given(command=st.sampled_from(["ls", "cat", "cp"]), first=S3_URI, second=S3_URI)
def test_s3_with_bad_arguments(command: str, first: str, second: str) -> None:
    with project() as folder:
        if command == "ls":
            result = invoke(folder, "s3", "ls", first or "x")
        elif command == "cat":
            result = invoke(folder, "s3", "cat", first)
        else:  # the source never exists: a fresh workspace has no objects, the folder no such file
            result = invoke(folder, "s3", "cp", "no-such-" + first.replace("/", "_"), second)
        assert_clean_failure(result)
        assert not any(p.is_file() for p in (folder / "ws").rglob("*")) if (folder / "ws").exists() else True


@SETTINGS
@given(sql=TEXT, database=st.one_of(st.none(), TEXT))
def test_query_with_bad_sql(sql: str, database: str | None) -> None:
    with project() as folder:
        args = ["query", "SELECT * FROM no_such_table_" + sql if sql.isidentifier() else ")" + sql]
        result = invoke(folder, *args, *(["--database", database] if database is not None else []))
        assert_clean_failure(result)


@SETTINGS
@given(table=TEXT)
def test_catalog_show_with_bad_names(table: str) -> None:
    with project() as folder:
        assert_clean_failure(invoke(folder, "catalog", "show", table))


def test_a_workspace_that_is_a_file_is_one_error() -> None:
    with project() as folder:
        (folder / "ws").write_text("not a folder")
        for args in (["run", "m.json", "--name", "n"], ["s3", "ls"], ["catalog", "ls"], ["history", "n"]):
            result = invoke(folder, *args)
            assert_clean_failure(result)
        assert os.path.isfile(folder / "ws")
