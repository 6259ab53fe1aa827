"""Elasticsearch's inference endpoints (service `openai`) in front of a real Wick on each test model:
the fake Elasticsearch creates the endpoints (validating them with a call, as Elasticsearch does),
then sends chat, completion and embeddings calls with the bodies Elasticsearch writes and parses the
replies with its strictness (../shared/elastic/README.md)."""
import json, os, urllib.request
import pytest
from conftest import MODELS, serve
from fake_elasticsearch import FakeElasticsearch

KEY = "wick-key-for-es"
MODELS_UNDER_TEST = {  # file stem -> embedding size
    "smollm2-135m-instruct-q4_1": 576,
    "gemma-3-270m-q4_k_m": 640,
    "qwen2.5-coder-0.5b-instruct-q4_k_m": 896,
}
LOOKUP = {"type": "function", "function": {"name": "lookup_host"}}  # no description, no parameters: sent as null
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@pytest.fixture(scope="module", params=list(MODELS_UNDER_TEST))
def wick_server(request, tmp_path_factory):
    env = dict(os.environ, WICK_API_KEY=KEY, WICK_HOME=str(tmp_path_factory.mktemp("home")))
    proc, base = serve(["--model", os.path.join(MODELS, request.param + ".gguf"), "--context-length", "2048", "--parallel", "2"], env)
    yield base, request.param
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def es():
    fake = FakeElasticsearch()
    yield fake
    fake.close()


