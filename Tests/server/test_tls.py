"""Wick's own TLS, so a remote Elastic needs no proxy: a self-signed certificate made by `openssl` here,
a streamed chat over HTTPS verified against it, the CLI reaching its HTTPS service, the certificate
reloaded on SIGHUP (and kept when the new files are broken), bad files refused at start."""
import json, os, signal, socket, ssl, time, urllib.request
import pytest
from conftest import SMOL, free_port, make_certificate, wick

KEY = "tls-test-key"


def peer_certificate(port):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, context.wrap_socket(raw) as tls:
        return tls.getpeercert(binary_form=True)


def der(cert_file):
    return ssl.PEM_cert_to_DER_cert(open(cert_file).read())


@pytest.fixture(scope="module")
def tls_service(tmp_path_factory):
    home = tmp_path_factory.mktemp("tls-home")
    cert, key = make_certificate(home, "first")
    port = free_port()
    code, out, err = wick(home, "server", "start", "--port", str(port), "--model", SMOL, "--context-length", "1024",
                          "--tls-cert", str(cert), "--tls-key", str(key), env={"WICK_API_KEY": KEY})
    assert code == 0, err
    assert f"https://127.0.0.1:{port}" in out
    state = json.load(open(home / "service.json"))
    yield {"home": home, "port": port, "cert": cert, "key": key, "pid": state["pid"]}
    wick(home, "server", "stop")
    try:
        os.kill(state["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_streamed_chat_over_https_verified_against_the_certificate(tls_service):
    context = ssl.create_default_context(cafile=str(tls_service["cert"]))
    request = urllib.request.Request(f"https://127.0.0.1:{tls_service['port']}/v1/chat/completions", data=json.dumps(
        {"model": "smollm2-135m-instruct-q4_1", "stream": True, "max_tokens": 8,
         "messages": [{"role": "user", "content": "Say hello."}]}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, context=context, timeout=120) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        body = r.read().decode()
    assert '"object":"chat.completion.chunk"' in body and body.rstrip().endswith("data: [DONE]")
    # Plain HTTP to the TLS port gets no HTTP answer.
    with pytest.raises(Exception):
        urllib.request.urlopen(f"http://127.0.0.1:{tls_service['port']}/health", timeout=10)


def test_the_cli_reaches_its_https_service(tls_service):
    code, out, err = wick(tls_service["home"], "ps", "--json")
    assert code == 0, err
    assert "smollm2-135m-instruct-q4_1" in out


def test_sighup_reloads_the_certificate_and_keeps_it_when_the_new_files_are_broken(tls_service, tmp_path):
    port, cert, key = tls_service["port"], tls_service["cert"], tls_service["key"]
    assert peer_certificate(port) == der(cert)
    second_cert, second_key = make_certificate(tmp_path, "second")
    os.replace(second_cert, cert)
    os.replace(second_key, key)
    os.kill(tls_service["pid"], signal.SIGHUP)
    for _ in range(50):
        if peer_certificate(port) == der(cert):
            break
        time.sleep(0.1)
    assert peer_certificate(port) == der(cert)
    served = der(cert)
    key.write_text("not a key")
    os.kill(tls_service["pid"], signal.SIGHUP)
    time.sleep(0.5)
    assert peer_certificate(port) == served
    assert urllib.request.urlopen(urllib.request.Request(f"https://127.0.0.1:{port}/health"),
                                  context=ssl._create_unverified_context(), timeout=10).status == 200


def test_bad_certificate_files_are_refused_at_start(tmp_path):
    cert, key = make_certificate(tmp_path, "lonely")
    code, _, err = wick(tmp_path, "server", "start", "--port", str(free_port()), "--tls-cert", str(cert), "--tls-key", str(tmp_path / "missing.pem"))
    assert code != 0 and "cannot use the TLS certificate" in err
    code, _, err = wick(tmp_path, "server", "start", "--port", str(free_port()), "--tls-cert", str(cert))
    assert code != 0 and "--tls-cert and --tls-key go together" in err
