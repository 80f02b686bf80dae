"""Target resolution (emulator/targets.py): --target > SFN_LOCAL_TARGET > [targets] > local, and its errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import targets
from emulator.integrations.registry import Registry, parse_resource
from emulator.targets import TargetError, check_ready, choose, parse_cli, parse_spec
from emulator.workspace import Config, ConfigError, Workspace, load_config


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SFN_LOCAL_TARGET", raising=False)
    targets.use_cli_targets({})
    yield
    targets.use_cli_targets({})


def _ws(tmp_path: Path, **config: str) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path, config=Config(targets=dict(config)))


def test_env_spec_forms() -> None:
    assert parse_spec("aws", "SFN_LOCAL_TARGET") == {"default": "aws"}
    assert parse_spec(" glue=aws , s3 = local,", "SFN_LOCAL_TARGET") == {"glue": "aws", "s3": "local"}
    assert parse_spec("default=aws", "X") == {"default": "aws"}
    assert parse_cli(("glue=aws", "local")) == {"glue": "aws", "default": "local"}


@pytest.mark.parametrize(("text", "message"), [
    ("glue=cloud", "SFN_LOCAL_TARGET 'glue=cloud': expected \"local\" or \"aws\" for glue, got 'cloud'"),
    ("gleu=aws", "SFN_LOCAL_TARGET 'gleu=aws': unknown service 'gleu'"),
    ("remote", "SFN_LOCAL_TARGET 'remote': expected \"local\" or \"aws\" for default, got 'remote'"),
    (" , ", "SFN_LOCAL_TARGET: expected 'aws', 'local' or SERVICE=local|aws[,...], got ' , '"),
])
def test_bad_specs_name_the_variable_and_the_entry(text: str, message: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_spec(text, "SFN_LOCAL_TARGET")
    assert message in str(caught.value)


def test_layers_cli_beats_env_beats_config_beats_local(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"glue": "aws", "sns": "aws"}
    assert choose("glue", config).target == "aws" and choose("s3", config).target == "local"
    assert choose("s3", {}).source == "default"
    monkeypatch.setenv("SFN_LOCAL_TARGET", "glue=local")
    assert choose("glue", config).target == "local"
    assert choose("glue", config).source == "SFN_LOCAL_TARGET (glue = local)"
    assert choose("sns", config).target == "aws"  # the env says nothing about sns: the config decides
    targets.use_cli_targets(parse_cli(("glue=aws",)))
    assert choose("glue", config).target == "aws" and choose("glue", config).source == "--target (glue = aws)"


def test_a_layer_default_beats_lower_layers_and_a_service_key_beats_its_own_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"default": "aws", "s3": "local"}
    assert choose("s3", config).target == "local" and choose("glue", config).target == "aws"
    monkeypatch.setenv("SFN_LOCAL_TARGET", "local")
    assert choose("glue", config).target == "local"


def test_names_of_one_service_are_one_key(tmp_path: Path) -> None:
    ws = _ws(tmp_path, emr="aws", sfn="aws")
    for arn in ("arn:aws:states:::elasticmapreduce:addStep.sync", "arn:aws:states:::aws-sdk:emr:describeStep",
                "arn:aws:states:::states:startExecution.sync:2"):
        assert targets.targeted_at_aws(parse_resource(arn), ws), arn
    assert not targets.targeted_at_aws(parse_resource("arn:aws:states:::aws-sdk:glue:getTable"), ws)
    activity = parse_resource("arn:aws:states:us-east-1:123456789012:activity:review")
    assert not targets.targeted_at_aws(activity, _ws(tmp_path, default="aws"))


def test_aws_services_walks_branches_and_iterations(tmp_path: Path) -> None:
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "M", "Branches": [{"StartAt": "Fn", "States": {
            "Fn": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:f", "End": True}}}]},
        "M": {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "Put", "States": {
            "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "End": True}}}}}}
    assert targets.aws_services(definition, _ws(tmp_path, default="aws")) == {"lambda": ["Fn"], "s3": ["Put"]}
    assert targets.aws_services(definition, _ws(tmp_path, s3="aws")) == {"s3": ["Put"]}
    assert targets.aws_services(definition, _ws(tmp_path)) == {}


def test_config_file_targets_are_checked_with_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "sfn-local.toml").write_text('[targets]\nglue = "cloud"\n')
    with pytest.raises(ConfigError, match=r"\[targets\] glue: expected \"local\" or \"aws\""):
        load_config(tmp_path)
    (tmp_path / "sfn-local.toml").write_text('[targets]\ngleu = "aws"\n')
    with pytest.raises(ConfigError, match=r"sfn-local.toml.*\[targets\] gleu: unknown service"):
        load_config(tmp_path)
    # A Config made in code is checked before a run, with the same naming.
    with pytest.raises(TargetError) as caught:
        check_ready({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}, _ws(tmp_path, gleu="aws"))
    assert "[targets] gleu: unknown service 'gleu'" in str(caught.value)


def test_pre_run_check_names_the_service_the_states_and_the_switch(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
                "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    definition = {"StartAt": "Q", "States": {"Q": {
        "Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync", "End": True}}}
    ws = _ws(tmp_path)
    assert check_ready(definition, ws) == {}  # all local: nothing to check
    monkeypatch.setenv("SFN_LOCAL_TARGET", "athena=aws")
    with pytest.raises(TargetError) as caught:
        check_ready(definition, ws)
    message = str(caught.value)
    assert message.startswith("athena (states Q) is switched to AWS by SFN_LOCAL_TARGET (athena = aws), but no AWS "
                              "credentials were found")
    assert "no AWS region is set" in message
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    with pytest.raises(TargetError, match="but no AWS region is set"):
        check_ready(definition, ws)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert check_ready(definition, ws) == {"athena": ["Q"]}


def test_registry_routes_a_switched_service_to_the_aws_provider(tmp_path: Path) -> None:
    from emulator.backends import Backends
    from emulator.integrations import registry as registry_module

    registry = Registry(backends=Backends(_ws(tmp_path, glue="aws")))
    assert registry_module._provider(parse_resource("arn:aws:states:::glue:startJobRun.sync"), registry) == "aws"
    assert registry_module._provider(parse_resource("arn:aws:states:::aws-sdk:s3:getObject"), registry) == "aws-sdk:s3"
    assert callable(registry._resolve(parse_resource("arn:aws:states:::aws-sdk:glue:getTable")))
    with pytest.raises(Exception, match="No local handler"):
        registry._resolve(parse_resource("arn:aws:states:::aws-sdk:glue:noSuchAction"))
