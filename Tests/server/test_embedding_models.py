"""Embedding models (BERT and nomic-bert encoders, the tiny ones of scripts/make-tiny-models) served as
an Elasticsearch `semantic_text` user runs them: /v1/embeddings gives llama.cpp's vectors, Elasticsearch's
inference endpoint learns their size and embeds, generation is refused with a clear error, too-long inputs
are the overflow error Elasticsearch reads, and the store lists them as embedding models."""
import json, math, os, urllib.error, urllib.request
import pytest
from conftest import MODELS, serve, wick
from fake_elasticsearch import FakeElasticsearch

GOLDEN = json.load(open(os.path.join(os.path.dirname(__file__), "..", "IntegrationTests", "Fixtures", "embedding-golden.json")))
ENCODERS = ["tiny-bert", "tiny-nomic-bert"]
KEY = "wick-key-for-es"


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module", params=ENCODERS)
def encoder(request, tmp_path_factory):
    env = dict(os.environ, WICK_API_KEY=KEY, WICK_HOME=str(tmp_path_factory.mktemp("home")))
    proc, base = serve(["--model", os.path.join(MODELS, request.param + ".gguf")], env)
    yield base, request.param
    proc.terminate()
    proc.wait(timeout=20)


def test_vectors_are_llama_cpps(encoder):
    base, name = encoder
    status, reply = post(base, "/v1/embeddings", {"model": name, "input": GOLDEN["texts"], "encoding_format": "float"})
    assert status == 200, reply
    assert reply["usage"]["prompt_tokens"] == sum(len(t) for t in GOLDEN["models"][name]["tokens"])
    for item, theirs in zip(sorted(reply["data"], key=lambda d: d["index"]), GOLDEN["models"][name]["vectors"]):
        ours = item["embedding"]
        assert len(ours) == 64 and abs(math.sqrt(sum(x * x for x in ours)) - 1) < 1e-4
        assert sum(a * b for a, b in zip(ours, theirs)) > 0.9999


def test_elasticsearch_inference_endpoint_embeds(encoder):
    base, name = encoder
    es = FakeElasticsearch()
    try:
        def call(method, path, body):
            req = urllib.request.Request(es.url + path, data=json.dumps(body).encode(), method=method,
                                         headers={"Content-Type": "application/json", "Authorization": f"ApiKey {es.api_key}"})
            with urllib.request.urlopen(req, timeout=300) as r:
                return json.loads(r.read())
        endpoint = call("PUT", "/_inference/text_embedding/wick-encoder",
                        {"service": "openai", "service_settings": {"api_key": KEY, "model_id": name, "url": base + "/v1/embeddings"}})
        assert endpoint["service_settings"]["dimensions"] == 64
        reply = call("POST", "/_inference/text_embedding/wick-encoder", {"input": ["The cluster is healthy.", "Disk usage is high."]})
        vectors = [item["embedding"] for item in reply["text_embedding"]]
        assert len(vectors) == 2 and all(len(v) == 64 for v in vectors) and vectors[0] != vectors[1]
    finally:
        es.close()


def test_generation_and_overflow_are_clear_errors(encoder):
    base, name = encoder
    status, reply = post(base, "/v1/chat/completions", {"model": name, "messages": [{"role": "user", "content": "Hi"}]})
    assert status == 400 and reply["error"]["code"] == "model_not_supported" and "embedding model" in reply["error"]["message"]
    status, reply = post(base, "/v1/completions", {"model": name, "prompt": "Hi"})
    assert status == 400 and reply["error"]["code"] == "model_not_supported"
    status, reply = post(base, "/v1/embeddings", {"model": name, "input": "word " * 600})
    assert status == 400 and reply["error"]["code"] == "context_length_exceeded"
    assert "Please reduce your prompt; or completion length." in reply["error"]["message"]
    status, reply = post(base, "/api/embed", {"model": name, "input": "word " * 600})  # Ollama's truncates
    assert status == 200 and len(reply["embeddings"][0]) == 64


def test_learned_positions_bound_the_context_and_the_store_lists_embedding_models(tmp_path):
    path = os.path.join(MODELS, "tiny-bert.gguf")
    code, _, err = wick(tmp_path, "import", path, "--user-repo", "test/tiny-bert", "--symbolic-link")
    assert code == 0, err
    [listed] = json.loads(wick(tmp_path, "ls", "--json")[1])
    assert listed["type"] == "embeddings" and listed["architecture"] == "bert"
    with pytest.raises(RuntimeError, match="learned positions end at 512"):
        serve(["--model", path, "--context-length", "1024"], dict(os.environ, WICK_HOME=str(tmp_path)))
