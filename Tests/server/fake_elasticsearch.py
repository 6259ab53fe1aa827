"""An Elasticsearch on loopback with the inference API's `openai` service, as ../shared/elastic/README.md
describes it: endpoints are created, read, updated (secrets only) and deleted; creating one calls the
model server to validate it (embeddings learn their size from one "how big" input); inference calls go
to the model server with the bodies Elasticsearch's Java client sends and parse what comes back with
its strictness (SSE framing, required fields, where `null` is allowed, the `completion` task's stricter
stream). Every request it receives and every call it makes is recorded."""
import base64, json, math, re, struct, urllib.error, urllib.request
from json_service import JSONService


class ClientRuleError(Exception):
    """A reply Elasticsearch's parser would reject."""


class ServerError(Exception):
    """The model server answered with an error; `kind` is how Elasticsearch classifies it."""

    def __init__(self, status, message, kind):
        super().__init__(f"{kind} ({status}): {message}")
        self.status, self.message, self.kind = status, message, kind


TOO_LARGE = "Please reduce your prompt; or completion length."
NULLABLE = {"content", "refusal", "finish_reason", "name", "usage"}


def classify(status, body):
    """Elasticsearch's mapping of an error status and body (the README's "Errors")."""
    try:
        error = json.loads(body).get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code") if isinstance(error, dict) else None
    if code is not None and not isinstance(code, str):
        raise ClientRuleError(f"error.code must be a string or null, not {code!r}")
    message = error.get("message", "") if isinstance(error, dict) else str(error)
    if status in (500, 503):
        kind = "retry"
    elif status == 429:
        kind = "rate_limit"
    elif status == 413 or (status == 400 and TOO_LARGE in message):
        kind = "content_too_large"
    else:
        kind = {401: "unauthorized", 404: "not_found", 422: "validation"}.get(status, "bad_request")
    return ServerError(status, message, kind)


def sse_events(lines):
    """Events of an SSE stream as Elasticsearch frames them: an event counts only when its blank line
    arrives, `:` lines are comments, `event: error` fails the stream."""
    event, data = None, []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                if event == "error":
                    raise ClientRuleError("event: error: " + "\n".join(data))
                yield "\n".join(data)
            event, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
    # A final event without its blank line is dropped.


