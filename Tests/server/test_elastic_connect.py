"""`wick elastic connect` against the fake Elasticsearch (endpoints created with a key Wick issues and
keeps hashed, validated by Elasticsearch calling back, a streamed test call) and the fake Kibana (the
OpenAI connector through the Connectors API, then its run action); re-run idempotently (the key
rotated, the old one revoked), a dry run, an unreachable service address, wrong credentials and
conflicts leaving nothing behind."""
import json, os, signal, urllib.request
import pytest
from conftest import QWEN, SMOL, free_port, wick
from fake_elasticsearch import FakeElasticsearch
from fake_kibana import FakeKibana

QWEN_ID = "qwen2.5-coder-0.5b-instruct-q4_k_m"
SMOL_ID = "smollm2-135m-instruct-q4_1"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    home = tmp_path_factory.mktemp("connect-home")
    port = free_port()
    code, _, err = wick(home, "server", "start", "--port", str(port), "--model", SMOL, "--model", QWEN, "--context-length", "2048")
    assert code == 0, err
    state = json.load(open(home / "service.json"))
    yield {"home": home, "base": f"http://127.0.0.1:{port}"}
    wick(home, "server", "stop")
    try:
        os.kill(state["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def es():
    fake = FakeElasticsearch()
    yield fake
    fake.close()


def issued(home):
    path = home / "api-keys.json"
    return json.load(open(path)) if path.exists() else []


def status(base, key):
    request = urllib.request.Request(base + "/v1/models", headers={"Authorization": f"Bearer {key}"})
    try:
        return urllib.request.urlopen(request, timeout=30).status
    except urllib.error.HTTPError as e:
        return e.code


def connect(service, es, *args, key=None):
    return wick(service["home"], "elastic", "connect", "--elasticsearch", es.url, *args,
                env={"ES_API_KEY": key or es.api_key})


def test_connect_creates_validated_endpoints_then_updates_them(service, es):
    code, out, err = connect(service, es, "--embeddings", SMOL_ID)
    assert code == 0, err
    # The most recently loaded model serves chat; both endpoints point at this service.
    chat, embed = es.endpoints["wick-chat"], es.endpoints["wick-chat-embeddings"]
    assert chat["service_settings"] == {"model_id": QWEN_ID, "url": service["base"] + "/v1/chat/completions"}
    assert embed["service_settings"]["url"] == service["base"] + "/v1/embeddings" and embed["service_settings"]["dimensions"] == 576
    assert "created chat_completion endpoint wick-chat" in out and "test call through Elasticsearch:" in out
    key = chat["api_key"]
    assert key == embed["api_key"] and key.startswith("wick-")
    # Stored hashed only, and now required by the service.
    entries = issued(service["home"])
    assert len(entries) == 1 and key not in json.dumps(entries)
    assert status(service["base"], key) == 200 and status(service["base"], "guess") == 401
    # The CLI still reaches its service with the token the service keeps for it.
    assert wick(service["home"], "ps")[0] == 0

    # Again: the same endpoints are updated with a new key, the old one revoked.
    code, out, err = connect(service, es, "--embeddings", SMOL_ID)
    assert code == 0, err
    assert "updated chat_completion endpoint wick-chat" in out
    new_key = es.endpoints["wick-chat"]["api_key"]
    assert new_key != key and status(service["base"], new_key) == 200 and status(service["base"], key) == 401
    assert len(issued(service["home"])) == 1
    assert sorted(es.endpoints) == ["wick-chat", "wick-chat-embeddings"]


def test_dry_run_prints_the_requests_and_changes_nothing(service, es):
    before = issued(service["home"])
    code, out, err = connect(service, es, "--id", "dry", "--model", SMOL_ID, "--dry-run")
    assert code == 0, err
    assert f"PUT {es.url}/_inference/chat_completion/dry" in out and "<new Wick API key>" in out and SMOL_ID in out
    assert es.received == [] and es.endpoints == {} and issued(service["home"]) == before


def test_wrong_credentials_and_conflicts_leave_nothing_behind(service, es):
    before = issued(service["home"])
    code, _, err = connect(service, es, "--id", "denied", key="wrong")
    assert code != 0 and "refused" in err and "401" in err
    assert es.endpoints == {} and issued(service["home"]) == before
    # An endpoint of that id that calls something else is not taken over.
    es.endpoints["taken"] = {"task_type": "chat_completion", "service": "openai", "api_key": "x", "user_dimensions": None,
                             "service_settings": {"model_id": "other", "url": "http://elsewhere/v1/chat/completions"}, "task_settings": {}}
    code, _, err = connect(service, es, "--id", "taken")
    assert code != 0 and "exists and calls other" in err
    assert es.endpoints["taken"]["api_key"] == "x" and issued(service["home"]) == before
    # A model that is not loaded.
    code, _, err = connect(service, es, "--id", "nomodel", "--model", "missing")
    assert code != 0 and "'missing' is not loaded" in err and "nomodel" not in es.endpoints


def test_a_remote_cluster_cannot_reach_a_loopback_service(service, es):
    code, _, err = wick(service["home"], "elastic", "connect", "--elasticsearch", "http://10.255.255.1:9200", "--dry-run",
                        env={"ES_API_KEY": "k"})
    assert code != 0 and "listens on 127.0.0.1 only" in err and "--bind 0.0.0.0" in err


def test_a_failed_validation_removes_the_endpoint_and_the_key(service, es):
    before = issued(service["home"])
    # A URL where nothing listens: Elasticsearch's validation call fails, so it creates nothing.
    code, _, err = connect(service, es, "--id", "unreachable", "--wick-url", f"http://127.0.0.1:{free_port()}")
    assert code != 0 and "creating chat_completion endpoint unreachable failed" in err
    assert "unreachable" not in es.endpoints and issued(service["home"]) == before


@pytest.fixture
def kibana():
    fake = FakeKibana()
    yield fake
    fake.close()


def test_kibana_connector_created_tested_then_updated(service, kibana):
    before = issued(service["home"])
    args = ("elastic", "connect", "--kibana", kibana.url, "--model", SMOL_ID, "--native-tools")
    code, out, err = wick(service["home"], *args, env={"KIBANA_API_KEY": kibana.api_key})
    assert code == 0, err
    (cid, connector), = kibana.connectors.items()
    assert connector["name"] == "Wick" and connector["config"] == {
        "apiProvider": "Other", "apiUrl": service["base"] + "/v1/chat/completions", "defaultModel": SMOL_ID,
        "enableNativeFunctionCalling": True, "contextWindowLength": 2048}
    assert "created connector Wick" in out and "test call through Kibana:" in out
    # The run action went through Wick with the issued key, and Wick's reply passed the connector's checks.
    url, headers, body = kibana.sent[-1]
    assert url.endswith("/v1/chat/completions") and headers["Authorization"] == f"Bearer {connector['secrets']['apiKey']}"
    assert status(service["base"], connector["secrets"]["apiKey"]) == 200
    assert len(issued(service["home"])) == len(before) + 1
    old_key = connector["secrets"]["apiKey"]

    code, out, err = wick(service["home"], *args, env={"KIBANA_API_KEY": kibana.api_key})
    assert code == 0, err
    assert list(kibana.connectors) == [cid] and "updated connector Wick" in out
    new_key = kibana.connectors[cid]["secrets"]["apiKey"]
    assert new_key != old_key and status(service["base"], old_key) == 401 and status(service["base"], new_key) == 200
    assert len(issued(service["home"])) == len(before) + 1


def test_kibana_wrong_credentials_and_dry_run(service, kibana):
    before = issued(service["home"])
    code, _, err = wick(service["home"], "elastic", "connect", "--kibana", kibana.url, env={"KIBANA_API_KEY": "wrong"})
    assert code != 0 and "Kibana" in err and "401" in err
    assert kibana.connectors == {} and issued(service["home"]) == before
    kibana.received.clear()
    code, out, err = wick(service["home"], "elastic", "connect", "--kibana", kibana.url, "--dry-run", env={"KIBANA_API_KEY": kibana.api_key})
    assert code == 0, err
    assert f"POST {kibana.url}/api/actions/connector" in out and '"connector_type_id":".gen-ai"' in out and "<new Wick API key>" in out
    assert kibana.received == [] and issued(service["home"]) == before


def test_an_unreachable_cluster_is_a_clear_error_and_issues_no_key(service):
    before = issued(service["home"])
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = wick(service["home"], "elastic", "connect", "--elasticsearch", url, env={"ES_API_KEY": "k"})
    assert code != 0 and f"cannot reach {url}" in err
    assert issued(service["home"]) == before
