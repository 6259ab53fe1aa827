"""The soak behind scripts/soak (standard library only)."""
import argparse, collections, http.client, json, os, random, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

MODELS = os.environ.get("WICK_TEST_MODELS") or os.path.expanduser("~/.cache/wick/test-models")
QUESTIONS = ["What is the capital of France?", "Name three prime numbers.", "Write a haiku about rivers.",
             "Explain what a hash table is.", "Count from one to twenty.", "What colour is the sky at noon?",
             "List four animals that live in the sea.", "Summarise the rules of chess in two sentences."]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def queued(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
        return json.loads(r.read())["queued"]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = collections.Counter()
        self.errors = collections.Counter()
        self.ttft = []
        self.hangups = 0

    def add(self, status=None, error=None, ttft=None, hangup=False):
        with self.lock:
            if status is not None:
                self.statuses[status] += 1
            if error is not None:
                self.errors[error] += 1
            if ttft is not None:
                self.ttft.append(ttft)
            self.hangups += hangup


def one_request(port, stats, rng):
    """A chat request, streamed or not; about a third of clients hang up part-way."""
    stream = rng.random() < 0.7
    hang_up_after = rng.choice([None, None, 1, 3, 8]) if stream else (rng.uniform(0.05, 0.5) if rng.random() < 0.3 else None)
    body = json.dumps({"messages": [{"role": "user", "content": rng.choice(QUESTIONS)}], "max_tokens": rng.randint(8, 96),
                       "temperature": 0.7, "stream": stream}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.monotonic()
    try:
        if not stream and hang_up_after is not None:
            conn.connect()
            conn.sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              b"Content-Length: %d\r\n\r\n" % len(body) + body)
            time.sleep(hang_up_after)
            stats.add(hangup=True)
            return
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        stats.add(status=response.status)
        if response.status != 200:
            doc = json.loads(response.read() or b"{}")
            stats.add(error=(doc.get("error") or {}).get("code"))
            # As a client should: wait as long as the server asks before trying again.
            time.sleep(float(response.getheader("Retry-After") or 1))
            return
        if not stream:
            response.read()
            return
        chunks = 0
        for line in response:
            if line.startswith(b"data: {") and b'"content":"' in line and b'"content":""' not in line:
                if chunks == 0:
                    stats.add(ttft=time.monotonic() - started)
                chunks += 1
                if hang_up_after is not None and chunks >= hang_up_after:
                    stats.add(hangup=True)
                    return
    except (OSError, http.client.HTTPException) as e:
        stats.add(error=type(e).__name__)
    finally:
        conn.close()


def client(port, stats, deadline, seed):
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        one_request(port, stats, rng)


def release_latency(port, streams, rounds):
    """Opens `streams` streams at once on the otherwise idle server, waits until they all stream,
    closes them together, and times until /ready reports no request queued, for each round."""
    times = []
    for _ in range(rounds):
        socks = []
        body = json.dumps({"messages": [{"role": "user", "content": "Write a long story."}], "max_tokens": 900,
                           "ignore_eos": True, "stream": True}).encode()
        for _ in range(streams):
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            socks.append(s)
        for s in socks:
            received = b""
            while received.count(b'"content":"') < 3:
                piece = s.recv(65536)
                if not piece or received.startswith(b"HTTP/1.1 4") or received.startswith(b"HTTP/1.1 5"):
                    raise RuntimeError(f"a stream of the release check failed: {received[:300]!r}")
                received += piece
        closed = time.monotonic()
        for s in socks:
            s.close()
        while queued(port) > 0:
            time.sleep(0.002)
        times.append(time.monotonic() - closed)
    return sorted(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=24)
    p.add_argument("--seconds", type=int, default=180)
    p.add_argument("--model", default=os.path.join(MODELS, "smollm2-135m-instruct-q4_1.gguf"))
    args = p.parse_args()
    port = free_port()
    home = tempfile.mkdtemp(prefix="wick-soak-")
    log = open(os.path.join(home, "server.log"), "wb")
    env = {k: v for k, v in os.environ.items() if k != "WICK_API_KEY"}
    env["WICK_HOME"] = home
    server = subprocess.Popen([".build/release/wick", "server", "start", "--foreground", "--port", str(port), "--model", args.model,
                               "--context-length", "1024", "--max-queued", "16"], stdout=log, stderr=log, env=env)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.25)
        print(f"soak: {args.clients} clients for {args.seconds} s against {os.path.basename(args.model)} (--max-queued 16)")
        before = rss_kib(server.pid)
        stats = Stats()
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=client, args=(port, stats, deadline, i)) for i in range(args.clients)]
        for t in threads:
            t.start()
        samples = []  # (seconds into the run, RSS)
        started = time.monotonic()
        while any(t.is_alive() for t in threads):
            samples.append((time.monotonic() - started, rss_kib(server.pid)))
            time.sleep(1)
        for t in threads:
            t.join()
        time.sleep(1)
        after = rss_kib(server.pid)
        release = release_latency(port, 4, 20)
        ttft = sorted(stats.ttft)
        quantile = lambda q: ttft[min(len(ttft) - 1, int(q * len(ttft)))] if ttft else float("nan")
        # The KV cache's pages are touched as they are first used: RSS rises over the first part of
        # the run, then must stay flat.
        warm = [r for t, r in samples if args.seconds / 3 <= t < args.seconds * 2 / 3]
        late = [r for t, r in samples if t >= args.seconds * 2 / 3]
        print(f"statuses: {dict(stats.statuses)}; error codes: {dict(stats.errors)}; clients that hung up: {stats.hangups}")
        print(f"time to first token (streams): p50 {quantile(0.5):.3f} s, p99 {quantile(0.99):.3f} s over {len(ttft)} streams")
        print(f"RSS: {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after; median of the middle third "
              f"{statistics.median(warm or [0]) / 1024:.1f} MiB, of the last third {statistics.median(late or [0]) / 1024:.1f} MiB, "
              f"max {max([r for _, r in samples] or [0]) / 1024:.1f} MiB")
        print(f"queue places of 4 streams closed together all given back after {release[len(release) // 2] * 1000:.0f} ms (median of "
              f"{len(release)} rounds), {release[-1] * 1000:.0f} ms at the slowest")
        bad = {s: n for s, n in stats.statuses.items() if s >= 500 and not (s == 503 and set(stats.errors) <= {"queue_full"})}
        failures = {e: n for e, n in stats.errors.items() if e not in ("queue_full",)}
        ok = server.poll() is None and not bad and not failures
        print("soak:", "passed" if ok else f"FAILED (server alive: {server.poll() is None}, 5xx: {bad}, errors: {failures})")
        return 0 if ok else 1
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
