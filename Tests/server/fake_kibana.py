"""A Kibana on loopback with the Connectors API for the OpenAI connector (`.gen-ai`), as
../shared/kibana/README.md describes it: connectors are listed, created (config checked against the
connector's schema, unknown keys refused), updated and deleted, with Kibana's auth and `kbn-xsrf` rule;
the `run` action posts the given body to the connector's URL with its key, as the connector does, and
checks the reply by the connector's non-streaming rules."""
import json, urllib.error, urllib.request, uuid
from json_service import JSONService

CONFIG_KEYS = {"apiProvider", "apiUrl", "defaultModel", "enableNativeFunctionCalling", "contextWindowLength", "headers",
               "organizationId", "projectId", "verificationMode", "certificateData", "privateKeyData", "caData"}


def check_reply(reply):
    """The connector's validation of a non-streaming reply; returns a problem or None."""
    usage = reply.get("usage")
    if not isinstance(usage, dict) or not all(isinstance(usage.get(k), (int, float)) for k in ("prompt_tokens", "completion_tokens", "total_tokens")):
        return "Response validation failed: usage"
    for key, kind in (("id", str), ("object", str), ("created", (int, float)), ("model", str)):
        if key in reply and not isinstance(reply[key], kind):
            return f"Response validation failed: {key}"
    choices = reply.get("choices")
    if not isinstance(choices, list) or not choices:
        return "Response validation failed: choices"
    for choice in choices:
        if not isinstance(choice.get("message"), dict) or not isinstance(choice["message"].get("role"), str):
            return "Response validation failed: choices[].message.role"
        for key, kind in (("finish_reason", str), ("index", int)):
            if key in choice and not isinstance(choice[key], kind):
                return f"Response validation failed: {key}"
    return None


class FakeKibana(JSONService):
    def __init__(self, api_key="kibana-admin-key"):
        self.api_key = api_key
        self.connectors = {}     # id -> {"name", "connector_type_id", "config", "secrets"}
        self.sent = []           # (url, headers, body) of the connector's calls to the model server
        super().__init__()

    def bad_json(self):
        return {"statusCode": 400, "error": "Bad Request", "message": "Invalid JSON"}

    def serve(self, method, parts, headers, body, handler):
        if headers.get("Authorization") != f"ApiKey {self.api_key}":
            return 401, {"statusCode": 401, "error": "Unauthorized", "message": "[security_exception]: unable to authenticate with provided credentials"}
        if method != "GET" and headers.get("kbn-xsrf") is None:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "Request must contain a kbn-xsrf header."}
        return self.route(method, parts, body)

    def public(self, cid):
        c = self.connectors[cid]
        return {"id": cid, "name": c["name"], "connector_type_id": c["connector_type_id"], "config": c["config"],
                "is_preconfigured": False, "is_deprecated": False, "is_missing_secrets": False, "is_system_action": False}

    @staticmethod
    def check_config(config, secrets):
        if not isinstance(config, dict):
            return "[config]: expected an object"
        unknown = set(config) - CONFIG_KEYS
        if unknown:
            return f"[config.{sorted(unknown)[0]}]: definition for this key is missing"
        if config.get("apiProvider") not in ("OpenAI", "Azure OpenAI", "Other"):
            return "[config.apiProvider]: expected one of OpenAI, Azure OpenAI, Other"
        if not isinstance(config.get("apiUrl"), str) or not config["apiUrl"].startswith(("http://", "https://")):
            return "[config.apiUrl]: expected a URL"
        if config["apiProvider"] == "Other" and not isinstance(config.get("defaultModel"), str):
            return "[config.defaultModel]: expected value of type [string]"
        if "enableNativeFunctionCalling" in config and not isinstance(config["enableNativeFunctionCalling"], bool):
            return "[config.enableNativeFunctionCalling]: expected value of type [boolean]"
        if "contextWindowLength" in config and not isinstance(config["contextWindowLength"], int):
            return "[config.contextWindowLength]: expected value of type [number]"
        if not isinstance(secrets, dict) or not isinstance(secrets.get("apiKey"), str):
            return "[secrets.apiKey]: expected value of type [string]"
        return None

    def route(self, method, parts, body):
        if method == "GET" and parts == ["api", "status"]:
            return 200, {"name": "fake", "version": {"number": "9.4.0"}, "status": {"overall": {"level": "available"}}}
        if method == "GET" and parts == ["api", "actions", "connectors"]:
            return 200, [self.public(cid) for cid in self.connectors]
        if parts[:3] != ["api", "actions", "connector"]:
            return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}
        body = body or {}
        if method == "POST" and len(parts) == 3:
            if body.get("connector_type_id") != ".gen-ai" or not isinstance(body.get("name"), str):
                return 400, {"statusCode": 400, "error": "Bad Request", "message": "[request body.connector_type_id]: expected .gen-ai here"}
            problem = self.check_config(body.get("config"), body.get("secrets"))
            if problem:
                return 400, {"statusCode": 400, "error": "Bad Request", "message": f"error validating action type config: {problem}"}
            cid = str(uuid.uuid4())
            self.connectors[cid] = {"name": body["name"], "connector_type_id": ".gen-ai", "config": body["config"], "secrets": body["secrets"]}
            return 200, self.public(cid)
        cid = parts[3] if len(parts) > 3 else None
        if cid not in self.connectors:
            return 404, {"statusCode": 404, "error": "Not Found", "message": f"Saved object [action/{cid}] not found"}
        if method == "PUT" and len(parts) == 4:
            if "connector_type_id" in body:
                return 400, {"statusCode": 400, "error": "Bad Request", "message": "[request body.connector_type_id]: definition for this key is missing"}
            problem = self.check_config(body.get("config"), body.get("secrets"))
            if problem:
                return 400, {"statusCode": 400, "error": "Bad Request", "message": f"error validating action type config: {problem}"}
            self.connectors[cid].update(name=body["name"], config=body["config"], secrets=body["secrets"])
            return 200, self.public(cid)
        if method == "DELETE" and len(parts) == 4:
            del self.connectors[cid]
            return 204, {}
        if method == "POST" and parts[4:] == ["_execute"]:
            return 200, self.execute(cid, (body.get("params") or {}))
        return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}

    def execute(self, cid, params):
        c = self.connectors[cid]
        failed = lambda message: {"status": "error", "connector_id": cid, "message": "an error occurred while running the action",
                                  "service_message": message, "retry": False}
        if params.get("subAction") != "run":
            return failed("this fake runs the run sub-action only")
        request = json.loads(params["subActionParams"]["body"])
        request.setdefault("model", c["config"]["defaultModel"])
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {c['secrets']['apiKey']}"}
        self.sent.append((c["config"]["apiUrl"], headers, request))
        try:
            with urllib.request.urlopen(urllib.request.Request(c["config"]["apiUrl"], data=json.dumps(request).encode(), headers=headers),
                                        timeout=120) as r:
                reply = json.loads(r.read())
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            try:
                message = json.loads(text)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = text
            return failed(f"Status code: {e.code}. Message: API Error: {message}")
        except OSError as e:
            return failed(str(e))
        problem = check_reply(reply)
        return failed(problem) if problem else {"status": "ok", "connector_id": cid, "data": reply}
