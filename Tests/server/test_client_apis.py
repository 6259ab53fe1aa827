"""The APIs beside chat completions, driven by their official clients, unmodified, against the real
server on the Qwen test model: OpenAI's Responses API (`openai`), Anthropic's Messages API
(`anthropic`, which sends its key as x-api-key) and Ollama's API (`ollama`)."""
import json, os
import anthropic
import ollama
import openai
import pytest
from conftest import QWEN, serve

KEY = "client-key"
MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"
CAPITAL = "What is the capital of France? Answer in one word."
# Anthropic's current SDK has no sampling parameters; older clients send `temperature`, which is read.
GREEDY = {"temperature": 0}
WEATHER_PARAMETERS = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"],
                      "additionalProperties": False}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    env = dict(os.environ, WICK_API_KEY=KEY, WICK_HOME=str(tmp_path_factory.mktemp("home")))
    proc, url = serve(["--model", QWEN, "--context-length", "4096"], env)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def openai_client(base):
    return openai.OpenAI(base_url=base + "/v1", api_key=KEY, timeout=300)


@pytest.fixture
def anthropic_client(base):
    return anthropic.Anthropic(base_url=base, api_key=KEY, timeout=300)


@pytest.fixture
def ollama_client(base):
    return ollama.Client(host=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=300)


def city_of(arguments):
    args = json.loads(arguments) if isinstance(arguments, str) else arguments
    assert set(args) == {"city"} and isinstance(args["city"], str)
    return args["city"]


# OpenAI Responses

def test_responses_plain_and_streamed(openai_client):
    r = openai_client.responses.create(model=MODEL, input=CAPITAL, instructions="You are a helpful assistant.", temperature=0)
    assert r.status == "completed" and "Paris" in r.output_text
    assert r.usage.input_tokens > 10 and r.usage.output_tokens >= 1
    deltas = []
    with openai_client.responses.stream(model=MODEL, input=CAPITAL, temperature=0) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text and "Paris" in final.output_text
    assert openai_client.responses.retrieve(final.id).output_text == final.output_text


def test_responses_function_round_trip_with_previous_response(openai_client):
    tools = [{"type": "function", "name": "get_weather", "description": "Get the current weather for a city",
              "parameters": WEATHER_PARAMETERS, "strict": True}]
    first = openai_client.responses.create(model=MODEL, input="What is the weather in Oslo?", tools=tools, tool_choice="required",
                                           temperature=0, max_output_tokens=60)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) >= 1 and calls[0].name == "get_weather"
    city_of(calls[0].arguments)
    second = openai_client.responses.create(model=MODEL, previous_response_id=first.id, tools=tools, temperature=0, max_output_tokens=60,
                                            input=[{"type": "function_call_output", "call_id": calls[0].call_id,
                                                    "output": json.dumps({"temperature_c": 12, "sky": "cloudy"})}])
    assert second.previous_response_id == first.id and second.output_text
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.create(model=MODEL, previous_response_id="resp_unknown", input="hi")


# Anthropic Messages

def test_anthropic_plain_streamed_and_counted(anthropic_client):
    m = anthropic_client.messages.create(model=MODEL, max_tokens=30, extra_body=GREEDY, system="You are a helpful assistant.",
                                         messages=[{"role": "user", "content": CAPITAL}])
    assert m.type == "message" and m.stop_reason == "end_turn" and "Paris" in m.content[0].text
    assert m.usage.input_tokens + m.usage.cache_read_input_tokens > 10 and m.usage.output_tokens >= 1
    with anthropic_client.messages.stream(model=MODEL, max_tokens=30, extra_body=GREEDY, messages=[{"role": "user", "content": CAPITAL}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "Paris" in text and final.content[0].text == text
    counted = anthropic_client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": CAPITAL}])
    assert 5 < counted.input_tokens < 100
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client.messages.create(model="claude-unknown", max_tokens=5, messages=[{"role": "user", "content": "hi"}])


def test_anthropic_tool_use_round_trip(anthropic_client):
    tools = [{"name": "get_weather", "description": "Get the current weather for a city", "input_schema": WEATHER_PARAMETERS}]
    question = {"role": "user", "content": "What is the weather in Oslo?"}
    with anthropic_client.messages.stream(model=MODEL, max_tokens=60, extra_body=GREEDY, tools=tools,
                                          tool_choice={"type": "tool", "name": "get_weather"}, messages=[question]) as stream:
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use"
    use = next(block for block in first.content if block.type == "tool_use")
    assert use.name == "get_weather"
    city_of(use.input)
    second = anthropic_client.messages.create(model=MODEL, max_tokens=60, extra_body=GREEDY, tools=tools, messages=[
        question, {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "12 C and cloudy"}]}])
    assert second.stop_reason in ("end_turn", "tool_use", "max_tokens") and second.content
    structured = anthropic_client.messages.create(model=MODEL, max_tokens=100, extra_body=GREEDY, messages=[question],
                                                  output_config={"format": {"type": "json_schema", "schema": WEATHER_PARAMETERS}})
    city_of(structured.content[0].text)


# Ollama

def test_ollama_chat_generate_and_listings(ollama_client):
    r = ollama_client.chat(model=MODEL, messages=[{"role": "user", "content": CAPITAL}], options={"temperature": 0})
    assert r.done and "Paris" in r.message.content and r.eval_count >= 1 and r.prompt_eval_count > 10
    parts = list(ollama_client.chat(model=MODEL, messages=[{"role": "user", "content": CAPITAL}], options={"temperature": 0}, stream=True))
    assert parts[-1].done and not any(p.done for p in parts[:-1])
    assert "Paris" in "".join(p.message.content for p in parts)
    g = ollama_client.generate(model=MODEL, prompt=CAPITAL, options={"temperature": 0, "num_predict": 8})
    assert g.done and "Paris" in g.response
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city",
                                               "parameters": WEATHER_PARAMETERS}}]
    called = ollama_client.chat(model=MODEL, tools=tools, options={"temperature": 0},
                                messages=[{"role": "user", "content": "What is the weather in Oslo? Use the tool."}])
    for call in called.message.tool_calls or []:
        assert call.function.name == "get_weather"
        city_of(call.function.arguments)
    e = ollama_client.embed(model=MODEL, input=["first text", "second text"])
    assert len(e.embeddings) == 2 and len(e.embeddings[0]) == 896
    assert abs(sum(x * x for x in e.embeddings[0]) - 1) < 1e-3
    assert any(m.model == MODEL for m in ollama_client.list().models)
    running = ollama_client.ps().models
    assert running[0].model == MODEL and running[0].details.family == "qwen2"
    shown = ollama_client.show(MODEL)
    assert "tools" in shown.capabilities and shown.modelinfo["general.architecture"] == "qwen2" and "im_start" in shown.template
    with pytest.raises(ollama.ResponseError) as missing:
        ollama_client.chat(model="llama3:8b", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.status_code == 404
