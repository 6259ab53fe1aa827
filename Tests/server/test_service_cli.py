"""The guide's sequence with `wick` in place of `lms`: a background service, models loaded by name with
a context length, JIT loading, TTL, unloading that frees memory, memory estimates and refusals."""
import json, os, signal, subprocess, threading, time, urllib.request
import pytest
from conftest import QWEN, SMOL, WICK, free_port, wick

QWEN_KEY = "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF"
SMOL_KEY = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    home = tmp_path_factory.mktemp("service-home")
    assert wick(home, "import", QWEN, "--user-repo", QWEN_KEY, "--symbolic-link")[0] == 0
    port = free_port()
    code, out, err = wick(home, "server", "start", "--port", str(port))
    assert code == 0, err
    assert f"http://127.0.0.1:{port}" in out
    state = json.load(open(home / "service.json"))
    yield {"home": home, "port": port, "base": f"http://127.0.0.1:{port}", "pid": state["pid"]}
    wick(home, "server", "stop")
    try:
        os.kill(state["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass


def post(base, path, body, timeout=300):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def ps(home):
    code, out, err = wick(home, "ps", "--json")
    assert code == 0, err
    return json.loads(out)


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def metrics(base):
    with urllib.request.urlopen(base + "/metrics", timeout=60) as r:
        return r.read().decode()


def chat(base, model, content="Say hello.", max_tokens=8):
    return post(base, "/v1/chat/completions", {"model": model, "temperature": 0, "max_tokens": max_tokens,
                                               "messages": [{"role": "user", "content": content}]})


def test_the_guides_sequence(service, hub):
    home, base = service["home"], service["base"]
    code, out, _ = wick(home, "server", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["running"] is True and status["port"] == service["port"] and status["pid"] == service["pid"]
    hub.repos[SMOL_KEY] = {"SmolLM2-135M-Instruct-Q4_1.gguf": SMOL}
    code, _, err = wick(home, "get", SMOL_KEY, hub=hub)
    assert code == 0, err
    code, out, _ = wick(home, "ls")
    assert QWEN_KEY in out and SMOL_KEY in out and "2 models" in out
    code, out, err = wick(home, "load", "qwen2.5-coder", "--context-length", "65536", "--gpu", "max")
    assert code == 0, err
    assert out.strip().splitlines()[-1] == QWEN_KEY and "runs on the CPU" in err
    [instance] = ps(home)
    assert instance["identifier"] == QWEN_KEY and instance["context_length"] == 65536 and instance["status"] == "idle"
    assert instance["model"] == QWEN_KEY and instance["size_bytes"] > 0 and instance["ttl_seconds"] is None and instance["queued"] == 0
    listed = {m["key"]: m for m in json.loads(wick(home, "ls", "--json")[1])}
    assert listed[QWEN_KEY]["loaded"] is True and listed[SMOL_KEY]["loaded"] is False
    status, reply = chat(base, QWEN_KEY)
    assert status == 200 and reply["model"] == QWEN_KEY and reply["choices"][0]["message"]["content"]
    assert f'wick_kv_cache_pages{{model="{QWEN_KEY}",state="free"}}' in metrics(base)
    with urllib.request.urlopen(base + "/v1/models") as r:
        models = {m["id"]: m for m in json.load(r)["data"]}
    assert models[QWEN_KEY]["context_length"] == 65536 and models[QWEN_KEY]["loaded"] is True
    assert models[SMOL_KEY]["loaded"] is False  # downloaded: a request may load it
    with urllib.request.urlopen(base + "/v1/models/" + QWEN_KEY) as r:
        assert json.load(r)["context_length"] == 65536
    # A second instance of the same model gets its own identifier.
    code, out, err = wick(home, "load", QWEN_KEY, "-c", "2048")
    assert code == 0 and out.strip().splitlines()[-1] == QWEN_KEY + ":2", err
    code, out, _ = wick(home, "status")
    assert "running" in out and QWEN_KEY + ":2" in out
    code, out, _ = wick(home, "unload", "--all")
    assert code == 0 and QWEN_KEY in out
    assert ps(home) == []
    # An unloaded model's gauges leave the metrics.
    text = metrics(base)
    assert "wick_loaded_models 0" in text and "wick_kv_cache_pages{" not in text


def test_unknown_models_are_404_listing_what_exists(service):
    status, reply = chat(service["base"], "gpt-4o")
    assert status == 404 and reply["error"]["param"] == "model" and QWEN_KEY in reply["error"]["message"]
    assert ps(service["home"]) == []  # nothing was loaded in its place


def test_concurrent_first_requests_load_the_model_once(service):
    home, base = service["home"], service["base"]
    log = home / "logs" / "server.log"
    before = log.read_text().count(f"loaded {SMOL_KEY} ")
    results = []
    threads = [threading.Thread(target=lambda: results.append(chat(base, "SmolLM2-135M-Instruct-GGUF", max_tokens=4))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s for s, _ in results] == [200] * 8, results
    assert {r["model"] for _, r in results} == {SMOL_KEY}
    assert log.read_text().count(f"loaded {SMOL_KEY} ") == before + 1
    [instance] = ps(home)
    assert instance["identifier"] == SMOL_KEY and instance["ttl_seconds"] is not None  # JIT loads get the idle TTL
    wick(home, "unload", "--all")


def test_idle_ttl_unloads_but_never_during_a_stream(service):
    home, base = service["home"], service["base"]
    assert wick(home, "load", SMOL_KEY, "--ttl", "1")[0] == 0
    # A stream longer than the TTL: the model stays until it ends.
    req = urllib.request.Request(base + "/v1/chat/completions", headers={"Content-Type": "application/json"}, data=json.dumps(
        {"model": SMOL_KEY, "stream": True, "max_tokens": 400, "temperature": 0, "messages": [{"role": "user", "content": "Write a long story."}]}).encode())
    seen_generating = False
    with urllib.request.urlopen(req, timeout=300) as r:
        started = time.time()
        for line in r:
            if not seen_generating and time.time() - started > 1.5:
                rows = ps(home)
                seen_generating = len(rows) == 1 and rows[0]["status"] == "generating"
            if line.strip() == b"data: [DONE]":
                break
        else:
            pytest.fail("the stream ended without [DONE]")
    assert time.time() - started > 1.5 and seen_generating
    deadline = time.time() + 10
    while ps(home) and time.time() < deadline:
        time.sleep(0.25)
    assert ps(home) == []


def test_unload_frees_memory_and_waits_for_a_running_stream(service):
    home, base, pid = service["home"], service["base"], service["pid"]
    baseline = rss_kib(pid)
    assert wick(home, "load", QWEN_KEY, "-c", "4096")[0] == 0
    assert chat(base, QWEN_KEY, max_tokens=2)[0] == 200  # touches every weight
    loaded = rss_kib(pid)
    assert loaded - baseline > 300_000, (baseline, loaded)
    # Unloading during a stream lets the stream finish.
    req = urllib.request.Request(base + "/v1/chat/completions", headers={"Content-Type": "application/json"}, data=json.dumps(
        {"model": QWEN_KEY, "stream": True, "max_tokens": 24, "temperature": 0, "messages": [{"role": "user", "content": "Count to twenty."}]}).encode())
    with urllib.request.urlopen(req, timeout=300) as r:
        first = r.readline()
        assert first
        code, out, err = wick(home, "unload", QWEN_KEY)
        assert code == 0, err
        rest = r.read().decode()
    assert "data: [DONE]" in rest and '"finish_reason":"length"' in rest
    time.sleep(1.5)  # the generation's end releases the model; the host returns its heap within a second
    after = rss_kib(pid)
    assert loaded - after > 300_000 and after - baseline < 30_000, (baseline, loaded, after)


def test_memory_estimate_and_refusal(service):
    home, base = service["home"], service["base"]
    code, out, err = wick(home, "load", QWEN_KEY, "--context-length", "10000000", "--estimate-only")
    assert code == 0 and "needs about" in out and "does not fit" in out, err
    code, out, err = wick(home, "load", QWEN_KEY, "--context-length", "10000000")
    assert code != 0 and "not enough memory" in err
    status, reply = post(base, "/api/v1/models/load", {"model": QWEN_KEY, "context_length": 10000000})
    assert status == 507 and reply["error"]["code"] == "insufficient_memory" and "KV cache" in reply["error"]["message"]
    code, out, err = wick(home, "load", QWEN_KEY, "--context-length", "8192", "--estimate-only")
    assert code == 0 and "does not fit" not in out
    assert ps(home) == []


def test_a_second_service_is_refused_with_the_reason(service, tmp_path):
    code, _, err = wick(service["home"], "server", "start", "--port", str(free_port()))
    assert code != 0 and "already running" in err
    code, _, err = wick(tmp_path, "server", "start", "--port", str(service["port"]))
    assert code != 0 and f"port {service['port']} is already in use" in err
    key_file = tmp_path / "keys"
    key_file.write_text("")
    code, _, err = wick(tmp_path, "server", "start", "--port", str(free_port()), "--api-key-file", str(key_file))
    assert code != 0 and "holds no key" in err


def test_stop_lets_a_running_stream_finish(tmp_path):
    port = free_port()
    assert wick(tmp_path, "server", "start", "--port", str(port), "--model", SMOL)[0] == 0
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", headers={"Content-Type": "application/json"}, data=json.dumps(
        {"stream": True, "max_tokens": 200, "temperature": 0, "logit_bias": {"2": -100}, "messages": [{"role": "user", "content": "Write a story."}]}).encode())
    with urllib.request.urlopen(req, timeout=300) as r:
        assert r.readline()
        stopped = []
        stopper = threading.Thread(target=lambda: stopped.append(wick(tmp_path, "server", "stop")))
        stopper.start()
        rest = r.read().decode()
    stopper.join()
    assert "data: [DONE]" in rest and '"finish_reason":"length"' in rest
    code, out, _ = stopped[0]
    assert code == 0 and "stopped" in out
    code, out, _ = wick(tmp_path, "server", "status", "--json")
    assert json.loads(out) == {"running": False}
    assert not (tmp_path / "service.json").exists()


def test_chat_one_shot_and_from_stdin(service):
    home = service["home"]
    code, out, err = wick(home, "chat", QWEN_KEY, "-p", "What is 2+2? Answer with a number.", "--temperature", "0", "--max-tokens", "8")
    assert code == 0 and "4" in out, err
    code, out, err = wick(home, "chat", QWEN_KEY, "-s", "Answer in one word.", "--max-tokens", "8", input="Name the capital of France.\n")
    assert code == 0 and "Paris" in out, err
    code, _, err = wick(home, "chat", QWEN_KEY, input="")
    assert code != 0 and "stdin was empty" in err
    code, _, err = wick(home, "chat", "no-such-model", "-p", "hi")
    assert code != 0 and "'no-such-model' does not exist" in err
    wick(home, "unload", "--all")


def test_log_stream_follows_requests_with_their_prompts(service):
    home = service["home"]
    env = dict(os.environ, WICK_HOME=str(home))
    follower = subprocess.Popen([WICK, "log", "stream", "--json"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(0.5)
        assert chat(service["base"], QWEN_KEY, content="Tell me about zebras.", max_tokens=4)[0] == 200
        entries = []
        deadline = time.time() + 30
        while time.time() < deadline:
            entry = json.loads(follower.stdout.readline())
            entries.append(entry)
            if "Tell me about zebras." in entry["message"]:
                break
        prompt = entries[-1]
        assert "prompt of" in prompt["message"] and "<|im_start|>user" in prompt["message"]
        assert prompt["level"] == "info" and prompt["label"] == "wick.model" and prompt["time"].startswith("20")
        assert any(f"loaded {QWEN_KEY} " in e["message"] for e in entries)  # the JIT load came first
    finally:
        follower.kill()
        follower.wait()
    wick(home, "unload", "--all")


def test_downloads_through_the_api(hub, tmp_path):
    repo = "bartowski/Api-GGUF"
    hub.repos[repo] = {"Api-Q4_1.gguf": SMOL, "Api-Q8_0.gguf": SMOL}
    port = free_port()
    assert wick(tmp_path, "server", "start", "--port", str(port), hub=hub)[0] == 0
    base = f"http://127.0.0.1:{port}"
    try:
        status, reply = post(base, "/api/v1/models/download", {"model": "someone/x-GGUF"})
        assert status == 403 and reply["error"]["code"] == "untrusted_publisher"
        status, reply = post(base, "/api/v1/models/download", {"model": repo + "@q2_k"})
        assert status == 404 and "offers" in reply["error"]["message"]
        status, job = post(base, "/api/v1/models/download", {"model": repo + "@Q8_0"})
        assert status == 200 and job["status"] == "downloading" and job["total_size_bytes"] == os.path.getsize(SMOL)
        deadline = time.time() + 120
        while job["status"] == "downloading" and time.time() < deadline:
            time.sleep(0.2)
            with urllib.request.urlopen(f"{base}/api/v1/models/download/status/{job['job_id']}") as r:
                job = json.load(r)
        assert job["status"] == "completed" and job["downloaded_bytes"] == job["total_size_bytes"] and job["key"] == repo, job
        with urllib.request.urlopen(base + "/api/v1/models") as r:
            [model] = json.load(r)["models"]
        assert model["key"] == repo and model["quantization"] == "Q4_1" and model["loaded_instances"] == []
        # A JIT request names it by key.
        status, reply = chat(base, repo, max_tokens=2)
        assert status == 200 and reply["model"] == repo
    finally:
        wick(tmp_path, "server", "stop")


def test_a_remote_service_is_reached_with_host_and_port(service, tmp_path):
    # Another home (another machine's CLI): nothing recorded there, so the service is named.
    remote = ["--host", "127.0.0.1", "--port", str(service["port"])]
    code, _, err = wick(tmp_path, "ps")
    assert code != 0 and "no Wick service is running" in err
    code, out, err = wick(tmp_path, "load", QWEN_KEY, "-c", "10000000", "--estimate-only", *remote)
    assert code == 0 and "does not fit" in out, err
    code, out, err = wick(tmp_path, "load", QWEN_KEY, "-c", "2048", *remote)
    assert code == 0 and out.strip().splitlines()[-1] == QWEN_KEY, err
    code, out, err = wick(tmp_path, "ps", "--json", *remote)
    assert code == 0 and [i["context_length"] for i in json.loads(out)] == [2048], err
    code, out, _ = wick(tmp_path, "server", "status", "--json", *remote)
    assert json.loads(out)["running"] is True and json.loads(out)["loaded"] == [QWEN_KEY]
    assert wick(tmp_path, "unload", "--all", *remote)[0] == 0
    assert ps(service["home"]) == []


def test_api_keys_from_a_file_guard_the_service_and_the_cli_uses_them(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# service keys\nsecret-one\n")
    port = free_port()
    code, _, err = wick(tmp_path, "server", "start", "--port", str(port), "--api-key-file", str(keys))
    assert code == 0, err
    try:
        base = f"http://127.0.0.1:{port}"
        status, reply = post(base, "/api/v1/models/load", {"model": SMOL})
        assert status == 401 and reply["error"]["code"] == "invalid_api_key"
        assert "secret-one" not in open(f"/proc/{json.load(open(tmp_path / 'service.json'))['pid']}/cmdline").read()
        # The owner's CLI authenticates with the key file the service recorded.
        code, out, err = wick(tmp_path, "load", SMOL, "-c", "1024")
        assert code == 0, err
        assert [i["context_length"] for i in ps(tmp_path)] == [1024]
        # Another user's CLI names the service and brings its own key.
        remote = ["--host", "127.0.0.1", "--port", str(port)]
        code, _, err = wick(tmp_path / "elsewhere", "ps", *remote)
        assert code != 0 and "API key" in err
        code, out, err = wick(tmp_path / "elsewhere", "ps", "--json", *remote, env={"WICK_API_KEY": "secret-one"})
        assert code == 0 and len(json.loads(out)) == 1, err
    finally:
        wick(tmp_path, "server", "stop")


def test_ollama_pull_delete_and_keep_alive(hub, tmp_path):
    # What `ollama pull hf.co/…`, `ollama rm`, `ollama stop` and `keep_alive` do, through Ollama's own client.
    import ollama
    repo = "bartowski/Pull-GGUF"
    hub.repos[repo] = {"Pull-Q4_1.gguf": SMOL}
    name = "hf.co/" + repo + ":Q4_1"
    port = free_port()
    assert wick(tmp_path, "server", "start", "--port", str(port), hub=hub)[0] == 0
    client = ollama.Client(host=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ollama.ResponseError) as refused:
            client.pull("llama3.2")
        assert refused.value.status_code == 404 and "hf.co/OWNER/REPO" in refused.value.error
        with pytest.raises(ollama.ResponseError) as untrusted:
            client.pull("hf.co/someone/x-GGUF")
        assert untrusted.value.status_code == 403
        progress = list(client.pull(name, stream=True))
        assert progress[0].status == "pulling manifest" and progress[-1].status == "success", progress
        sized = [p for p in progress if p.total]
        assert sized and sized[-1].total == os.path.getsize(SMOL) and all(p.completed <= p.total for p in sized), sized
        assert any(m.model == repo for m in client.list().models)
        assert client.pull(name, stream=False).status == "success"

        # keep_alive: a duration keeps it loaded that long; 0 unloads it once the answer is done.
        client.generate(model=name, prompt="Hi", options={"num_predict": 2}, keep_alive="10m")
        [running] = client.ps().models
        assert running.model == repo and 590 <= (running.expires_at.timestamp() - time.time()) <= 600, running
        client.chat(model=name, messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 2}, keep_alive=0)
        deadline = time.time() + 5  # at once, or at the next idle check (every second) if the sequence was still closing
        while client.ps().models and time.time() < deadline:
            time.sleep(0.1)
        assert client.ps().models == []
        # Nothing asked: loads; with keep_alive 0: unloads.
        assert client.generate(model=name, prompt="").done_reason == "load" and len(client.ps().models) == 1
        assert client.generate(model=name, prompt="", keep_alive=0).done_reason == "unload" and client.ps().models == []
        with pytest.raises(ollama.ResponseError) as bad:
            client.chat(model=name, messages=[{"role": "user", "content": "Hi"}], keep_alive="soon")
        assert bad.value.status_code == 400 and "keep_alive" in bad.value.error

        assert client.delete(name).status == "success"
        assert not any(m.model == repo for m in client.list().models)
        with pytest.raises(ollama.ResponseError) as gone:
            client.delete(name)
        assert gone.value.status_code == 404
    finally:
        wick(tmp_path, "server", "stop")
