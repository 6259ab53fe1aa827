"""A catalogue of hostile requests: every route gets malformed JSON, wrong types, out-of-range
numbers, deep nesting, invalid UTF-8, oversized and badly framed bodies, oversized headers, path
tricks, slow clients and idle connections. Each must get the right 4xx with an error body in its
API's shape (OpenAI's, Anthropic's or Ollama's), and after each one the server must still answer."""
import json, os, socket, time, urllib.request
import pytest
from conftest import SMOL, serve

READ_TIMEOUT = 2
MAX_CONNECTIONS = 120
TEMPLATE_OUTPUT = 65536


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if k != "WICK_API_KEY"}
    env["WICK_HOME"] = str(home)
    proc, base = serve(["--model", SMOL, "--context-length", "512", "--read-timeout", str(READ_TIMEOUT),
                        "--max-connections", str(MAX_CONNECTIONS), "--max-body-bytes", str(1 << 20),
                        "--max-header-bytes", "16384", "--template-max-output-bytes", str(TEMPLATE_OUTPUT)], env)
    yield proc, int(base.rsplit(":", 1)[1])
    proc.terminate()
    proc.wait(timeout=30)


def exchange(port, data, timeout=10, half_close=False):
    """Sends raw bytes and reads the response: (status, headers, body bytes); status None when the
    server closed without answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return read_response(s)


def read_response(s):
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = s.recv(65536)
        if not chunk:
            return (None, {}, raw)
        raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "-1"))
    while length >= 0 and len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def post(path, body, content_type="application/json", extra=""):
    data = body if isinstance(body, bytes) else body.encode()
    return (f"POST /{path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n{extra}"
            f"Connection: close\r\n\r\n").encode() + data


def assert_error(status, headers, body, expected, path=""):
    assert status == expected, (status, body[:300])
    doc = json.loads(body)
    if path.startswith("v1/messages"):
        assert doc["type"] == "error" and doc["error"]["message"], doc
    elif path.startswith("api/") and not path.startswith("api/v1"):
        assert isinstance(doc["error"], str) and doc["error"], doc
    else:
        assert doc["error"]["message"] and doc["error"]["type"], doc


def alive(proc, port):
    assert proc.poll() is None, "the server died"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
        assert r.status == 200


OPENAI = ["v1/chat/completions", "v1/completions", "v1/embeddings", "v1/responses"]
ALL_POST = OPENAI + ["v1/messages", "v1/messages/count_tokens", "api/chat", "api/generate", "api/embed", "api/show", "api/v1/models/load"]

# Body-level cases every POST route must refuse with a 400.
GENERIC = {
    "malformed JSON": b'{"model": "x", "messages": [',
    "trailing garbage": b'{"model": "x"} {"again": 1}',
    "a JSON array": b'[1, 2, 3]',
    "a JSON string": b'"hello"',
    "empty body": b'',
    "invalid UTF-8": b'{"model": "\xff\xfe", "messages": [{"role": "user", "content": "\xc3\x28"}]}',
    "NaN literal": b'{"model": "x", "temperature": NaN}',
    "deep nesting": b'{"a": ' + b'[' * 100000 + b']' * 100000 + b'}',
    "model of the wrong type": b'{"model": 42, "messages": [{"role": "user", "content": "hi"}], "input": "x", "prompt": "x"}',
}


@pytest.mark.parametrize("path", ALL_POST)
@pytest.mark.parametrize("case", list(GENERIC))
def test_generic_body_cases(server, path, case):
    proc, port = server
    status, headers, body = exchange(port, post(path, GENERIC[case]))
    assert_error(status, headers, body, 400, path)
    alive(proc, port)


def chat(**fields):
    return json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, **fields})


CHAT_CASES = {
    "messages missing": (json.dumps({"max_tokens": 2}), 400),
    "messages not an array": (json.dumps({"messages": "hi"}), 400),
    "messages empty": (json.dumps({"messages": []}), 400),
    "message not an object": (json.dumps({"messages": ["hi"]}), 400),
    "unknown role": (json.dumps({"messages": [{"role": "wizard", "content": "hi"}]}), 400),
    "content a number": (json.dumps({"messages": [{"role": "user", "content": 42}]}), 400),
    "content an object": (json.dumps({"messages": [{"role": "user", "content": {"a": 1}}]}), 400),
    "content part text a number": (json.dumps({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}), 400),
    "content part unknown type": (json.dumps({"messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]}), 400),
    "tool_calls a string": (json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": "x"}]}), 400),
    "tool call without a name": (json.dumps({"messages": [{"role": "user", "content": "hi"},
                                                          {"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}]}), 400),
    "temperature negative": (chat(temperature=-1), 400),
    "temperature huge": (chat(temperature=1e308), 400),
    "temperature 1e999": ('{"messages": [{"role": "user", "content": "hi"}], "temperature": 1e999}', 400),
    "temperature a string": (chat(temperature="hot"), 400),
    "top_p above one": (chat(top_p=2), 400),
    "top_k huge": (chat(top_k=1 << 62), 400),
    "max_tokens negative": (chat(max_tokens=-5), 400),
    "max_tokens zero": (chat(max_tokens=0), 400),
    "max_tokens 1e20": ('{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e20}', 400),
    "max_tokens a float": (chat(max_tokens=2.5), 400),
    "n huge": (chat(n=1000000), 400),
    "top_logprobs huge": (chat(logprobs=True, top_logprobs=1000), 400),
    "logprobs a string": (chat(logprobs="yes"), 400),
    "stream a string": (chat(stream="true"), 400),
    "thousands of stop strings": (chat(stop=["x%d" % i for i in range(5000)]), 400),
    "stop a number": (chat(stop=7), 400),
    "seed a string": (chat(seed="abc"), 400),
    "logit_bias an array": (chat(logit_bias=[1, 2]), 400),
    "logit_bias bad key": (chat(logit_bias={"abc": 1}), 400),
    "presence_penalty out of range": (chat(presence_penalty=50), 400),
    "tools a string": (chat(tools="all"), 400),
    "tool not an object": (chat(tools=[7]), 400),
    "tool without a name": (chat(tools=[{"type": "function", "function": {"parameters": {"type": "object"}}}]), 400),
    "tool with an empty name": (chat(tools=[{"type": "function", "function": {"name": ""}}]), 400),
    "tool with a name too long": (chat(tools=[{"type": "function", "function": {"name": "x" * 1000}}]), 400),
    "tool parameters a string": (chat(tools=[{"type": "function", "function": {"name": "f", "parameters": "object"}}]), 400),
    "tool of another type": (chat(tools=[{"type": "retrieval", "function": {"name": "f"}}]), 400),
    "tool_choice naming no tool": (chat(tools=[{"type": "function", "function": {"name": "f"}}], tool_choice={"type": "function", "function": {"name": "g"}}), 400),
    "tool_choice a number": (chat(tool_choice=3), 400),
    "tool_choice required without tools": (chat(tool_choice="required"), 400),
    "response_format bad type": (chat(response_format={"type": "yaml"}), 400),
    "json_schema without schema": (chat(response_format={"type": "json_schema", "json_schema": {"name": "x"}}), 400),
    "json_schema unsupported keyword": (chat(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "if": {}}}}), 400),
    "json_schema not a schema": (chat(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": 42}}), 400),
    "unknown model": (chat(model="no-such-model"), 404),
    "prompt beyond the context": (json.dumps({"messages": [{"role": "user", "content": "word " * 3000}], "max_tokens": 2}), 400),
    "twenty thousand messages": (json.dumps({"messages": [{"role": "user", "content": ""}] * 20000, "max_tokens": 2}), 400),
}


@pytest.mark.parametrize("case", list(CHAT_CASES))
def test_chat_completions_cases(server, case):
    proc, port = server
    body, expected = CHAT_CASES[case]
    status, headers, reply = exchange(port, post("v1/chat/completions", body))
    assert_error(status, headers, reply, expected)
    alive(proc, port)


OTHER_CASES = {
    "completions prompt a number": ("v1/completions", {"prompt": 5}, 400),
    "completions negative token id": ("v1/completions", {"prompt": [1, -3]}, 400),
    "completions token id beyond the vocabulary": ("v1/completions", {"prompt": [1, 2, 99999999], "max_tokens": 2}, 400),
    "completions logprobs huge": ("v1/completions", {"prompt": "hi", "logprobs": 500}, 400),
    "embeddings input a number": ("v1/embeddings", {"input": 5}, 400),
    "embeddings input empty": ("v1/embeddings", {"input": []}, 400),
    "embeddings token id beyond the vocabulary": ("v1/embeddings", {"input": [[1, 99999999]]}, 400),
    "embeddings dimensions negative": ("v1/embeddings", {"input": "x", "dimensions": -4}, 400),
    "embeddings encoding unknown": ("v1/embeddings", {"input": "x", "encoding_format": "hex"}, 400),
    "responses input a number": ("v1/responses", {"input": 5}, 400),
    "responses unknown previous id": ("v1/responses", {"input": "hi", "previous_response_id": "resp_nope"}, 404),
    "responses max_output_tokens negative": ("v1/responses", {"input": "hi", "max_output_tokens": -1}, 400),
    "messages max_tokens negative": ("v1/messages", {"max_tokens": -1, "messages": [{"role": "user", "content": "hi"}]}, 400),
    "messages system a number": ("v1/messages", {"max_tokens": 2, "system": 5, "messages": [{"role": "user", "content": "hi"}]}, 400),
    "messages content block unknown": ("v1/messages", {"max_tokens": 2, "messages": [{"role": "user", "content": [{"type": "x"}]}]}, 400),
    "count_tokens messages missing": ("v1/messages/count_tokens", {}, 400),
    "ollama chat options a string": ("api/chat", {"messages": [{"role": "user", "content": "hi"}], "options": "hot"}, 400),
    "ollama chat temperature a string": ("api/chat", {"messages": [{"role": "user", "content": "hi"}], "options": {"temperature": "x"}}, 400),
    "ollama generate prompt a number": ("api/generate", {"prompt": 5}, 400),
    "ollama keep_alive garbage": ("api/generate", {"prompt": "hi", "keep_alive": "forever-ish"}, 400),
    "ollama show unknown model": ("api/show", {"model": "nothing-here"}, 404),
    "ollama embed input a number": ("api/embed", {"input": 5}, 400),
    "native load of a file that is not GGUF": ("api/v1/models/load", {"model": "../../../../../../etc/passwd"}, 400),
    "native load context negative": ("api/v1/models/load", {"model": "x", "context_length": -1}, 400),
}


def test_the_template_output_limit_is_a_setting(server):
    proc, port = server
    status, headers, reply = exchange(port, post("v1/chat/completions", json.dumps(
        {"messages": [{"role": "user", "content": "x" * (TEMPLATE_OUTPUT + 10)}], "max_tokens": 2})))
    assert_error(status, headers, reply, 400)
    error = json.loads(reply)["error"]
    assert error["code"] == "template_error" and "65536 bytes" in error["message"], error
    alive(proc, port)


@pytest.mark.parametrize("case", list(OTHER_CASES))
def test_other_route_cases(server, case):
    proc, port = server
    path, body, expected = OTHER_CASES[case]
    status, headers, reply = exchange(port, post(path, json.dumps(body)))
    assert_error(status, headers, reply, expected, path)
    alive(proc, port)


def test_protocol_level_errors_are_json(server):
    proc, port = server
    cases = [
        ("garbage request line", b"GARBAGE\r\n\r\n", 400),
        ("bad Content-Length", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}", 400),
        ("two Content-Lengths", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
        ("bad chunk size", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n", 400),
        ("oversized header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n", 431),
        ("oversized URL", b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431),
        ("NUL in a header", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400),
    ]
    for name, data, expected in cases:
        status, headers, body = exchange(port, data)
        assert status == expected, (name, status, body[:200])
        assert json.loads(body)["error"]["message"], name
        assert headers.get("connection") == "close", name
        alive(proc, port)


def test_body_shorter_than_its_length(server):
    """A client that declares more than it sends and stops writing: a 400 at once; one that keeps
    the connection open: a 408 after the read timeout."""
    proc, port = server
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    status, _, body = exchange(port, head + b'{"messages": [', half_close=True)
    assert status == 400 and json.loads(body)["error"]["code"] == "malformed_request", body
    alive(proc, port)
    started = time.monotonic()
    status, _, body = exchange(port, head + b'{"messages": [')
    assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout", body
    assert READ_TIMEOUT - 0.5 < time.monotonic() - started < READ_TIMEOUT + 3
    alive(proc, port)


def test_declared_huge_body_refused_before_it_is_sent(server):
    proc, port = server
    started = time.monotonic()
    data = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{"
    status, headers, body = exchange(port, data)
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"
    assert headers.get("connection") == "close"
    assert time.monotonic() - started < 2
    # A chunked body past the limit is cut off as it arrives.
    chunk = b"x" * 65536
    data = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        try:
            for _ in range(40):
                s.sendall(b"10000\r\n" + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, body = read_response(s)
    assert status == 413
    alive(proc, port)


def test_path_tricks_and_methods(server):
    proc, port = server
    for path, expected in [("/v1/models/../../../etc/passwd", 404), ("/%2e%2e/%2e%2e/etc/passwd", 404),
                           ("/v1/models/%00", 404), ("/api/v1/models/download/status/..%2f..%2fx", 404), ("/nothing", 404)]:
        status, _, body = exchange(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert status == expected, (path, status, body)
        assert json.loads(body)["error"]["message"]
        assert b"root:" not in body
    status, _, body = exchange(port, b"BREW /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status in (400, 405) and json.loads(body)["error"]["message"]
    status, _, body = exchange(port, b"PUT /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    assert status in (404, 405) and json.loads(body)["error"]["type"] == "invalid_request_error"
    alive(proc, port)


def test_slowloris_is_closed(server):
    """Headers trickled a byte at a time never finish: the connection is closed after the read
    timeout, and others are served meanwhile."""
    proc, port = server
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    started = time.monotonic()
    closed = False
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    try:
        for i, byte in enumerate(request):
            s.sendall(bytes([byte]))
            time.sleep(0.1)
            if i == 10:
                alive(proc, port)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    if not closed:
        s.settimeout(5)
        closed = s.recv(100) == b""
    s.close()
    assert closed
    assert time.monotonic() - started < READ_TIMEOUT + 3
    alive(proc, port)


def test_idle_connections_and_the_connection_limit(server):
    """Connections up to the limit stay open while the server keeps serving; one more gets a 503 in
    OpenAI's shape; idle ones are closed after the read timeout."""
    proc, port = server
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(MAX_CONNECTIONS - 1)]
    try:
        alive(proc, port)
        time.sleep(0.2)  # the probe's connection closed
        extra = socket.create_connection(("127.0.0.1", port), timeout=10)
        status, headers, body = exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 503 and json.loads(body)["error"]["code"] == "too_many_connections"
        assert headers.get("retry-after") == "1"
        extra.close()
        time.sleep(READ_TIMEOUT + 1)
        for s in idle[:10]:
            s.settimeout(5)
            assert s.recv(10) == b""
        alive(proc, port)
    finally:
        for s in idle:
            s.close()


def test_a_real_request_still_works_after_the_catalogue(server):
    proc, port = server
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=chat(temperature=0).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        doc = json.loads(r.read())
    assert doc["choices"][0]["message"]["role"] == "assistant"
    assert doc["usage"]["completion_tokens"] >= 1
