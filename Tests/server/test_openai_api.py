"""Drives a real `wick server` with the official OpenAI Python SDK and replays Kibana's requests.
Run by scripts/test: WICK_BIN is the release binary, WICK_TEST_MODELS the model cache."""
import http.client, json, os, time, urllib.request
import openai
import pytest
from conftest import serve

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_FILE = os.path.join(os.environ.get("WICK_TEST_MODELS") or os.path.expanduser("~/.cache/wick/test-models"),
                          "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
MODEL_ID = "qwen2.5-coder-0.5b-instruct-q4_k_m"
KEY = "test-key"
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city"}}, "required": ["city"]}}}


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    # The key comes from the environment (argv is visible to every user); an empty store of its own.
    env = dict(os.environ, WICK_API_KEY=KEY, WICK_HOME=str(tmp_path_factory.mktemp("home")))
    proc, base = serve(["--model", MODEL_FILE, "--context-length", "4096", "--max-queued", "2"], env)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key=KEY, timeout=300)


def post(server, path, body, key=KEY):
    req = urllib.request.Request(server + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, r.read().decode(), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type")


def no_nulls_in_typed_fields(reply):
    for key in ["id", "object", "created", "model"]:
        assert reply.get(key) is not None, key
    for choice in reply.get("choices", []):
        assert choice.get("index") is not None and choice.get("finish_reason") is not None


def test_plain_chat(client):
    r = client.chat.completions.create(model=MODEL_ID, temperature=0, messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France? Answer in one word."}])
    assert "Paris" in r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 10 and r.usage.completion_tokens >= 1
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.object == "chat.completion" and r.id and r.created and r.system_fingerprint


def test_streamed_chat(client):
    chunks = list(client.chat.completions.create(model=MODEL_ID, temperature=0, stream=True, stream_options={"include_usage": True},
                                                 messages=[{"role": "user", "content": "Say hello in French."}]))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text) > 0
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_tool_round_trip(client):
    messages = [{"role": "user", "content": "What is the weather in Paris right now?"}]
    r = client.chat.completions.create(model=MODEL_ID, temperature=0, messages=messages, tools=[WEATHER])
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] == "Paris"
    messages.append({"role": "assistant", "content": None, "tool_calls": [call.model_dump()]})
    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature_c": 18, "sky": "sunny"})})
    final = client.chat.completions.create(model=MODEL_ID, temperature=0, messages=messages, tools=[WEATHER])
    answer = final.choices[0].message.content
    assert final.choices[0].finish_reason == "stop" and "18" in answer


def test_streamed_tool_call_deltas(client):
    stream = client.chat.completions.create(model=MODEL_ID, temperature=0, stream=True, tools=[WEATHER],
                                            messages=[{"role": "user", "content": "Weather in Berlin?"}])
    names, args, ids, finish = "", "", "", None
    for c in stream:
        d = c.choices[0].delta if c.choices else None
        for tc in (d.tool_calls or []) if d else []:
            assert tc.index == 0
            ids += tc.id or ""
            names += (tc.function.name or "") if tc.function else ""
            args += (tc.function.arguments or "") if tc.function else ""
        if c.choices and c.choices[0].finish_reason:
            finish = c.choices[0].finish_reason
    assert names == "get_weather" and ids.startswith("call_") and json.loads(args)["city"] == "Berlin"
    assert finish == "tool_calls"


def test_completions_and_models(client):
    r = client.completions.create(model=MODEL_ID, prompt="The capital of France is", max_tokens=4, temperature=0)
    assert "Paris" in r.choices[0].text
    models = client.models.list()
    assert [m.id for m in models.data] == [MODEL_ID]


def test_errors(server, client):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server + "/v1", api_key="wrong").chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "hi"}], temperature="hot")
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "word " * 5000}])
    assert "maximum context length is 4096 tokens" in e.value.body["message"]
    status, body, kind = post(server, "/v1/chat/completions", {"messages": []})
    assert status == 400 and json.loads(body)["error"]["type"] == "invalid_request_error"
    status, body, _ = post(server, "/v1/unknown", {})
    assert status == 404 and "error" in json.loads(body)
    with urllib.request.urlopen(server + "/health") as r:
        assert r.status == 200  # no key needed


