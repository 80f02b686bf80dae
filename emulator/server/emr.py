"""Amazon EMR's JSON API (`X-Amz-Target: ElasticMapReduce.<Action>`) over the clusters of
`integrations/emr.py`: RunJobFlow makes the same cluster `elasticmapreduce:createCluster` does."""

from __future__ import annotations

from collections.abc import Callable

from emulator.integrations.emr import Emr, EmrError
from emulator.server.protocol import Action, Params, backend_action


def _wrap(action: Callable[[Emr, Params], Params]) -> Action:
    return backend_action(action, lambda backends: Emr(backends.workspace, backends.spark), EmrError)


def _run_job_flow(emr: Emr, params: Params) -> Params:
    created = emr.create_cluster(params)
    return {"JobFlowId": created["ClusterId"], "ClusterArn": created["ClusterArn"]}


def _list_clusters(emr: Emr, params: Params) -> Params:
    """The SDK sends CreatedAfter / CreatedBefore in epoch seconds; the records keep milliseconds."""
    bounds = {k: int(float(params[k]) * 1000) for k in ("CreatedAfter", "CreatedBefore") if k in params}
    return emr.list_clusters({**params, **bounds})


ACTIONS: dict[str, Action] = {
    "RunJobFlow": _wrap(_run_job_flow),
    "DescribeCluster": _wrap(Emr.describe_cluster),
    "ListClusters": _wrap(_list_clusters),
    "AddJobFlowSteps": _wrap(Emr.add_job_flow_steps),
    "DescribeStep": _wrap(Emr.describe_step),
    "ListSteps": _wrap(Emr.list_steps),
    "CancelSteps": _wrap(Emr.cancel_step),
    "TerminateJobFlows": _wrap(Emr.terminate_cluster),
    "SetTerminationProtection": _wrap(Emr.set_termination_protection),
}
