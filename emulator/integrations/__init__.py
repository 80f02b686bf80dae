"""Task resources: one module per AWS service, all with the same shape.

`Registry.resolve(resource)` turns a Task's Resource ARN into a `Handler`: a callable taking a
`TaskRequest` and returning the task's result (JSON value) or raising `StatesError`.
"""

from emulator.integrations import (  # noqa: F401  (each registers its service)
    athena,
    awslambda,
    emr,
    glue,
    gluejobs,
    messaging,
    s3,
    stepfunctions,
)
from emulator.integrations.registry import Handler, Registry, Resource, TaskContext, TaskRequest, parse_resource

__all__ = ["Handler", "Registry", "Resource", "TaskContext", "TaskRequest", "parse_resource"]
