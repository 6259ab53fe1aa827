"""A Hugging Face–compatible hub on loopback for the download tests: search, repository info, the file tree
with sizes and LFS SHA-256, and file downloads behind a redirect with HTTP Range support. It can drop
a connection part-way through a file and serve a corrupted byte, and records each request's Range."""
import hashlib, http.server, json, os, threading, time, urllib.parse


class FakeHub:
    def __init__(self):
        self.repos = {}           # "owner/repo" -> {path in repo: file on disk}
        self.drop_after = {}      # path -> bytes sent before the connection is cut (once)
        self.corrupt = set()      # paths served with one byte flipped
        self.ranges = []          # (path, Range header or None) per download request
        self.sha = {}
        self.token = None         # when set, API calls without "Authorization: Bearer <token>" get 401
        self.chunk_delay = 0      # seconds to wait before each MiB of a file (a slow link)
        self.downloads = {}       # "owner/repo" -> download count shown by search
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_json(self, status, value):
                body = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = urllib.parse.urlparse(self.path).path
                parts = path.strip("/").split("/")
                if hub.token and parts[0] != "cdn" and self.headers.get("Authorization") != f"Bearer {hub.token}":
                    return self.send_json(401, {"error": "Invalid credentials"})
                if parts == ["api", "models"]:
                    # Search: repositories whose name holds the words, most downloaded first.
                    query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                    words = query.get("search", [""])[0].lower().split()
                    limit = int(query.get("limit", ["20"])[0])
                    found = [r for r in hub.repos if all(w in r.lower() for w in words)]
                    found.sort(key=lambda r: -hub.downloads.get(r, 0))
                    return self.send_json(200, [{"id": r, "downloads": hub.downloads.get(r, 0), "likes": 0, "tags": ["gguf"]}
                                                for r in found[:limit]])
                if parts[:2] == ["api", "models"] and len(parts) >= 4:
                    repo = "/".join(parts[2:4])
                    if repo not in hub.repos:
                        return self.send_json(404, {"error": "Repository not found"})
                    if len(parts) == 4:
                        return self.send_json(200, {"id": repo, "siblings": [{"rfilename": f} for f in hub.repos[repo]]})
                    if parts[4:6] == ["tree", "main"]:
                        return self.send_json(200, [{"type": "file", "path": f, "size": os.path.getsize(src), "oid": "0" * 40,
                                                     "lfs": {"oid": hub.sha_of(src), "size": os.path.getsize(src), "pointerSize": 134}}
                                                    for f, src in hub.repos[repo].items()])
                if len(parts) >= 5 and parts[2:4] == ["resolve", "main"]:
                    # As the real hub does, send the client on to the file store.
                    self.send_response(302)
                    self.send_header("Location", "/cdn/" + "/".join(parts[:2] + parts[4:]))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if parts[0] == "cdn" and len(parts) >= 4:
                    repo, name = "/".join(parts[1:3]), "/".join(parts[3:])
                    src = hub.repos.get(repo, {}).get(name)
                    if src is None:
                        return self.send_json(404, {"error": "Entry not found"})
                    return self.send_file(name, src)
                self.send_json(404, {"error": "not found"})

            def send_file(self, name, src):
                size = os.path.getsize(src)
                header = self.headers.get("Range")
                hub.ranges.append((name, header))
                start = int(header.split("=")[1].split("-")[0]) if header else 0
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if header else 200)
                if header:
                    self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                self.send_header("Content-Length", str(size - start))
                self.end_headers()
                limit = hub.drop_after.pop(name, None)
                with open(src, "rb") as f:
                    f.seek(start)
                    sent = 0
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        if name in hub.corrupt and start + sent <= size // 2 < start + sent + len(chunk):
                            i = size // 2 - start - sent
                            chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1:]
                        if limit is not None and sent + len(chunk) > limit:
                            self.wfile.write(chunk[: limit - sent])
                            self.wfile.flush()
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                        if hub.chunk_delay:
                            time.sleep(hub.chunk_delay)
                        self.wfile.write(chunk)
                        sent += len(chunk)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sha_of(self, src):
        if src not in self.sha:
            h = hashlib.sha256()
            with open(src, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 22), b""):
                    h.update(chunk)
            self.sha[src] = h.hexdigest()
        return self.sha[src]

    def close(self):
        self.server.shutdown()