def es_call(es, method, path, body=None):
    request = urllib.request.Request(es.url + path, data=None if body is None else json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json", "Authorization": f"ApiKey {es.api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=600) as r:
            raw = r.read().decode()
            if r.headers.get("Content-Type", "").startswith("text/event-stream"):
                return r.status, [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ") and line != "data: [DONE]"]
            return r.status, json.loads(raw)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())


def create(es, wick_server, task, inference_id, **settings):
    base, model = wick_server
    path = "/v1/embeddings" if task == "text_embedding" else "/v1/chat/completions"
    return es_call(es, "PUT", f"/_inference/{task}/{inference_id}",
                   {"service": "openai", "service_settings": {"api_key": KEY, "model_id": model, "url": base + path, **settings}})


def streamed(chunks):
    content, calls = "", {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            content += choice["delta"].get("content") or ""
            for call in choice["delta"].get("tool_calls") or []:
                merged = calls.setdefault(call["index"], {"name": "", "arguments": ""})
                merged["name"] += (call.get("function") or {}).get("name") or ""
                merged["arguments"] += (call.get("function") or {}).get("arguments") or ""
    return content, [calls[i] for i in sorted(calls)]


def test_chat_completion_endpoint_streams_text_tools_and_tool_results(es, wick_server):
    model = wick_server[1]
    status, endpoint = create(es, wick_server, "chat_completion", "wick-chat")
    assert status == 200, endpoint
    # The validation call went out as Elasticsearch writes it: n, stream_options, max_completion_tokens never max_tokens.
    url, sent = es.sent[-1]
    assert url.endswith("/v1/chat/completions") and sent["n"] == 1 and sent["stream"] and sent["stream_options"] == {"include_usage": True}
    assert "max_tokens" not in sent

    status, chunks = es_call(es, "POST", "/_inference/chat_completion/wick-chat/_stream",
                             {"messages": [{"role": "system", "content": "You are terse."},
                                           {"role": "user", "content": [{"type": "text", "text": "Name a color."}]}],
                              "max_completion_tokens": 16})
    assert status == 200
    content, _ = streamed(chunks)
    assert content.strip()
    usage = [c["usage"] for c in chunks if c.get("usage")]
    assert usage and usage[-1]["completion_tokens"] > 0 and usage[-1]["total_tokens"] == usage[-1]["prompt_tokens"] + usage[-1]["completion_tokens"]

    # A tool without description or parameters is sent with both null; every chunk of the reply
    # passes Elasticsearch's parser.
    status, chunks = es_call(es, "POST", "/_inference/chat_completion/wick-chat/_stream",
                             {"messages": [{"role": "user", "content": "Look up the host web-1."}], "tools": [LOOKUP, WEATHER]})
    assert status == 200, chunks
    assert es.sent[-1][1]["tools"][0]["function"] == {"name": "lookup_host", "description": None, "parameters": None}
    # A forced call streams as tool-call deltas with their index; constrained decoding makes its
    # arguments valid JSON for the tool's schema on every model.
    status, chunks = es_call(es, "POST", "/_inference/chat_completion/wick-chat/_stream",
                             {"messages": [{"role": "user", "content": "What is the weather in Paris?"}], "tools": [WEATHER],
                              "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    assert status == 200, chunks
    _, calls = streamed(chunks)
    assert calls and calls[0]["name"] == "get_weather"
    assert isinstance(json.loads(calls[0]["arguments"]).get("city"), str)

    # The tool-result turn: the assistant message carries only tool_calls (no content key).
    status, chunks = es_call(es, "POST", "/_inference/chat_completion/wick-chat/_stream",
                             {"messages": [{"role": "user", "content": "What is the weather in Paris?"},
                                           {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                                                                  "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                                           {"role": "tool", "tool_call_id": "call_1", "content": "{\"celsius\": 21, \"sky\": \"clear\"}"}],
                              "tools": [WEATHER], "max_completion_tokens": 24})
    assert status == 200, chunks
    assert "content" not in es.sent[-1][1]["messages"][1]
    content, calls = streamed(chunks)
    assert content.strip() or calls


def test_completion_task_stricter_stream_and_body(es, wick_server):
    status, endpoint = create(es, wick_server, "completion", "wick-completion")
    assert status == 200, endpoint
    status, chunks = es_call(es, "POST", "/_inference/completion/wick-completion/_stream", {"input": "Say hello."})
    assert status == 200, chunks
    assert all(isinstance(c["choices"], list) for c in chunks)  # the usage chunk too
    status, reply = es_call(es, "POST", "/_inference/completion/wick-completion", {"input": "Say hello."})
    assert status == 200 and isinstance(reply["completion"][0]["result"], str)
    # No tools and no length limit in what Elasticsearch sent.
    sent = es.sent[-1][1]
    assert "tools" not in sent and "max_completion_tokens" not in sent and len(sent["messages"]) == 1


@pytest.mark.parametrize("base64", [True, False])
def test_text_embedding_endpoint(es, wick_server, base64):
    es.base64_embeddings = base64  # older releases send no encoding_format and read float arrays
    size = MODELS_UNDER_TEST[wick_server[1]]
    status, endpoint = create(es, wick_server, "text_embedding", "wick-embed")
    assert status == 200, endpoint
    assert endpoint["service_settings"]["dimensions"] == size and es.sent[-1][1]["input"] == ["how big"]
    assert ("encoding_format" in es.sent[-1][1]) == base64
    texts = ["The cluster is healthy.", "Disk usage is at ninety percent.", "def f(x): return x"]
    status, reply = es_call(es, "POST", "/_inference/text_embedding/wick-embed", {"input": texts})
    assert status == 200, reply
    vectors = [item["embedding"] for item in reply["text_embedding"]]
    assert len(vectors) == 3 and all(len(v) == size for v in vectors)
    # Order kept: each vector equals the one computed for its text alone.
    for text, vector in zip(texts, vectors):
        _, alone = es_call(es, "POST", "/_inference/text_embedding/wick-embed", {"input": [text]})
        assert max(abs(a - b) for a, b in zip(alone["text_embedding"][0]["embedding"], vector)) < 1e-4


def test_embedding_dimensions_equal_to_the_model_accepted_other_sizes_refused(es, wick_server):
    size = MODELS_UNDER_TEST[wick_server[1]]
    status, endpoint = create(es, wick_server, "text_embedding", "wick-sized", dimensions=size)
    assert status == 200, endpoint
    assert es.sent[-1][1]["dimensions"] == size
    status, error = create(es, wick_server, "text_embedding", "wick-wrong-size", dimensions=size // 2)
    assert status == 400
    assert f"have {size} dimensions" in error["error"]["reason"] and "wick-wrong-size" not in es.endpoints


def test_overflow_errors_speak_each_clients_language(es, wick_server):
    status, _ = create(es, wick_server, "text_embedding", "wick-embed")
    assert status == 200
    long_text = " ".join(["the"] * 3000)  # past the 2048-token context; half of it fits
    status, reply = es_call(es, "POST", "/_inference/text_embedding/wick-embed", {"input": [long_text]})
    # Elasticsearch read "content too large", truncated the input and succeeded on its retry.
    assert status == 200 and es.retries == 1, reply
    status, _ = create(es, wick_server, "chat_completion", "wick-chat")
    assert status == 200
    status, error = es_call(es, "POST", "/_inference/chat_completion/wick-chat/_stream",
                            {"messages": [{"role": "user", "content": long_text}]})
    # Chat keeps the wording Kibana recognises: a plain bad request for Elasticsearch.
    assert status == 400 and "maximum context length" in error["error"]["reason"] and "(bad_request)" in error["error"]["reason"]


def test_wrong_key_and_unknown_model_are_clear_errors(es, wick_server):
    base, model = wick_server
    status, error = es_call(es, "PUT", "/_inference/chat_completion/bad-key",
                            {"service": "openai", "service_settings": {"api_key": "wrong", "model_id": model, "url": base + "/v1/chat/completions"}})
    assert status == 400 and "unauthorized" in error["error"]["reason"] and "bad-key" not in es.endpoints
    status, error = es_call(es, "PUT", "/_inference/chat_completion/bad-model",
                            {"service": "openai", "service_settings": {"api_key": KEY, "model_id": "no-such-model", "url": base + "/v1/chat/completions"}})
    assert status == 400 and "no-such-model" in error["error"]["reason"]
