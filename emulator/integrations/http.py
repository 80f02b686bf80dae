"""The HTTP Task: `arn:aws:states:::http:invoke` calls an HTTP API as Step Functions does.

Parameters: ApiEndpoint, Method, Authentication.ConnectionArn, Headers, QueryParameters, RequestBody,
Transform {RequestBodyEncoding: NONE | URL_ENCODED, RequestEncodingOptions {ArrayFormat}}. The result is
{Headers, ResponseBody, StatusCode, StatusText}; a status outside 2xx fails the task with
`States.Http.StatusCode.<code>`, a connection that fails or takes over 60 seconds with `States.Http.Socket`.

Containment: a local run never reaches outside the machine, so only loopback endpoints (localhost,
127.0.0.0/8, ::1) are called, and redirects are not followed. `[http] allow = ["api.example.com",
"*.example.org"]` in the project config lets HTTP Tasks call those hosts too ("*": any). EventBridge connections
have no local secrets: the ConnectionArn is required, as on AWS, but adds nothing to the request.
"""

from __future__ import annotations

import codecs
import fnmatch
import http.client
import ipaddress
import json
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from emulator.errors import RUNTIME, StatesError
from emulator.integrations.registry import Registry, Resource, TaskRequest, register

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
ARRAY_FORMATS = ("INDICES", "REPEAT", "COMMAS", "BRACKETS")
SOCKET = "States.Http.Socket"
TIMEOUT_SECONDS = 60
# Step Functions asks for at most this much of a response (its Range header) and reads no more.
MAX_RESPONSE_BYTES = 262144
# TaskContext.extra key: a callable given each exchange's request and response (TestState's TRACE).
TRACE_KEY = "http_trace"

Trace = Callable[[dict[str, str], "dict[str, str] | None"], None]


class _Refused(Exception):
    """The request cannot be made (bad parameters, or a host outside the machine)."""


def invoke(request: TaskRequest, registry: Registry) -> dict[str, Any]:
    state = request.context.state_name
    params = request.payload if isinstance(request.payload, dict) else {}
    try:
        method, url, headers, body = _request(params, state, request.resource.region)
        _contain(url, state, registry)
    except _Refused as exc:
        raise StatesError(RUNTIME, str(exc)) from None
    trace: Trace | None = request.context.extra.get(TRACE_KEY)
    sent = {"protocol": urlsplit(url).scheme, "method": method, "url": url, "headers": _header_text(headers.items()),
            "body": body.decode("utf-8", "replace")}
    try:
        status, reason, received, raw = _exchange(method, url, headers, body)
    except (OSError, http.client.HTTPException) as exc:
        if trace is not None:
            trace(sent, None)
        raise StatesError(SOCKET, f"The HTTP request of state '{state}' to {url} failed: {exc}") from None
    text = raw.decode(_charset(received), "replace")
    if trace is not None:
        trace(sent, {"protocol": urlsplit(url).scheme, "statusCode": str(status), "statusMessage": reason,
                     "headers": _header_text(received), "body": text})
    grouped: dict[str, list[str]] = {}
    for name, value in received:
        grouped.setdefault(name, []).append(value)
    result = {"Headers": grouped, "ResponseBody": _response_body(text, received), "StatusCode": status,
              "StatusText": reason}
    if not 200 <= status < 300:
        raise StatesError(f"States.Http.StatusCode.{status}", json.dumps(result, ensure_ascii=False,
                                                                         separators=(",", ":")))
    return result


def _request(params: dict[str, Any], state: str, region: str) -> tuple[str, str, dict[str, str], bytes]:
    """Method, URL, headers and body of the call the parameters describe."""
    endpoint = params.get("ApiEndpoint")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https") \
            or not urlsplit(endpoint).hostname:
        raise _Refused(f"The HTTP Task '{state}': ApiEndpoint must be an http(s):// URL, got {json.dumps(endpoint)}")
    method = params.get("Method")
    if method not in METHODS:
        raise _Refused(f"The HTTP Task '{state}': Method must be one of {', '.join(METHODS)}, "
                       f"got {json.dumps(method)}")
    authentication = params.get("Authentication")
    if not isinstance(authentication, dict) or not isinstance(authentication.get("ConnectionArn"), str):
        raise _Refused(f"The HTTP Task '{state}': Authentication.ConnectionArn (an EventBridge connection's ARN) "
                       "is required")
    transform = _object(params, "Transform", state)
    encoding = transform.get("RequestBodyEncoding", "NONE")
    if encoding not in ("NONE", "URL_ENCODED"):
        raise _Refused(f"The HTTP Task '{state}': Transform.RequestBodyEncoding must be NONE or URL_ENCODED, "
                       f"got {json.dumps(encoding)}")
    options = _object(transform, "RequestEncodingOptions", state)
    array_format = options.get("ArrayFormat", "INDICES")
    if array_format not in ARRAY_FORMATS:
        raise _Refused(f"The HTTP Task '{state}': Transform.RequestEncodingOptions.ArrayFormat must be one of "
                       f"{', '.join(ARRAY_FORMATS)}, got {json.dumps(array_format)}")
    url = endpoint
    if query := _object(params, "QueryParameters", state):
        url += ("&" if urlsplit(endpoint).query else "?") + url_encode(query, array_format)
    headers = {str(k): _text(v) for k, v in _object(params, "Headers", state).items()}
    body = b""
    if "RequestBody" in params and method not in ("GET", "HEAD"):
        content = params["RequestBody"]
        if encoding == "URL_ENCODED":
            if not isinstance(content, dict):
                raise _Refused(f"The HTTP Task '{state}': a URL_ENCODED RequestBody must be an object")
            body = url_encode(content, array_format).encode()
            _default(headers, "Content-Type", "application/x-www-form-urlencoded")
        else:
            body = (content if isinstance(content, str) else json.dumps(content, separators=(",", ":"),
                                                                        ensure_ascii=False)).encode()
            _default(headers, "Content-Type", "application/json")
    # Step Functions adds these to every HTTP Task request.
    headers["User-Agent"] = f"Amazon|StepFunctions|HttpInvoke|{region}"
    headers["Range"] = f"bytes=0-{MAX_RESPONSE_BYTES}"
    return method, url, headers, body


