"""S3 on the local object store: Task integrations, key safety, config and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import emulator
from emulator.backends.objectstore import ObjectStore, S3Error
from emulator.workspace import Config, ConfigError, Workspace, load_config

ROOT = Path(__file__).resolve().parents[1]


def sdk(action: str, **params) -> dict:
    return {"Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:s3:{action}", "Parameters": params}


def steps(*states) -> dict:
    names = [f"S{i}" for i in range(len(states))]
    body = {}
    for i, state in enumerate(states):
        body[names[i]] = {**state, **({"Next": names[i + 1]} if i + 1 < len(states) else {"End": True})}
    return {"StartAt": names[0], "States": body}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path)


def test_put_get_head_list_copy_delete_through_a_state_machine(ws: Workspace) -> None:
    definition = steps(
        {**sdk("putObject", Bucket="data", Key="in/a.json", **{"Body.$": "$.doc"}, ContentType="application/json"),
         "ResultPath": "$.put"},
        {**sdk("putObject", Bucket="data", Key="in/b.txt", Body="hello"), "ResultPath": None},
        {**sdk("getObject", Bucket="data", Key="in/a.json"), "ResultSelector": {"doc.$": "States.StringToJson($.Body)",
                                                                                "type.$": "$.ContentType"},
         "ResultPath": "$.got"},
        {**sdk("copyObject", Bucket="archive", Key="a.json", CopySource="data/in/a.json"), "ResultPath": "$.copy"},
        {**sdk("headObject", Bucket="archive", Key="a.json"), "ResultPath": "$.head"},
        {**sdk("deleteObject", Bucket="data", Key="in/b.txt"), "ResultPath": None},
        {**sdk("listObjectsV2", Bucket="data", Prefix="in/"), "ResultPath": "$.list"},
    )
    ex = emulator.run(definition, {"doc": {"n": 1}}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    assert out["put"]["ETag"].startswith('"')
    assert out["got"] == {"doc": {"n": 1}, "type": "application/json"}
    assert out["copy"]["CopyObjectResult"]["ETag"] == out["put"]["ETag"]
    assert out["head"]["ContentLength"] == len('{"n":1}')
    assert [c["Key"] for c in out["list"]["Contents"]] == ["in/a.json"]
    assert out["list"]["KeyCount"] == 1 and out["list"]["IsTruncated"] is False
    # State lives in the workspace: a new store on the same directory sees it.
    body, _ = ObjectStore(Workspace(root=ws.root, project=ws.project)).get("archive", "a.json")
    assert json.loads(body) == {"n": 1}


def test_list_paging_and_delimiter(ws: Workspace) -> None:
    store = ObjectStore(ws)
    for key in ["a/1", "a/2", "b/1", "top"]:
        store.put("pages", key, b"x")
    first = store.list("pages", max_keys=2)
    assert [o.key for o in first.objects] == ["a/1", "a/2"] and first.is_truncated
    rest = store.list("pages", continuation=first.next_token)
    assert [o.key for o in rest.objects] == ["b/1", "top"] and not rest.is_truncated
    grouped = store.list("pages", delimiter="/")
    assert grouped.common_prefixes == ["a/", "b/"] and [o.key for o in grouped.objects] == ["top"]


@pytest.mark.parametrize(("action", "params", "error"), [
    ("getObject", {"Bucket": "data", "Key": "missing"}, "S3.NoSuchKeyException"),
    ("getObject", {"Bucket": "nobucket", "Key": "k"}, "S3.NoSuchBucketException"),
    ("getObject", {"Bucket": "data"}, "S3.S3Exception"),
    ("putObject", {"Bucket": "data", "Key": "k" * 1025}, "S3.KeyTooLongErrorException"),
])
def test_errors_are_named_as_step_functions_names_them(ws: Workspace, action: str, params: dict, error: str) -> None:
    ObjectStore(ws).put("data", "present", b"x")
    definition = steps({**sdk(action, **params),
                        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Caught"}]})
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    definition["States"]["S0"].pop("End")
    definition["States"]["S0"]["Next"] = "Caught"
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.output["err"]["Error"] == error


def test_symlink_out_of_the_bucket_is_refused(ws: Workspace, tmp_path: Path) -> None:
    store = ObjectStore(ws)
    store.put("data", "inside", b"x")
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    os.symlink(secret, store.bucket_root("data") / "link")
    with pytest.raises(S3Error) as err:
        store.get("data", "link")
    assert err.value.code == "InvalidRequest"


def test_configured_bucket_maps_to_a_project_folder(tmp_path: Path) -> None:
    (tmp_path / "sample").mkdir()
    (tmp_path / "sample" / "cars.csv").write_text("id,make\n1,vw\n")
    (tmp_path / "sfn-local.toml").write_text('[buckets]\nraw = "sample"\n[lambdas]\nup = "myfns:up"\n')
    (tmp_path / "myfns.py").write_text("def up(event):\n    return event.upper()\n")
    ws = Workspace(root=tmp_path / "ws", project=tmp_path)
    assert ws.config.buckets["raw"] == (tmp_path / "sample").resolve()
    definition = steps(
        {**sdk("getObject", Bucket="raw", Key="cars.csv"), "OutputPath": "$.Body"},
        {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:up"},
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.output == "ID,MAKE\n1,VW\n"


def test_config_in_pyproject_and_bad_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[tool.sfn-local.buckets]\nraw = "data"\n')
    (tmp_path / "data").mkdir()
    assert load_config(tmp_path).buckets == {"raw": (tmp_path / "data").resolve()}
    (tmp_path / "sfn-local.toml").write_text("buckets = [")
    with pytest.raises(ConfigError, match=r"sfn-local\.toml"):
        load_config(tmp_path)
    assert load_config(tmp_path / "nowhere") == Config()


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", "from emulator.cli import main; main()", "--workspace",
                           str(cwd / "ws"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_cli_s3_cp_ls_cat(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("payload")
    assert cli("s3", "cp", "f.txt", "s3://bkt/dir/", cwd=tmp_path).returncode == 0
    listing = cli("s3", "ls", "s3://bkt/dir/", cwd=tmp_path)
    assert "dir/f.txt" in listing.stdout
    assert "s3://bkt/" in cli("s3", "ls", cwd=tmp_path).stdout
    assert cli("s3", "cat", "s3://bkt/dir/f.txt", cwd=tmp_path).stdout == "payload"
    out = cli("s3", "cp", "s3://bkt/dir/f.txt", "copy.txt", cwd=tmp_path)
    assert out.returncode == 0 and (tmp_path / "copy.txt").read_text() == "payload"
    again = cli("s3", "cp", "s3://bkt/dir/f.txt", "copy.txt", cwd=tmp_path)
    assert again.returncode == 1 and "not overwriting" in again.stderr
    missing = cli("s3", "cat", "s3://bkt/nope", cwd=tmp_path)
    assert missing.returncode == 1 and "NoSuchKey" in missing.stderr and "Traceback" not in missing.stderr
    # S3 takes `..` and a leading `/` as key text: stored inside the bucket, never outside it.
    for key in ("../../x", "/abs"):
        assert cli("s3", "cp", "f.txt", f"s3://bkt/{key}", cwd=tmp_path).returncode == 0
        assert cli("s3", "cat", f"s3://bkt/{key}", cwd=tmp_path).stdout == "payload"
    assert not (tmp_path / "x").exists() and not (tmp_path / "ws" / "x").exists()
