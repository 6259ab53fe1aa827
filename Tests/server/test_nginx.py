"""Real nginx in front of Wick with the configuration of Elastic's guide: TLS on nginx, the bearer
token checked by nginx, proxy_pass to Wick on loopback, buffering off — and with nginx's default
buffering left on, which Wick's `X-Accel-Buffering: no` overrides. A streamed chat goes through in many
small pieces as tokens are made; a wrong token stops at nginx."""
import json, os, shutil, socket, ssl, subprocess, time, urllib.request
import pytest
from conftest import SMOL, free_port, make_certificate, wick

TOKEN = "guide-secret-token"
pytestmark = pytest.mark.skipif(shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"), reason="nginx is installed by scripts/test")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture(scope="module", params=["off", "on"])
def proxied(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("nginx")
    home = tmp_path_factory.mktemp("nginx-home")
    wick_port, nginx_port = free_port(), free_port()
    code, _, err = wick(home, "server", "start", "--port", str(wick_port), "--model", SMOL, "--context-length", "1024")
    assert code == 0, err
    cert, key = make_certificate(root, "proxy")
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / d).mkdir()
    (root / "nginx.conf").write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
pid {root}/nginx.pid;
error_log stderr;
events {{}}
http {{
    access_log off;
    client_body_temp_path {root}/body; proxy_temp_path {root}/proxy; fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{nginx_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            if ($http_authorization != "Bearer {TOKEN}") {{ return 401; }}
            proxy_pass http://127.0.0.1:{wick_port}/;
            proxy_http_version 1.1;
            proxy_buffering {request.param};
            proxy_read_timeout 600s;
        }}
    }}
}}
""")
    proc = subprocess.Popen([NGINX, "-p", str(root), "-c", str(root / "nginx.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", nginx_port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode())
            time.sleep(0.1)
    yield {"port": nginx_port, "cert": cert}
    proc.terminate()
    proc.wait(timeout=20)
    wick(home, "server", "stop")


def test_a_stream_passes_through_nginx_as_it_is_made(proxied):
    body = json.dumps({"model": "smollm2-135m-instruct-q4_1", "stream": True, "max_tokens": 120, "ignore_eos": True,
                       "messages": [{"role": "user", "content": "Tell a story."}]}).encode()
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    context = ssl.create_default_context(cafile=str(proxied["cert"]))
    reads = []
    with socket.create_connection(("127.0.0.1", proxied["port"]), timeout=120) as raw, context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(request)
        while True:
            data = tls.recv(65536)
            if not data:
                break
            reads.append(data)
    text = b"".join(reads).decode()
    assert text.startswith("HTTP/1.1 200") and "text/event-stream" in text
    events = [line for line in text.split("\n") if line.startswith("data: {")]
    assert len(events) >= 100 and "data: [DONE]" in text
    # Unbuffered: the events came in many small reads, not in a few buffer-sized blocks at the end.
    assert len(reads) >= 40, f"{len(reads)} reads for {len(events)} events"


def test_a_wrong_token_stops_at_nginx(proxied):
    context = ssl.create_default_context(cafile=str(proxied["cert"]))
    request = urllib.request.Request(f"https://127.0.0.1:{proxied['port']}/v1/models", headers={"Authorization": "Bearer nope"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert e.value.code == 401
    request = urllib.request.Request(f"https://127.0.0.1:{proxied['port']}/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
    models = json.loads(urllib.request.urlopen(request, context=context, timeout=10).read())
    assert models["data"][0]["id"] == "smollm2-135m-instruct-q4_1"