def check_no_nulls(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None and key not in NULLABLE:
                raise ClientRuleError(f"{path}{key} is null")
            check_no_nulls(item, f"{path}{key}.")
    elif isinstance(value, list):
        for item in value:
            check_no_nulls(item, path)


def check_chunk(chunk, strict):
    """One chunk of a chat stream, by the unified parser (and the `completion` task's when `strict`)."""
    if not isinstance(chunk, dict):
        raise ClientRuleError("a chunk is not an object")
    check_no_nulls(chunk)
    if not isinstance(chunk.get("id"), str):
        raise ClientRuleError("chunk without a string id")
    for key in ("model", "object"):  # older releases
        if not isinstance(chunk.get(key), str):
            raise ClientRuleError(f"chunk without a string {key}")
    choices = chunk.get("choices")
    if not isinstance(choices, list) and (strict or choices is not None):
        raise ClientRuleError("chunk without a choices array")
    for choice in choices or []:
        if not isinstance(choice.get("index"), int) or not isinstance(choice.get("delta"), dict):
            raise ClientRuleError(f"choice without an int index and a delta object: {choice}")
        delta = choice["delta"]
        if strict and "content" in delta and not isinstance(delta["content"], str):
            raise ClientRuleError("delta.content is not a string")
        for call in delta.get("tool_calls") or []:
            if not isinstance(call.get("index"), int):
                raise ClientRuleError(f"tool call without an int index: {call}")
            for key, kind in (("id", str), ("type", str), ("function", dict)):
                if key in call and not isinstance(call[key], kind):
                    raise ClientRuleError(f"tool call {key} of the wrong type: {call}")
            if "arguments" in call.get("function", {}) and not isinstance(call["function"]["arguments"], str):
                raise ClientRuleError("function.arguments is not a string")
    usage = chunk.get("usage")
    if usage is not None:
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            if not isinstance(usage.get(key), int):
                raise ClientRuleError(f"usage.{key} is not an integer")
        details = usage.get("prompt_tokens_details")
        if "prompt_tokens_details" in usage and not isinstance(details, dict):
            raise ClientRuleError("prompt_tokens_details is not an object")
        if isinstance(details, dict) and "cached_tokens" in details and not isinstance(details["cached_tokens"], int):
            raise ClientRuleError("cached_tokens is not an integer")


def decode_embedding(value):
    if isinstance(value, str):
        if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", value) or len(value) % 4:
            raise ClientRuleError("embedding is not strict base64")
        raw = base64.b64decode(value, validate=True)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if isinstance(value, list) and all(isinstance(x, (int, float)) for x in value):
        return [float(x) for x in value]
    raise ClientRuleError("embedding is neither base64 nor a float array")


class FakeElasticsearch(JSONService):
    def __init__(self, api_key="es-admin-key", base64_embeddings=True):
        self.api_key = api_key
        self.base64_embeddings = base64_embeddings  # newest releases; older ones send no encoding_format
        self.endpoints = {}      # id -> {"task_type", "service", "service_settings", "task_settings", "api_key"}
        self.sent = []           # (url, body) of every call to the model server
        self.retries = 0         # embeddings truncated and sent again after "content too large"
        super().__init__()

    @staticmethod
    def failure(status, kind, reason):
        return status, {"error": {"type": kind, "reason": reason, "root_cause": [{"type": kind, "reason": reason}]}, "status": status}

    def bad_json(self):
        return self.failure(400, "parse_exception", "request body is not JSON")[1]

    def serve(self, method, parts, headers, body, handler):
        if headers.get("Authorization") != f"ApiKey {self.api_key}":
            return self.failure(401, "security_exception", "unable to authenticate with provided credentials")
        try:
            if method == "GET" and not parts:
                return 200, {"name": "fake", "version": {"number": "9.4.0"}, "tagline": "You Know, for Search"}
            if parts[:1] != ["_inference"] or len(parts) < 3:
                return self.failure(404, "resource_not_found_exception", f"no handler for {method} /{'/'.join(parts)}")
            status, value = self.route(method, parts[1], parts[2], parts[3] if len(parts) > 3 else None, body, handler)
            return None if status is None else (status, value)
        except ClientRuleError as e:
            return self.failure(500, "status_exception", f"Failed to parse the model server's response: {e}")
        except ServerError as e:
            status = {"content_too_large": 413, "unauthorized": 401, "not_found": 404}.get(e.kind, 400)
            return self.failure(status, "status_exception", f"Received an error from the model server ({e.kind}): {e.message}")

    # --- the inference API ---------------------------------------------------------------------------

    def public(self, inference_id):
        e = self.endpoints[inference_id]
        return {"inference_id": inference_id, "task_type": e["task_type"], "service": e["service"],
                "service_settings": e["service_settings"], "task_settings": e["task_settings"]}

    def route(self, method, task, inference_id, action, body, handler):
        known = {"chat_completion", "completion", "text_embedding"}
        if method == "GET" and action is None:
            if inference_id not in self.endpoints or self.endpoints[inference_id]["task_type"] != task:
                return 404, {"error": {"type": "resource_not_found_exception", "reason": f"Inference endpoint not found [{inference_id}]"}, "status": 404}
            return 200, {"endpoints": [self.public(inference_id)]}
        if method == "DELETE" and action is None:
            if self.endpoints.pop(inference_id, None) is None:
                return 404, {"error": {"type": "resource_not_found_exception", "reason": f"Inference endpoint not found [{inference_id}]"}, "status": 404}
            return 200, {"acknowledged": True, "pipelines": [], "indexes": []}
        if method == "PUT" and action is None:
            if task not in known:
                return 400, {"error": {"type": "status_exception", "reason": f"Unknown task_type [{task}]"}, "status": 400}
            if inference_id in self.endpoints:
                return 400, {"error": {"type": "resource_already_exists_exception", "reason": f"Inference endpoint [{inference_id}] already exists"}, "status": 400}
            return self.create(task, inference_id, body)
        if method == "PUT" and action == "_update":
            if inference_id not in self.endpoints:
                return 404, {"error": {"type": "resource_not_found_exception", "reason": f"Inference endpoint not found [{inference_id}]"}, "status": 404}
            settings = (body or {}).get("service_settings") or {}
            if set(settings) - {"api_key"} or set(body or {}) - {"service_settings", "task_settings"}:
                return 400, {"error": {"type": "validation_exception", "reason": "only secrets and task_settings can be updated"}, "status": 400}
            if "api_key" in settings:
                self.endpoints[inference_id]["api_key"] = settings["api_key"]
            return 200, self.public(inference_id)
        if method == "POST" and inference_id in self.endpoints and self.endpoints[inference_id]["task_type"] == task:
            return self.infer(task, inference_id, action, body or {}, handler)
        return 404, {"error": {"type": "resource_not_found_exception", "reason": f"Inference endpoint not found [{inference_id}]"}, "status": 404}

    def create(self, task, inference_id, body):
        body = body or {}
        if body.get("service") != "openai":
            return 400, {"error": {"type": "status_exception", "reason": "this fake knows the [openai] service only"}, "status": 400}
        settings = dict(body.get("service_settings") or {})
        allowed = {"api_key", "model_id", "url", "organization_id", "rate_limit"} | ({"dimensions", "similarity"} if task == "text_embedding" else set())
        unknown = set(settings) - allowed
        if unknown:
            return 400, {"error": {"type": "validation_exception", "reason": f"Model configuration contains settings {sorted(unknown)} unknown to the [openai] service"}, "status": 400}
        for key in ("api_key", "model_id"):
            if not isinstance(settings.get(key), str) or not settings[key]:
                return 400, {"error": {"type": "validation_exception", "reason": f"[service_settings] does not contain the required setting [{key}]"}, "status": 400}
        endpoint = {"task_type": task, "service": "openai", "api_key": settings.pop("api_key"),
                    "user_dimensions": settings.get("dimensions"),
                    "service_settings": settings, "task_settings": body.get("task_settings") or {}}
        self.endpoints[inference_id] = endpoint
        try:
            # Elasticsearch validates a new endpoint with one call; embeddings learn their size from it.
            if task == "text_embedding":
                size = len(self.embed(inference_id, ["how big"])[0])
                if "dimensions" in settings and settings["dimensions"] != size:
                    raise ServerError(400, f"The configured dimensions [{settings['dimensions']}] differ from the model's [{size}]", "validation")
                settings.setdefault("dimensions", size)
                settings.setdefault("similarity", "dot_product")
            else:
                self.chat(inference_id, {"messages": [{"role": "user", "content": "how big"}]}, stream=task == "chat_completion",
                          strict=task == "completion")
        except (ServerError, ClientRuleError, OSError) as e:
            del self.endpoints[inference_id]
            return 400, {"error": {"type": "status_exception", "reason": f"Could not complete inference endpoint creation as validation call to service threw an exception: {e}"}, "status": 400}
        return 200, self.public(inference_id)

    def infer(self, task, inference_id, action, body, handler):
        if task == "text_embedding":
            inputs = body.get("input")
            inputs = [inputs] if isinstance(inputs, str) else inputs
            vectors = self.embed(inference_id, inputs)
            return 200, {"text_embedding": [{"embedding": v} for v in vectors]}
        if task == "completion":
            request = {"messages": [{"role": "user", "content": body.get("input")}]}
            if action != "_stream":
                text, _, _ = self.chat(inference_id, request, stream=False, strict=True)
                return 200, {"completion": [{"result": text}]}
        else:
            request = body
        chunks = []
        self.chat(inference_id, request, stream=True, strict=task == "completion", on_chunk=chunks.append)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Connection", "close")
        handler.end_headers()
        for chunk in chunks:
            handler.wfile.write(b"event: message\ndata: " + json.dumps(chunk).encode() + b"\n\n")
        handler.wfile.write(b"event: message\ndata: [DONE]\n\n")
        handler.close_connection = True
        return None, None

    # --- calls to the model server, as the openai service makes them --------------------------------

    def post(self, inference_id, body, stream):
        e = self.endpoints[inference_id]
        self.sent.append((e["service_settings"]["url"], body))
        request = urllib.request.Request(e["service_settings"]["url"], data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {e['api_key']}"})
        try:
            return urllib.request.urlopen(request, timeout=300)
        except urllib.error.HTTPError as error:
            raise classify(error.code, error.read().decode())

    def chat(self, inference_id, request, stream, strict, on_chunk=None):
        """Sends a chat request as Elasticsearch writes it; returns (content, tool calls, usage)."""
        e = self.endpoints[inference_id]
        body = {"messages": [self.message(m) for m in request["messages"]]}
        for key in ("stop", "temperature", "tool_choice", "top_p", "max_completion_tokens"):
            if request.get(key) is not None:
                body[key] = request[key]
        if request.get("tools"):
            body["tools"] = [{"type": "function", "function": {"name": t["function"]["name"],
                                                                "description": t["function"].get("description"),
                                                                "parameters": t["function"].get("parameters")}}
                             for t in request["tools"]]
        body.update(model=e["service_settings"]["model_id"], n=1, stream=stream)
        if stream:
            body["stream_options"] = {"include_usage": True}
        response = self.post(inference_id, body, stream)
        if not stream:
            raw = response.read()
            if not raw:
                raise ClientRuleError("empty 2xx body")
            reply = json.loads(raw)
            if "error" in reply:
                raise ClientRuleError(f"a 200 body with an error: {reply['error']}")
            message = reply["choices"][0]["message"]
            if strict and not isinstance(message.get("content"), str):
                raise ClientRuleError("choices[].message.content is not a string")
            return message.get("content"), message.get("tool_calls"), reply.get("usage")
        content, calls, usage = "", {}, None
        for data in sse_events(response):
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if "error" in chunk:
                raise ClientRuleError(f"error in the stream: {chunk['error']}")
            check_chunk(chunk, strict)
            if on_chunk:
                on_chunk(chunk)
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                delta = choice["delta"]
                content += delta.get("content") or ""
                for call in delta.get("tool_calls") or []:
                    merged = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                    merged["id"] += call.get("id") or ""
                    merged["name"] += (call.get("function") or {}).get("name") or ""
                    merged["arguments"] += (call.get("function") or {}).get("arguments") or ""
        return content, [calls[i] for i in sorted(calls)], usage

    @staticmethod
    def message(m):
        """A message as Elasticsearch serialises it: no `content` key on an assistant message that only
        carries tool calls."""
        out = {"role": m["role"]}
        if m.get("content") is not None:
            out["content"] = m["content"]
        for key in ("tool_calls", "tool_call_id"):
            if key in m:
                out[key] = m[key]
        return out

    def embed(self, inference_id, inputs):
        e = self.endpoints[inference_id]
        body = {"input": list(inputs), "model": e["service_settings"]["model_id"]}
        if self.base64_embeddings:
            body["encoding_format"] = "base64"
        if e["user_dimensions"] is not None:  # only when the user configured it
            body["dimensions"] = e["user_dimensions"]
        try:
            reply = json.loads(self.post(inference_id, body, False).read())
        except ServerError as error:
            if error.kind != "content_too_large":
                raise
            # Elasticsearch truncates the inputs and tries once more.
            self.retries += 1
            body["input"] = [" ".join(text.split()[: max(1, len(text.split()) // 2)]) for text in body["input"]]
            reply = json.loads(self.post(inference_id, body, False).read())
        data = reply.get("data")
        if not isinstance(data, list) or len(data) != len(body["input"]):
            raise ClientRuleError("embeddings: data must hold one item per input")
        vectors = [decode_embedding(item.get("embedding")) for item in data]
        for v in vectors:
            if abs(math.sqrt(sum(x * x for x in v)) - 1) > 1e-3:
                raise ClientRuleError("a vector that is not unit length (dot_product similarity)")
        return vectors
