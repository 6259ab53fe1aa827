"""The plumbing the fake Elastic services share: a threaded HTTP/1.1 server on a free loopback port
whose requests (method, path parts, headers, parsed JSON body) go to `serve`, which returns
(status, JSON value) or None when it wrote the response itself. Every request is recorded."""
import http.server, json, threading


class JSONService:
    def __init__(self):
        self.received = []  # (method, path, body) of every request
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, value):
                body = b"" if status == 204 else json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    return self.reply(400, service.bad_json())
                service.received.append((method, self.path, body))
                parts = [p for p in self.path.split("?")[0].split("/") if p]
                result = service.serve(method, parts, self.headers, body, self)
                if result is not None:
                    self.reply(*result)

            def do_GET(self):
                self.handle_any("GET")

            def do_PUT(self):
                self.handle_any("PUT")

            def do_POST(self):
                self.handle_any("POST")

            def do_DELETE(self):
                self.handle_any("DELETE")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def bad_json(self):
        return {"error": "request body is not JSON"}

    def serve(self, method, parts, headers, body, handler):
        raise NotImplementedError

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
