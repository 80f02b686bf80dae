"""moto's server on loopback as the stand-in for AWS, for the tests of the switch to AWS (its fixtures,
`moto_server` and `aws`, are in conftest.py).

`ThreadedMotoServer` on 127.0.0.1 and a free port, reached through AWS_ENDPOINT_URL with dummy
credentials, as a user's boto3 configuration would reach any endpoint. Never real AWS.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from emulator.workspace import Config, Workspace


def moto_api(endpoint: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/{path}", data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(request, timeout=10).read()


def workspace_with_targets(tmp_path: Path, name: str, **targets_: str) -> Workspace:
    return Workspace(root=tmp_path / name, project=tmp_path, config=Config(targets=dict(targets_)))


def create_cluster_state(release: str) -> dict[str, Any]:
    """An EMR createCluster.sync Task whose cluster stays up for the next states (its id at $.cluster), then Step."""
    return {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync",
            "Parameters": {"Name": "etl", "ReleaseLabel": release, "ServiceRole": "EMR_DefaultRole",
                           "JobFlowRole": "EMR_EC2_DefaultRole",
                           "Instances": {"KeepJobFlowAliveWhenNoSteps": True, "InstanceCount": 1,
                                         "MasterInstanceType": "m5.xlarge"}},
            "ResultPath": "$.cluster", "Next": "Step"}