HUGE_NUMBERS = ["1e20", "-1e20", "1180591620717411303424", "1e999", "9223372036854775808"]


def post_raw(server, path, text):
    req = urllib.request.Request(server + path, data=text.encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_numbers_beyond_range_are_400_on_every_route(server):
    """Each numeric field holding a number no integer type holds is a 400 naming it, and the server lives on."""
    routes = {
        "/v1/chat/completions": ('"messages":[{"role":"user","content":"hi"}]',
                                 ["max_tokens", "max_completion_tokens", "seed", "top_k", "n", "top_logprobs", "temperature"]),
        "/v1/completions": ('"prompt":"hi"', ["max_tokens", "seed", "top_k", "n", "temperature", "top_p"]),
        "/v1/embeddings": ('"input":"hi"', ["dimensions"]),
    }
    for path, (base, fields) in routes.items():
        for field in fields:
            for value in HUGE_NUMBERS:
                status, body = post_raw(server, path, "{%s,\"model\":\"%s\",\"%s\":%s}" % (base, MODEL_ID, field, value))
                assert status == 400, (path, field, value, body)
                assert json.loads(body)["error"]["param"] == field, (path, field, value, body)
    status, body = post_raw(server, "/v1/embeddings", '{"input":[1e20]}')
    assert status == 400 and json.loads(body)["error"]["param"] == "input"
    with urllib.request.urlopen(server + "/health") as r:
        assert r.status == 200


def test_prefix_reuse_reports_cached_tokens(client):
    system = "You are an observability assistant. " * 40
    first = client.chat.completions.create(model=MODEL_ID, temperature=0, max_tokens=8, messages=[
        {"role": "system", "content": system}, {"role": "user", "content": "Hello"}])
    second = client.chat.completions.create(model=MODEL_ID, temperature=0, max_tokens=8, messages=[
        {"role": "system", "content": system}, {"role": "user", "content": "Hello again"}])
    assert second.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens - 10


def test_embeddings(client):
    texts = ["Paris is the capital of France.", "The capital of France is Paris.", "def add(a, b):\n    return a + b"]
    r = client.embeddings.create(model=MODEL_ID, input=texts)  # the SDK asks for base64 and decodes it
    vectors = [d.embedding for d in sorted(r.data, key=lambda d: d.index)]
    assert len(vectors) == 3 and all(len(v) == 896 for v in vectors)
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))
    assert all(abs(dot(v, v) - 1) < 1e-3 for v in vectors)
    assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2])
    assert r.usage.prompt_tokens == r.usage.total_tokens > 10
    floats = client.embeddings.create(model=MODEL_ID, input=texts[0], encoding_format="float")
    assert max(abs(a - b) for a, b in zip(floats.data[0].embedding, vectors[0])) < 1e-5
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=MODEL_ID, input=[[10**9]])
    assert e.value.body["param"] == "input"


