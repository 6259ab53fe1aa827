"""Faults: SIGTERM while streams run (drain with 503s for newcomers, a bounded exit), a download
killed with SIGKILL and resumed, a download whose writes fail (the file-size limit standing in for
a full disk), a loaded model's file replaced on disk or truncated in place, and a client that leaves a request that is
not streamed (its generation stops)."""
import json, os, resource, shutil, signal, socket, subprocess, threading, time, urllib.error, urllib.request
import pytest
from conftest import SMOL, WICK, serve, wick

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
FILE = "SmolLM2-135M-Instruct-Q4_1.gguf"


def environment(home):
    env = {k: v for k, v in os.environ.items() if k != "WICK_API_KEY"}
    env["WICK_HOME"] = str(home)
    return env


def request(base, path, body, timeout=60):
    r = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def long_stream(base, max_tokens):
    """Starts a stream of `max_tokens` tokens read on a thread; returns its lines so far and the thread
    once a few have come."""
    chunks = []
    body = {"messages": [{"role": "user", "content": "Count from one to a thousand."}], "max_tokens": max_tokens,
            "ignore_eos": True, "stream": True, "temperature": 0}
    r = urllib.request.Request(base + "/v1/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    stream = urllib.request.urlopen(r, timeout=120)
    reader = threading.Thread(target=lambda: chunks.extend(stream))
    reader.start()
    while len(chunks) < 5:
        time.sleep(0.01)
    return chunks, reader


def metric(base, name):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_sigterm_drains_running_streams_and_refuses_newcomers(tmp_path):
    proc, base = serve(["--model", SMOL, "--context-length", "2048", "--drain-timeout", "60"], environment(tmp_path))
    try:
        chunks, reader = long_stream(base, 400)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        status, headers, reply = request(base, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
        assert status == 503 and json.loads(reply)["error"]["code"] == "shutting_down"
        assert headers.get("Retry-After") == "5"
        with pytest.raises(urllib.error.HTTPError) as ready:
            urllib.request.urlopen(base + "/ready", timeout=5)
        assert ready.value.code == 503
        reader.join(timeout=120)
        data = [json.loads(c[6:]) for c in chunks if c.startswith(b"data: {")]
        assert chunks[-2].strip() == b"data: [DONE]" or chunks[-1].strip() == b"data: [DONE]"
        assert data[-1]["choices"][0]["finish_reason"] == "length"  # the stream ran to its end
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_drain_is_bounded(tmp_path):
    proc, base = serve(["--model", SMOL, "--context-length", "8192", "--drain-timeout", "1"], environment(tmp_path))
    try:
        body = {"messages": [{"role": "user", "content": "Write forever."}], "max_tokens": 8000, "ignore_eos": True, "stream": True}
        r = urllib.request.Request(base + "/v1/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        stream = urllib.request.urlopen(r, timeout=120)
        stream.readline()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 1 + 5 + 3  # the drain, the group's own bound, slack
        stream.close()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_client_that_leaves_a_request_that_is_not_streamed_stops_its_generation(tmp_path):
    proc, base = serve(["--model", SMOL, "--context-length", "8192", "--parallel", "1"], environment(tmp_path))
    try:
        body = json.dumps({"messages": [{"role": "user", "content": "Write forever."}], "max_tokens": 6000, "ignore_eos": True}).encode()
        port = int(base.rsplit(":", 1)[1])
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(1.5)
        s.close()
        started = time.monotonic()
        # The only place (--parallel 1) is free again at once: a new request is answered quickly.
        status, _, reply = request(base, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
        assert status == 200, reply
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 5
        while metric(base, 'wick_generations_total{finish_reason="cancelled"') < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            text = r.read().decode()
        assert 'finish_reason="cancelled"' in text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_loaded_models_file_replaced_on_disk_keeps_serving(tmp_path):
    """The store replaces files by renaming a verified download into place: the loaded mapping keeps
    the old file, and requests go on."""
    model = tmp_path / "model.gguf"
    shutil.copy(SMOL, model)
    proc, base = serve(["--model", str(model), "--context-length", "512"], environment(tmp_path / "home"))
    try:
        ask = {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8, "temperature": 0}
        before = json.loads(request(base, "/v1/chat/completions", ask)[2])["choices"][0]["message"]["content"]
        replacement = tmp_path / "model.gguf.new"
        replacement.write_bytes(b"GGUF" + os.urandom(4096))
        os.replace(replacement, model)
        status, _, reply = request(base, "/v1/chat/completions", ask)
        assert status == 200 and json.loads(reply)["choices"][0]["message"]["content"] == before
        # Loading it again now reads the corrupt file: a clear error, and the server stays up.
        status, _, reply = request(base, "/api/v1/models/load", {"model": str(model), "identifier": "again"})
        assert status in (400, 422) and json.loads(reply)["error"]["message"], reply
        assert request(base, "/v1/chat/completions", ask)[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_loaded_models_file_truncated_in_place_unloads_it_first(tmp_path):
    """Truncating a mapped file would make the next read of a lost page end the service with
    SIGBUS. The loaded file is leased: the truncation waits while the model is unloaded (its
    running stream ends with model_file_changed), then goes ahead, and the service keeps serving."""
    model = tmp_path / "model.gguf"
    shutil.copy(SMOL, model)
    proc, base = serve(["--model", str(model), "--context-length", "2048"], environment(tmp_path / "home"))
    try:
        chunks, reader = long_stream(base, 1500)
        started = time.monotonic()
        os.truncate(model, 4096)  # blocks until the service lets go of the file
        waited = time.monotonic() - started
        reader.join(timeout=60)
        text = b"".join(chunks).decode()
        assert "model_file_changed" in text, text[-500:]
        assert waited < 10 and model.stat().st_size == 4096
        assert proc.poll() is None
        with urllib.request.urlopen(base + "/v1/models", timeout=10) as listing:
            assert json.loads(listing.read())["data"] == []
        # The truncated file now fails to load with a clear error; a whole copy loads and serves.
        status, _, reply = request(base, "/api/v1/models/load", {"model": str(model)})
        assert status == 400 and json.loads(reply)["error"]["message"], reply
        status, _, reply = request(base, "/api/v1/models/load", {"model": SMOL, "context_length": 512})
        assert status == 200, reply
        ask = {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4}
        assert request(base, "/v1/chat/completions", ask)[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_download_killed_with_sigkill_resumes(hub, tmp_path):
    hub.repos[REPO] = {FILE: SMOL}
    hub.chunk_delay = 0.02
    env = environment(tmp_path)
    env["HF_ENDPOINT"] = hub.url
    part = tmp_path / "models" / REPO / (FILE + ".part")
    getter = subprocess.Popen([WICK, "get", REPO], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while (not part.exists() or part.stat().st_size < 20_000_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    getter.kill()
    getter.wait()
    kept = part.stat().st_size
    assert 0 < kept < os.path.getsize(SMOL)
    hub.chunk_delay = 0
    hub.ranges.clear()
    code, _, err = wick(tmp_path, "get", REPO, hub=hub)
    assert code == 0, err
    resumed = [r for _, r in hub.ranges]
    assert len(resumed) == 1 and int(resumed[0][6:].rstrip("-")) >= kept - (1 << 20)  # from where it stopped, not from zero
    code, out, _ = wick(tmp_path, "ls", "--json")
    [stored] = json.loads(out)
    assert open(stored["path"], "rb").read() == open(SMOL, "rb").read()


def test_a_download_whose_writes_fail_reports_it_and_resumes_later(hub, tmp_path):
    """Writes beyond 20 MB fail (RLIMIT_FSIZE, as a full disk fails them): a clear error, nothing
    listed, the partial file kept; with room again, the download resumes."""
    hub.repos[REPO] = {FILE: SMOL}
    env = environment(tmp_path)
    env["HF_ENDPOINT"] = hub.url

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000_000, 20_000_000))
    p = subprocess.run([WICK, "get", REPO], env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                       preexec_fn=small_disk)
    assert p.returncode != 0
    assert "Error" in p.stderr and ("write" in p.stderr.lower() or "large" in p.stderr.lower()), p.stderr
    code, out, _ = wick(tmp_path, "ls", "--json")
    assert json.loads(out) == []
    part = tmp_path / "models" / REPO / (FILE + ".part")
    assert part.exists() and 0 < part.stat().st_size <= 20_000_000
    code, _, err = wick(tmp_path, "get", REPO, hub=hub)
    assert code == 0, err
    code, out, _ = wick(tmp_path, "ls", "--json")
    [stored] = json.loads(out)
    assert open(stored["path"], "rb").read() == open(SMOL, "rb").read()


def test_sighup_reloads_the_api_keys(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("first-key\n")
    proc, base = serve(["--api-key-file", str(keys)], environment(tmp_path / "home"))

    def status(key):
        try:
            with urllib.request.urlopen(urllib.request.Request(base + "/v1/models", headers={"Authorization": f"Bearer {key}"}), timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
    try:
        assert status("first-key") == 200 and status("second-key") == 401
        keys.write_text("second-key\n")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while status("second-key") != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status("second-key") == 200 and status("first-key") == 401
        # A key file that no longer holds a key is refused: the keys in use stay.
        keys.write_text("# nothing\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert status("second-key") == 200 and status("") == 401
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
