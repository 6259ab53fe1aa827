"""Observability of a running service: Prometheus `/metrics` (requests by route and status, tokens, time
to first token, inter-token latency, queue, KV-cache pages, loaded models), `/ready` and `X-Request-Id`."""
import json, os, re, urllib.error, urllib.request
import pytest
from conftest import SMOL, free_port, serve, wick

KEY = "metrics-key"
MODEL = "smollm2-135m-instruct-q4_1"


def get(base, path, key=KEY):
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def chat(base, stream, request_id=None):
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    if request_id:
        headers["X-Request-Id"] = request_id
    req = urllib.request.Request(base + "/v1/chat/completions", headers=headers, data=json.dumps(
        {"stream": stream, "max_tokens": 6, "temperature": 0, "messages": [{"role": "user", "content": "Say hello."}]}).encode())
    with urllib.request.urlopen(req, timeout=300) as r:
        return dict(r.headers), r.read().decode()


def samples(text):
    """Prometheus text exposition parsed into {(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(s, name, **labels):
    matches = [v for (n, ls), v in s.items() if n == name and set(labels.items()) <= set(ls)]
    assert matches, f"no {name} with {labels}"
    return sum(matches)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = dict(os.environ, WICK_API_KEY=KEY, WICK_HOME=str(tmp_path_factory.mktemp("home")))
    proc, base = serve(["--model", SMOL, "--max-queued", "4"], env)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def test_ready_and_request_ids(server):
    status, headers, body = get(server, "/ready", key=None)  # open to probes, like /health
    assert status == 200 and json.loads(body)["status"] == "ready"
    headers, _ = chat(server, stream=False, request_id="kibana-conversation-7")
    assert headers["X-Request-Id"] == "kibana-conversation-7"
    headers, _ = chat(server, stream=True)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", headers["X-Request-Id"])


def test_metrics_count_requests_tokens_and_latencies(server):
    assert get(server, "/metrics", key=None)[0] == 401  # the API's keys guard it
    before = samples(get(server, "/metrics")[2])
    _, plain = chat(server, stream=False)
    chat(server, stream=True)
    status, headers, text = get(server, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    after = samples(text)

    def grew(name, **labels):
        return value(after, name, **labels) - (value(before, name, **labels) if any(n == name for n, _ in before) else 0)

    usage = json.loads(plain)["usage"]
    assert grew("hb_requests", http_route="/v1/chat/completions", http_response_status_code="200") == 2
    assert grew("wick_generations_total", model=MODEL) == 2
    assert grew("wick_prompt_tokens_total", model=MODEL) == 2 * usage["prompt_tokens"]
    assert grew("wick_generated_tokens_total", model=MODEL) == 2 * usage["completion_tokens"]
    # The second request's prompt was the first's: its prefix came from the cache.
    assert grew("wick_prompt_cached_tokens_total", model=MODEL) >= usage["prompt_tokens"] - 64
    assert grew("wick_time_to_first_token_seconds_count", model=MODEL) == 2
    assert value(after, "wick_time_to_first_token_seconds_sum", model=MODEL) > 0
    assert grew("wick_inter_token_latency_seconds_count", model=MODEL) == 2
    assert value(after, "wick_loaded_models") == 1 and value(after, "wick_queue_depth") == 0
    pages = {state: value(after, "wick_kv_cache_pages", model=MODEL, state=state) for state in ["used", "cached", "free"]}
    # The finished conversations' pages stay with their sequences (kept for a follow-up turn) or cached.
    assert pages["used"] + pages["cached"] >= 1 and pages["free"] > 0


def test_json_log_lines_carry_the_request_id(tmp_path):
    port = free_port()
    assert wick(tmp_path, "server", "start", "--port", str(port), "--model", SMOL, "--log-format", "json")[0] == 0
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models", headers={"X-Request-Id": "probe-31"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.headers["X-Request-Id"] == "probe-31"
    finally:
        wick(tmp_path, "server", "stop")
    lines = [json.loads(line) for line in (tmp_path / "logs" / "server.log").read_text().splitlines() if line.strip()]  # every one
    assert any(l["logger"] == "wick.server" and l["message"].startswith("serving on http://") for l in lines)
    [request] = [l for l in lines if l.get("request_id") == "probe-31"]
    assert request["message"].startswith("GET /v1/models 200 in ") and request["level"] == "info" and request["time"].endswith("Z")
