"""Integration parameters checked against the AWS API's own shapes, in one place.

botocore ships every service's API model (input shapes, required members, types, enums, lengths,
ranges). A Task's resolved parameters are checked against the operation's input shape before the
local handler runs, so a wrong type (`"Bucket": ["b"]`, `"MaxKeys": "ten"`), a missing required
member or (for aws-sdk integrations) an unknown member fails the task with the service's own
validation error instead of reaching the handler.

Error names follow Step Functions' documented rule for service integrations, `<Service>.<Error>`,
Exception suffix included, with the service's validation error and the prefix each integration
module uses for its other errors: `Glue.InvalidInputException`, `Athena.InvalidRequestException`,
`EMR.ValidationException`, `SNS.InvalidParameterException` (`Sns.` for aws-sdk), `SQS.MissingParameterException`
/ `SQS.InvalidParameterValueException` (`Sqs.`), `StepFunctions.ValidationException`,
`Lambda.InvalidParameterValueException`, and `S3.S3Exception` (S3 has no modelled validation
error; the SDK reports unmodelled S3 errors as S3Exception). Causes use the wording of the
service: AWS's "N validation errors detected: Value ... at 'member.path' failed to satisfy
constraint: ..." for JSON/REST services, SNS's and SQS's own phrasing for those two.

Members Step Functions accepts as any JSON value (it serialises them) are not type-checked: blobs
(S3 Body, Lambda Payload), SNS Message, SQS MessageBody and StartExecution Input. Regular
expression patterns are not checked: botocore writes them in Java syntax (`\\p{...}`, surrogate
ranges) that Python's `re` reads differently.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.model import OperationModel, Shape

from emulator.errors import StatesError

# Where a value sits, as a linked list built only one cell per level: (parent, (kind, name)) or ().
# kind is "member" (a member as Step Functions spells it), "index" (of a list) or "key" (of a map).
Path = tuple[Any, ...]


def _steps(path: Path) -> list[tuple[str, Any]]:
    out = []
    while path:
        path, step = path
        out.append(step)
    return out[::-1]


@dataclass(frozen=True, slots=True)
class Problem:
    path: Path
    value: Any
    constraint: str
    missing: bool = False


Check = Callable[[Any, Path, list[Problem]], None]


@dataclass(frozen=True, slots=True)
class _Naming:
    prefix: str  # "S3", "Glue", "SNS", "Sns", ...
    invalid: str  # error for a value the shape refuses
    missing: str  # error for an absent required member
    service: str  # the "Service:" of the cause
    style: str = "coral"  # how the service words the message: "coral", "sns" or "sqs"


# Botocore's name for the service an aws-sdk / optimised resource names, where it differs.
_BOTOCORE_NAMES = {"sfn": "stepfunctions", "states": "stepfunctions", "elasticmapreduce": "emr"}

_NAMINGS: dict[str, _Naming] = {
    "aws-sdk:s3": _Naming("S3", "S3Exception", "S3Exception", "S3"),
    "aws-sdk:glue": _Naming("Glue", "InvalidInputException", "InvalidInputException", "Glue"),
    "glue": _Naming("Glue", "InvalidInputException", "InvalidInputException", "Glue"),
    "emr-serverless": _Naming("EMRServerless", "ValidationException", "ValidationException", "EMRServerless"),
    "aws-sdk:athena": _Naming("Athena", "InvalidRequestException", "InvalidRequestException", "Athena"),
    "athena": _Naming("Athena", "InvalidRequestException", "InvalidRequestException", "Athena"),
    "aws-sdk:emr": _Naming("EMR", "ValidationException", "ValidationException", "AmazonElasticMapReduce"),
    "elasticmapreduce": _Naming("EMR", "ValidationException", "ValidationException", "AmazonElasticMapReduce"),
    "aws-sdk:sns": _Naming("Sns", "InvalidParameterException", "InvalidParameterException", "Sns", "sns"),
    "sns": _Naming("SNS", "InvalidParameterException", "InvalidParameterException", "AmazonSNS", "sns"),
    "aws-sdk:sqs": _Naming("Sqs", "InvalidParameterValueException", "MissingParameterException", "Sqs", "sqs"),
    "sqs": _Naming("SQS", "InvalidParameterValueException", "MissingParameterException", "AmazonSQS", "sqs"),
    "states": _Naming("StepFunctions", "ValidationException", "ValidationException", "AWSStepFunctions"),
    "lambda": _Naming("Lambda", "InvalidParameterValueException", "InvalidParameterValueException", "AWSLambda"),
}

# Members Step Functions accepts as any JSON value, per (botocore service, operation).
_FREE_JSON = {
    ("sns", "Publish"): {"Message"},
    ("sqs", "SendMessage"): {"MessageBody"},
    ("stepfunctions", "StartExecution"): {"Input"},
}

# EMR's optimised integration names its own actions and members: action → (operation,
# {its member: the operation's member, "[]" for one element of a list member}).
_EMR_OPTIMISED: dict[str, tuple[str, dict[str, str]]] = {
    "createCluster": ("RunJobFlow", {}),
    "addStep": ("AddJobFlowSteps", {"ClusterId": "JobFlowId", "Step": "Steps[]"}),
    "terminateCluster": ("TerminateJobFlows", {"ClusterId": "JobFlowIds[]"}),
    "setClusterTerminationProtection": ("SetTerminationProtection", {"ClusterId": "JobFlowIds[]"}),
    "cancelStep": ("CancelSteps", {"StepId": "StepIds[]"}),
}


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _render(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                                                           default=str)
    return f"'{text if len(text) <= 100 else text[:97] + '...'}'"


def _utf16_length(text: str) -> int:
    """Lengths as AWS (Java) counts them: UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _is_integer(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Compiler:
    """Turns botocore shapes into checks, once per shape (recursive shapes included)."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict  # unknown members are errors (aws-sdk integrations)
        self.memo: dict[str, Check] = {}

    def shape(self, shape: Shape) -> Check:
        if (known := self.memo.get(shape.name)) is not None:
            return known
        late: list[Check] = []
        self.memo[shape.name] = lambda value, path, out: late[0](value, path, out)  # a shape reaching itself
        check = self._build(shape)
        late.append(check)
        self.memo[shape.name] = check
        return check

    def _build(self, shape: Shape) -> Check:
        kind, meta = shape.type_name, shape.metadata
        if kind == "structure":
            if meta.get("document"):
                return _anything
            members = {_pascal(name): self.shape(member) for name, member in shape.members.items()}
            required = () if meta.get("union") else tuple(_pascal(n) for n in shape.required_members)
            return self.structure(shape.name, members, required, frozenset())
        if kind == "list":
            return _list(self.shape(shape.member), meta.get("min"), meta.get("max"))
        if kind == "map":
            return _map(self.shape(shape.key), self.shape(shape.value))
        if kind == "string":
            return _string(tuple(meta.get("enum") or ()), meta.get("min"), meta.get("max"))
        if kind in ("integer", "long"):
            return _number(_is_integer, "an integer", meta.get("min"), meta.get("max"))
        if kind in ("double", "float"):
            return _number(_is_number, "a number", meta.get("min"), meta.get("max"))
        if kind == "boolean":
            return _typed(lambda v: isinstance(v, bool), "Member must be a boolean")
        if kind == "timestamp":
            return _typed(lambda v: isinstance(v, str) or _is_number(v),
                          "Member must be a timestamp (ISO 8601 text or epoch seconds)")
        return _anything  # blob and anything newer: Step Functions serialises any JSON value

    def structure(self, name: str, members: dict[str, Check], required: tuple[str, ...],
                  free: frozenset[str]) -> Check:
        strict = self.strict
        known = ", ".join(sorted(members))

        def check(value: Any, path: Path, out: list[Problem]) -> None:
            if not isinstance(value, dict):
                out.append(Problem(path, value, "Member must be an object"))
                return
            for member in required:
                if value.get(member) is None:
                    out.append(Problem((path, ("member", member)), None, "Member must not be null", missing=True))
            for member, item in value.items():
                inner = members.get(member)
                if inner is None:
                    if strict:
                        out.append(Problem((path, ("member", member)), item,
                                           f"Member must be one of the fields of {name}: {known}"))
                elif item is not None and member not in free:
                    inner(item, (path, ("member", member)), out)

        return check


def _anything(value: Any, path: Path, out: list[Problem]) -> None:
    return None


def _typed(test: Callable[[Any], bool], constraint: str) -> Check:
    def check(value: Any, path: Path, out: list[Problem]) -> None:
        if not test(value):
            out.append(Problem(path, value, constraint))
    return check


def _length(size: int, low: int | None, high: int | None) -> str | None:
    if low is not None and size < low:
        return f"Member must have length greater than or equal to {low}"
    if high is not None and size > high:
        return f"Member must have length less than or equal to {high}"
    return None


def _string(enum: tuple[str, ...], low: int | None, high: int | None) -> Check:
    allowed = frozenset(enum)
    enum_text = f"Member must satisfy enum value set: [{', '.join(enum)}]"

    def check(value: Any, path: Path, out: list[Problem]) -> None:
        if not isinstance(value, str):
            out.append(Problem(path, value, "Member must be a string"))
        elif allowed and value not in allowed:
            out.append(Problem(path, value, enum_text))
        elif (low is not None or high is not None) and (why := _length(_utf16_length(value), low, high)):
            out.append(Problem(path, value, why))
    return check


def _number(test: Callable[[Any], bool], what: str, low: float | None, high: float | None) -> Check:
    def check(value: Any, path: Path, out: list[Problem]) -> None:
        if not test(value):
            out.append(Problem(path, value, f"Member must be {what}"))
        elif low is not None and value < low:
            out.append(Problem(path, value, f"Member must have value greater than or equal to {low}"))
        elif high is not None and value > high:
            out.append(Problem(path, value, f"Member must have value less than or equal to {high}"))
    return check


def _list(item: Check, low: int | None, high: int | None) -> Check:
    def check(value: Any, path: Path, out: list[Problem]) -> None:
        if not isinstance(value, list):
            out.append(Problem(path, value, "Member must be a list"))
            return
        if why := _length(len(value), low, high):
            out.append(Problem(path, value, why))
        for i, element in enumerate(value):
            if element is None:
                out.append(Problem((path, ("index", i)), None, "Member must not be null", missing=True))
            else:
                item(element, (path, ("index", i)), out)
    return check


def _map(key: Check, item: Check) -> Check:
    def check(value: Any, path: Path, out: list[Problem]) -> None:
        if not isinstance(value, dict):
            out.append(Problem(path, value, "Member must be a map"))
            return
        for name, element in value.items():
            key(name, (path, ("key", name)), out)
            if element is None:
                out.append(Problem((path, ("key", name)), None, "Member must not be null", missing=True))
            else:
                item(element, (path, ("key", name)), out)
    return check


def _coral_path(path: Path) -> str:
    """The member path as AWS's validation messages write it: `tableInput.storageDescriptor.columns.1.member`."""
    parts: list[str] = []
    for kind, part in _steps(path):
        if kind == "member":
            parts.append(part[:1].lower() + part[1:])
        elif kind == "index":
            parts += [str(part + 1), "member"]
        else:
            parts.append(str(part))
    return ".".join(parts)


def _plain_path(path: Path) -> str:
    out = ""
    for kind, part in _steps(path):
        out += f"[{part}]" if kind == "index" else (f".{part}" if out else str(part))
    return out


def _message(naming: _Naming, problems: list[Problem]) -> tuple[str, str]:
    """(error code, message) in the service's wording."""
    first = problems[0]
    code = naming.missing if first.missing else naming.invalid
    if naming.style == "sqs":
        name = _plain_path(first.path)
        if first.missing:
            return code, f"The request must contain the parameter {name}."
        return code, f"Value {_render(first.value)} for parameter {name} is invalid. Reason: {first.constraint}."
    if naming.style == "sns":
        name = _plain_path(first.path)
        if first.missing:
            return code, ("Invalid parameter: Empty message" if name == "Message"
                          else f"Invalid parameter: {name} Reason: no value for required parameter")
        return code, f"Invalid parameter: {name} Reason: {first.constraint}"
    count = len(problems)
    details = "; ".join(f"Value {_render(p.value)} at '{_coral_path(p.path)}' failed to satisfy constraint: "
                        f"{p.constraint}" for p in problems)
    return code, f"{count} validation error{'s' if count > 1 else ''} detected: {details}"


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


def _operation(service: str, operation: str) -> OperationModel | None:
    try:
        model = _session().get_service_model(_BOTOCORE_NAMES.get(service, service))
    except UnknownServiceError:
        return None
    return model.operation_model(operation) if operation in model.operation_names else None


@dataclass(frozen=True, slots=True)
class Validator:
    """The compiled check of one integration's parameters."""

    naming: _Naming
    check: Check

    def __call__(self, parameters: Any) -> None:
        """Raise the service's validation error (a StatesError) when `parameters` break the shape."""
        problems: list[Problem] = []
        self.check(parameters, (), problems)
        if problems:
            code, message = _message(self.naming, problems)
            raise StatesError(f"{self.naming.prefix}.{code}",
                              f"{message} (Service: {self.naming.service}, Status Code: 400, Error Code: {code}, "
                              f"Request ID: {uuid.uuid4()})")


@cache
def validator(service: str, action: str) -> Validator | None:
    """The check for a Task resource's service (`aws-sdk:s3`, `athena`, ...) and action, or None when
    botocore has no model for it. Compiled once per (service, action)."""
    sdk = service.startswith("aws-sdk:")
    name = service.removeprefix("aws-sdk:")
    renames: dict[str, str] = {}
    operation_name = _pascal(action)
    if service == "elasticmapreduce":
        if action not in _EMR_OPTIMISED:
            return None
        operation_name, renames = _EMR_OPTIMISED[action]
    operation = _operation(name, operation_name)
    if operation is None or operation.input_shape is None:
        return None
    naming = _NAMINGS.get(service) or _Naming(_pascal(name), "ValidationException", "ValidationException",
                                              _pascal(name))
    compiler = _Compiler(strict=sdk)
    shape = operation.input_shape
    required = set(shape.required_members)
    members: dict[str, Check] = {}
    needed: list[str] = []
    replaced = {target.removesuffix("[]"): own for own, target in renames.items()}
    for member, member_shape in shape.members.items():
        own = replaced.get(member, _pascal(member))
        if renames.get(own, "").endswith("[]"):
            member_shape = member_shape.member  # the optimised integration takes one element
        members[own] = compiler.shape(member_shape)
        if member in required and not member_shape.metadata.get("idempotencyToken"):  # filled in, as the SDK does
            needed.append(own)
    free = frozenset(_FREE_JSON.get((_BOTOCORE_NAMES.get(name, name), operation_name), ()))
    return Validator(naming, compiler.structure(shape.name, members, tuple(needed), free))


def output_problems(service: str, action: str, result: Any) -> list[tuple[str, str, bool]] | None:
    """How `result` departs from the API's output shape for a Task resource's service and action, as
    (member path, constraint, whether the member is missing); None when botocore has no output shape.
    Members the API does not have are let through (TestState's mock checks)."""
    name = service.removeprefix("aws-sdk:")
    operation = _operation(_BOTOCORE_NAMES.get(name, name), _pascal(action))
    if operation is None or operation.output_shape is None:
        return None
    problems: list[Problem] = []
    _Compiler(strict=False).shape(operation.output_shape)(result, (), problems)
    return [(_plain_path(p.path), p.constraint, p.missing) for p in problems]

