"""Constrained decoding on every test model, through the real server and the OpenAI SDK: forced tool
calls and `response_format` JSON are valid by construction (small models write broken JSON without
it), and schema features outside the supported subset are a 400 naming them."""
import json, os, re
import openai
import pytest
from conftest import MODELS, serve

FILES = ["smollm2-135m-instruct-q4_1", "gemma-3-270m-q4_k_m", "qwen2.5-coder-0.5b-instruct-q4_k_m"]

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "The city", "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer"}},
        "required": ["city", "unit"], "additionalProperties": False}}}
TITLE = {"type": "function", "function": {
    "name": "title_conversation", "description": "Give the conversation a short title",
    "parameters": {"type": "object", "properties": {"title": {"type": "string", "maxLength": 60}}, "required": ["title"]}}}

PERSON = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 40},
    "age": {"type": "integer"},
    "languages": {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 1, "maxItems": 3},
    "employed": {"type": "boolean"}},
    "required": ["name", "age", "languages", "employed"], "additionalProperties": False}


@pytest.fixture(scope="module", params=FILES)
def model(request, tmp_path_factory):
    env = dict(os.environ, WICK_HOME=str(tmp_path_factory.mktemp("home")))
    proc, base = serve(["--model", os.path.join(MODELS, request.param + ".gguf"), "--context-length", "2048"], env)
    yield openai.OpenAI(base_url=base + "/v1", api_key="none", timeout=300), request.param
    proc.terminate()
    proc.wait(timeout=20)


def check_weather(arguments):
    args = json.loads(arguments)
    assert set(args) <= {"city", "unit", "days"} and {"city", "unit"} <= set(args), args
    assert isinstance(args["city"], str) and len(args["city"]) <= 40
    assert args["unit"] in ("celsius", "fahrenheit")
    assert "days" not in args or isinstance(args["days"], int)


def test_forced_calls_are_valid_on_every_model(model):
    client, name = model
    messages = [{"role": "user", "content": "What's the weather like in Paris this week?"}]
    named = client.chat.completions.create(model=name, temperature=0, messages=messages, tools=[WEATHER, TITLE],
                                           tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert named.choices[0].finish_reason == "tool_calls", named
    call = named.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    check_weather(call.function.arguments)

    required = client.chat.completions.create(model=name, temperature=0, messages=messages, tools=[WEATHER, TITLE], tool_choice="required")
    assert required.choices[0].finish_reason == "tool_calls", required
    call = required.choices[0].message.tool_calls[0]
    if call.function.name == "get_weather":
        check_weather(call.function.arguments)
    else:
        assert call.function.name == "title_conversation"
        assert isinstance(json.loads(call.function.arguments)["title"], str)


def test_kibana_title_request_always_gets_its_call(model):
    # Kibana titles a conversation with a non-streamed request that names the only tool.
    client, name = model
    messages = [{"role": "system", "content": "You are a helpful assistant for Elastic Observability. Give the conversation a title."},
                {"role": "user", "content": "Why is my Kubernetes pod restarting with OOMKilled errors?"},
                {"role": "assistant", "content": "The container exceeds its memory limit; raise the limit or reduce usage."}]
    for temperature, seed in [(0, None), (1, 1), (1, 2), (1, 3)]:
        r = client.chat.completions.create(model=name, temperature=temperature, seed=seed, messages=messages, tools=[TITLE],
                                           tool_choice={"type": "function", "function": {"name": "title_conversation"}})
        assert r.choices[0].finish_reason == "tool_calls", r
        call = r.choices[0].message.tool_calls[0]
        title = json.loads(call.function.arguments)["title"]
        assert call.function.name == "title_conversation" and isinstance(title, str) and len(title) <= 60


def test_forced_call_streams_valid_arguments(model):
    client, name = model
    stream = client.chat.completions.create(model=name, temperature=0, stream=True, tools=[WEATHER],
                                            messages=[{"role": "user", "content": "Weather in Oslo, in celsius?"}],
                                            tool_choice={"type": "function", "function": {"name": "get_weather"}})
    arguments, names, finish, pieces = "", "", None, 0
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                names += delta.function.name or ""
                arguments += delta.function.arguments or ""
                pieces += 1 if delta.function.arguments else 0
            finish = choice.finish_reason or finish
    assert names == "get_weather" and finish == "tool_calls"
    check_weather(arguments)
    # The arguments stream as the model writes them, not as one piece at the end.
    assert pieces > 3, pieces


def check_person(text):
    person = json.loads(text)
    assert set(person) == {"name", "age", "languages", "employed"}, person
    assert isinstance(person["name"], str) and isinstance(person["age"], int) and isinstance(person["employed"], bool)
    assert 1 <= len(person["languages"]) <= 3 and all(isinstance(x, str) for x in person["languages"])


def test_json_schema_replies_fit_the_schema(model):
    client, name = model
    messages = [{"role": "user", "content": "Describe a fictional software engineer as JSON."}]
    reply = client.chat.completions.create(model=name, temperature=0, messages=messages,
                                           response_format={"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": PERSON}})
    assert reply.choices[0].finish_reason == "stop"
    check_person(reply.choices[0].message.content)
    # Streamed, the pieces add up to the same kind of document.
    stream = client.chat.completions.create(model=name, temperature=0.7, seed=3, messages=messages, stream=True,
                                            response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}})
    check_person("".join(c.choices[0].delta.content or "" for c in stream if c.choices))


