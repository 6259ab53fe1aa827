"""Shared helpers of the HTTP and CLI tiers: the built binary, the test models, a fake hub."""
import os, socket, subprocess, tempfile, time, urllib.request
import pytest
from fakehub import FakeHub

MODELS = os.environ.get("WICK_TEST_MODELS") or os.path.expanduser("~/.cache/wick/test-models")
QWEN = os.path.join(MODELS, "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
SMOL = os.path.join(MODELS, "smollm2-135m-instruct-q4_1.gguf")
WICK = os.environ.get("WICK_BIN", ".build/release/wick")


def make_certificate(directory, name):
    """A self-signed certificate for 127.0.0.1 and localhost made by openssl: (cert, key) paths."""
    cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def serve(args, env):
    """`wick server start --foreground` on a free port with `args` and the environment `env` (WICK_HOME
    in it); waits until /health answers. Returns (process, base address)."""
    port = free_port()
    # The log goes to a file: the server logs every prompt, and a pipe nobody reads would fill and stall it.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([WICK, "server", "start", "--foreground", "--port", str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=log, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            return proc, base
        except Exception:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(log.read().decode())
            time.sleep(0.25)
    raise RuntimeError("the server did not start")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wick(home, *args, hub=None, timeout=600, env=None, input=None):
    """Runs the CLI with its own WICK_HOME and no terminal; returns (code, stdout, stderr)."""
    e = {k: v for k, v in os.environ.items() if k != "WICK_API_KEY"}
    e.update(WICK_HOME=str(home), **(env or {}))
    if hub is not None:
        e["HF_ENDPOINT"] = hub.url
    p = subprocess.run([WICK, *args], capture_output=True, text=True, timeout=timeout, env=e,
                       **({"input": input} if input is not None else {"stdin": subprocess.DEVNULL}))
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def hub():
    h = FakeHub()
    yield h
    h.close()
