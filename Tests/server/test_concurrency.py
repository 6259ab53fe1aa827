"""Many conversations at once on one model: continuous batching, shared prompt prefixes reported as
`cached_tokens`, and a disconnecting client freeing its sequence. A server of its own (4 sequences
at once, room for 16 requests)."""
import concurrent.futures, http.client, json, os, time, urllib.request
import openai
import pytest
from conftest import QWEN, serve

MODEL_ID = "qwen2.5-coder-0.5b-instruct-q4_k_m"
# A system prompt of some 400 tokens, as Kibana's assistant sends before every conversation.
SYSTEM = ("You are a helpful assistant for an observability platform. " +
          " ".join(f"Rule {i}: answer precisely, cite the data source, and keep the reply short." for i in range(30)))


def start(home):
    """A server with its own WICK_HOME; returns (process, base address)."""
    env = {k: v for k, v in os.environ.items() if k != "WICK_API_KEY"}
    env["WICK_HOME"] = str(home)
    return serve(["--model", QWEN, "--context-length", "2048", "--parallel", "4", "--max-queued", "16"], env)


def stop(proc):
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, base = start(tmp_path_factory.mktemp("home"))
    yield base
    stop(proc)


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key="none", timeout=300)


WORDS = ["banana", "telescope", "violin", "glacier", "pyramid", "octopus", "lantern", "cactus"]


def test_eight_streams_at_once_each_get_their_own_answer(client):
    def ask(word):
        stream = client.chat.completions.create(
            model=MODEL_ID, temperature=0, max_tokens=24, stream=True,
            messages=[{"role": "user", "content": f"Repeat this word exactly once and nothing else: {word}"}])
        text, finish = "", None
        for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
        return text, finish

    with concurrent.futures.ThreadPoolExecutor(len(WORDS)) as pool:
        replies = list(pool.map(ask, WORDS))
    for word, (text, finish) in zip(WORDS, replies):
        assert finish in ("stop", "length")
        assert word in text.lower(), (word, text)
        others = [w for w in WORDS if w != word and w in text.lower()]
        assert not others, (word, text)
    # The same request alone gives the same greedy reply as in the crowd.
    alone = client.chat.completions.create(model=MODEL_ID, temperature=0, max_tokens=24, messages=[
        {"role": "user", "content": f"Repeat this word exactly once and nothing else: {WORDS[3]}"}])
    assert alone.choices[0].message.content == replies[3][0]


def ask_with_system(client, system, question):
    return client.chat.completions.create(model=MODEL_ID, temperature=0, max_tokens=8, messages=[
        {"role": "system", "content": system}, {"role": "user", "content": question}])


def test_a_known_system_prompt_is_reported_as_cached(client):
    first = ask_with_system(client, SYSTEM, "Which rule comes first?")
    assert first.usage.prompt_tokens > 300
    second = ask_with_system(client, SYSTEM, "How many rules are there?")
    cached = second.usage.prompt_tokens_details.cached_tokens
    # Everything up to the user's question is shared: all but the last partly filled page at most.
    assert cached >= first.usage.prompt_tokens - 64 - 20, (cached, first.usage.prompt_tokens)


def test_conversations_arriving_together_compute_their_common_prefix_once(client):
    system = "Security desk. " + SYSTEM  # not seen before (only the template's first tokens are)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda q: ask_with_system(client, system, q), ["Name one rule.", "Say hello."])
    cached = sorted([a.usage.prompt_tokens_details.cached_tokens, b.usage.prompt_tokens_details.cached_tokens])
    assert cached[0] < 16 and cached[1] >= a.usage.prompt_tokens - 64 - 20, cached


def queued(server):
    with urllib.request.urlopen(server + "/api/v1/status", timeout=5) as r:
        return json.loads(r.read())["queued"]


def test_a_client_that_disconnects_frees_its_sequence_at_once(server, client):
    conn = http.client.HTTPConnection(server.removeprefix("http://"), timeout=300)
    conn.request("POST", "/v1/completions", json.dumps({"model": MODEL_ID, "prompt": "1, 2, 3,", "max_tokens": 1500,
                                                        "temperature": 0, "stream": True}),
                 {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200 and response.readline()
    assert queued(server) == 1
    conn.close()
    deadline = time.time() + 5
    while queued(server) != 0 and time.time() < deadline:
        time.sleep(0.1)
    assert queued(server) == 0


def test_a_reused_prefix_is_read_back_from_disk_after_a_restart(tmp_path):
    system = "Restart desk. " + SYSTEM
    proc, base = start(tmp_path)
    try:
        c = openai.OpenAI(base_url=base + "/v1", api_key="none", timeout=300)
        first = ask_with_system(c, system, "Which rule comes first?")
        ask_with_system(c, system, "How many rules are there?")  # reused: now kept on disk
    finally:
        stop(proc)
    assert list((tmp_path / "cache").glob("*/*.kv")), "pages were written"
    proc, base = start(tmp_path)
    try:
        c = openai.OpenAI(base_url=base + "/v1", api_key="none", timeout=300)
        again = ask_with_system(c, system, "Is there a rule about sources?")
        assert again.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens - 64 - 20
        # A damaged cache is ignored, never trusted: the answer is the one computed from nothing.
        for page in (tmp_path / "cache").glob("*/*.kv"):
            data = bytearray(page.read_bytes())
            data[len(data) // 2] ^= 0x55
            page.write_bytes(bytes(data))
    finally:
        stop(proc)
    proc, base = start(tmp_path)
    try:
        c = openai.OpenAI(base_url=base + "/v1", api_key="none", timeout=300)
        damaged = ask_with_system(c, system, "Is there a rule about sources?")
        assert damaged.usage.prompt_tokens_details.cached_tokens < 64
        assert damaged.choices[0].message.content == again.choices[0].message.content
    finally:
        stop(proc)


def load(server, body):
    req = urllib.request.Request(server + "/api/v1/models/load", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())


def test_a_q8_0_kv_cache_takes_about_half_the_memory_and_answers(server, client):
    f16 = load(server, {"model": QWEN, "context_length": 4096, "parallel": 2, "estimate_only": True})
    q8 = load(server, {"model": QWEN, "context_length": 4096, "parallel": 2, "kv_cache_type": "q8_0", "estimate_only": True})
    assert q8["kv_cache_type"] == "q8_0" and f16["kv_cache_type"] == "f16"
    ratio = q8["estimate"]["kv_cache_bytes"] / f16["estimate"]["kv_cache_bytes"]
    assert abs(ratio - 34 / 64) < 0.01, ratio
    loaded = load(server, {"model": QWEN, "context_length": 2048, "kv_cache_type": "q8_0", "identifier": "q8"})
    assert loaded["load_config"]["kv_cache_type"] == "q8_0"
    r = client.chat.completions.create(model="q8", temperature=0, max_tokens=24, messages=[
        {"role": "user", "content": "Repeat this word exactly once and nothing else: lighthouse"}])
    assert "lighthouse" in r.choices[0].message.content.lower()
