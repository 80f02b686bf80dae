"""Task resources: one module per AWS service, all with the same shape.

`Registry.resolve(resource)` turns a Task's Resource ARN into a `Handler`: a callable taking a
`TaskRequest` and returning the task's result (JSON value) or raising `StatesError`.
Service modules load on the first Task that needs them (registry.PROVIDERS), keeping start-up light.
"""

from emulator.integrations.registry import Handler, Registry, Resource, TaskContext, TaskRequest, parse_resource

__all__ = ["Handler", "Registry", "Resource", "TaskContext", "TaskRequest", "parse_resource"]