def url_encode(value: dict[str, Any], array_format: str = "INDICES") -> str:
    """`a=1&b[0]=x&b[1]=y` (INDICES), `b=x&b=y` (REPEAT), `b=x,y` (COMMAS), `b[]=x&b[]=y` (BRACKETS);
    nested objects as `o[k]=v`."""
    pairs: list[tuple[str, str]] = []

    def walk(key: str, item: Any) -> None:
        if isinstance(item, dict):
            for k, v in item.items():
                walk(f"{key}[{k}]", v)
        elif isinstance(item, list):
            if array_format == "COMMAS" and not any(isinstance(v, dict | list) for v in item):
                pairs.append((key, ",".join(_text(v) for v in item)))
                return
            for i, v in enumerate(item):
                walk({"INDICES": f"{key}[{i}]", "BRACKETS": f"{key}[]"}.get(array_format, key), v)
        else:
            pairs.append((key, _text(item)))

    for k, v in value.items():
        walk(str(k), v)
    return urlencode(pairs, quote_via=quote)


def _contain(url: str, state: str, registry: Registry) -> None:
    host = urlsplit(url).hostname or ""
    if reachable(host, registry.backends.workspace.config.http.get("allow", [])):
        return
    raise _Refused(
        f"The HTTP Task '{state}' calls {url}, which is outside this machine: a local run calls only loopback "
        f"endpoints (localhost, 127.0.0.0/8, ::1). Point ApiEndpoint at a local server, or let HTTP Tasks reach "
        f"this host with `[http] allow = [\"{host}\"]` in sfn-local.toml (\"*\" allows every host).")


def reachable(host: str, allow: list[str]) -> bool:
    """Whether a local HTTP Task may call `host`: a loopback one, or one `[http] allow` matches."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        if ipaddress.ip_address(name).is_loopback:
            return True
    except ValueError:
        pass
    return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in allow)


def _exchange(method: str, url: str, headers: dict[str, str], body: bytes
              ) -> tuple[int, str, list[tuple[str, str]], bytes]:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=TIMEOUT_SECONDS,
                                                 context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request(method, target, body=body or None, headers=headers)
        response = connection.getresponse()
        raw = response.read(MAX_RESPONSE_BYTES)
        return response.status, response.reason, list(response.getheaders()), raw
    finally:
        connection.close()


def _response_body(text: str, headers: list[tuple[str, str]]) -> Any:
    """A JSON response's body parsed, any other as text (as the HTTP Task's ResponseBody)."""
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    if "json" in content_type.lower():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _charset(headers: list[tuple[str, str]]) -> str:
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            try:
                return codecs.lookup(value.strip().strip('"')).name
            except LookupError:
                return "utf-8"
    return "utf-8"


def _header_text(headers: Any) -> str:
    """Headers as TestState's inspection data writes them: `[Name: value, Name: value]`."""
    return "[" + ", ".join(f"{name}: {value}" for name, value in headers) + "]"


def _object(params: dict[str, Any], key: str, state: str) -> dict[str, Any]:
    value = params.get(key, {})
    if not isinstance(value, dict):
        raise _Refused(f"The HTTP Task '{state}': {key} must be an object, got {json.dumps(value)[:80]}")
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _default(headers: dict[str, str], name: str, value: str) -> None:
    if not any(k.lower() == name.lower() for k in headers):
        headers[name] = value


def _handler(resource: Resource, registry: Registry) -> Callable[[TaskRequest], Any] | None:
    if resource.action != "invoke" or resource.pattern:
        return None
    return lambda request: invoke(request, registry)


register("http", _handler)