def test_tool_choice_forces_a_call(client):
    messages = [{"role": "user", "content": "Tell me a joke about cats."}]
    named = client.chat.completions.create(model=MODEL_ID, temperature=0, messages=messages, tools=[WEATHER],
                                           tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert named.choices[0].finish_reason == "tool_calls"
    assert named.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert isinstance(json.loads(named.choices[0].message.tool_calls[0].function.arguments), dict)
    required = client.chat.completions.create(model=MODEL_ID, temperature=0, messages=messages, tools=[WEATHER], tool_choice="required")
    assert required.choices[0].message.tool_calls[0].function.name == "get_weather"
    # Among several tools the model picks, but only among their names.
    search = {"type": "function", "function": {"name": "search_jokes", "description": "Find jokes about a topic",
              "parameters": {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]}}}
    picked = client.chat.completions.create(model=MODEL_ID, temperature=0, messages=messages, tools=[WEATHER, search], tool_choice="required")
    assert picked.choices[0].finish_reason == "tool_calls"
    assert picked.choices[0].message.tool_calls[0].function.name in ("get_weather", "search_jokes")
    assert isinstance(json.loads(picked.choices[0].message.tool_calls[0].function.arguments), dict)
    plain = client.chat.completions.create(model=MODEL_ID, temperature=0, max_tokens=40, tool_choice="none", tools=[WEATHER],
                                           messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    assert not plain.choices[0].message.tool_calls


def test_logprobs(client):
    r = client.chat.completions.create(model=MODEL_ID, temperature=0, max_tokens=6, logprobs=True, top_logprobs=3,
                                       messages=[{"role": "user", "content": "Count from 1 to 10."}])
    entries = r.choices[0].logprobs.content
    assert len(entries) == r.usage.completion_tokens
    assert "".join(e.token for e in entries) == r.choices[0].message.content
    for e in entries:
        assert len(e.top_logprobs) == 3 and e.logprob <= 0
        assert e.top_logprobs[0].token == e.token and abs(e.top_logprobs[0].logprob - e.logprob) < 1e-6  # greedy


def test_degenerate_loop_is_stopped(client):
    # No max_tokens: the reply may run to the end of the context, unless it loops.
    r = client.completions.create(model=MODEL_ID, prompt="a " * 64, temperature=0)
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens < 400


def test_disconnect_stops_generation_and_full_queue_is_503(server, client):
    body = {"model": MODEL_ID, "prompt": "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", "max_tokens": 3000,
            "temperature": 0, "stream": True}
    def start_stream():
        conn = http.client.HTTPConnection(server.removeprefix("http://"), timeout=300)
        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
        return conn
    first = start_stream()
    response = first.getresponse()
    assert response.status == 200
    assert response.readline()  # the stream is under way
    second = start_stream()  # waits in the queue behind the first
    time.sleep(0.5)
    status, text, _ = post(server, "/v1/completions", {"model": MODEL_ID, "prompt": "hi", "max_tokens": 1})
    assert status == 503 and json.loads(text)["error"]["code"] == "queue_full"
    first.close()
    second.close()
    # Both generations stop at once: 3000 tokens would take the 0.5B model far longer than this.
    started = time.time()
    r = client.completions.create(model=MODEL_ID, prompt="The capital of France is", max_tokens=2, temperature=0)
    assert r.choices[0].text and time.time() - started < 20


def kibana_body(name):
    body = json.load(open(os.path.join(HERE, "fixtures", name)))
    body["model"] = MODEL_ID
    return body


def test_kibana_connector_test_request(server):
    status, text, kind = post(server, "/v1/chat/completions", kibana_body("connector-test.json"))
    assert status == 200 and kind.startswith("application/json")
    reply = json.loads(text)
    no_nulls_in_typed_fields(reply)
    for key in ["prompt_tokens", "completion_tokens", "total_tokens"]:
        assert isinstance(reply["usage"][key], int)
    assert reply["choices"][0]["message"]["role"] == "assistant"
    assert reply["choices"][0]["finish_reason"] != "length"


def test_kibana_first_turn_stream(server):
    body = kibana_body("obs-ai-assistant-first-turn-native-tools.json")
    tools = {t["function"]["name"]: t["function"] for t in body["tools"]}
    status, text, kind = post(server, "/v1/chat/completions", body)
    assert status == 200 and kind.startswith("text/event-stream")
    calls, content, finish = {}, "", None
    for line in text.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        assert "error" not in chunk, chunk
        assert chunk["object"] == "chat.completion.chunk"
        for choice in chunk["choices"]:
            assert "delta" in choice
            delta = choice["delta"]
            content += delta.get("content") or ""
            for tc in delta.get("tool_calls") or []:
                merged = calls.setdefault(tc["index"], {"id": "", "name": "", "arguments": ""})
                merged["id"] += tc.get("id") or ""
                merged["name"] += (tc.get("function") or {}).get("name") or ""
                merged["arguments"] += (tc.get("function") or {}).get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    assert finish in ("stop", "tool_calls")
    for call in calls.values():
        assert call["name"] in tools
        assert isinstance(json.loads(call["arguments"]), dict)
    assert "<tool_call>" not in content


def test_ignore_eos_generates_to_the_limit(client):
    # Without it the model ends its one-word answer at once; with it (llama.cpp's extension) it runs to max_tokens.
    ask = dict(model=MODEL_ID, temperature=0, max_tokens=40,
               messages=[{"role": "user", "content": "Answer with one word: what color is the sky?"}])
    assert client.chat.completions.create(**ask).usage.completion_tokens < 40
    r = client.chat.completions.create(**ask, extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 40 and r.choices[0].finish_reason == "length"