def test_json_object_replies_are_objects(model):
    client, name = model
    reply = client.chat.completions.create(model=name, temperature=0, max_tokens=400, response_format={"type": "json_object"},
                                           messages=[{"role": "user", "content": "Return a JSON object with the keys city and country for Paris."}])
    content = reply.choices[0].message.content
    # Gemma 270M keeps adding keys until the limit, where the object is closed (finish_reason
    # "length"); the others close it themselves and stop.
    assert isinstance(json.loads(content), dict), content
    if name != "gemma-3-270m-q4_k_m":
        assert reply.choices[0].finish_reason == "stop", reply


EXECUTE = {"type": "function", "function": {
    "name": "execute_connector", "description": "Run a connector with free-form parameters",
    "parameters": {"type": "object", "properties": {"id": {"type": "string"}, "params": {"type": "object"}}, "required": ["id", "params"]}}}


def test_replies_cut_by_max_tokens_still_parse(model):
    # A reply that would run past max_tokens is closed with the shortest valid ending in its last
    # tokens: a call with free-form arguments, and JSON content (reported as cut: "length").
    client, name = model
    for max_tokens, seed in [(24, 1), (40, 2), (60, 3)]:
        r = client.chat.completions.create(
            model=name, temperature=1, seed=seed, max_tokens=max_tokens, tools=[EXECUTE],
            tool_choice={"type": "function", "function": {"name": "execute_connector"}},
            messages=[{"role": "user", "content": "Send a Slack message listing every one of our 40 servers with its full configuration."}])
        assert r.choices[0].finish_reason == "tool_calls", r
        arguments = json.loads(r.choices[0].message.tool_calls[0].function.arguments)
        assert isinstance(arguments["id"], str) and isinstance(arguments["params"], dict), arguments
        assert r.usage.completion_tokens <= max_tokens, r.usage
    r = client.chat.completions.create(model=name, temperature=0, max_tokens=30, response_format={"type": "json_object"},
                                       messages=[{"role": "user", "content": "Return a JSON object mapping 50 countries to their capitals."}])
    content = r.choices[0].message.content
    assert isinstance(json.loads(content), dict), content
    assert r.choices[0].finish_reason in ("length", "stop") and r.usage.completion_tokens <= 30, r


def test_schemas_outside_the_subset_are_refused_by_name(model):
    client, name = model
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}],
                                       response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": {
                                           "type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}}})
    assert "'minimum'" in refused.value.body["message"] and refused.value.body["param"] == "response_format"
    with pytest.raises(openai.BadRequestError) as refused:
        bad = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(?=a)"}}}}}
        client.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}], tools=[bad], tool_choice="required")
    assert "'pattern'" in refused.value.body["message"] and "lookaround" in refused.value.body["message"]


def test_patterns_hold_string_values(model):
    client, name = model
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"}}, "required": ["code"],
              "additionalProperties": False}
    reply = client.chat.completions.create(model=name, temperature=0, messages=[{"role": "user", "content": "Invent a product code."}],
                                           response_format={"type": "json_schema", "json_schema": {"name": "code", "schema": schema}})
    code = json.loads(reply.choices[0].message.content)["code"]
    assert re.fullmatch(r"[A-Z]{3}-[0-9]{2}", code), code
