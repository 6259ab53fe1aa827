"""The web interface at `/` in headless Chromium (Debian's chromium and chromium-driver, driven with
selenium) against the real background service: the hub searched and a model downloaded with live
progress (from the fake hub), the store's models, a load at a chosen context length (which
`wick ps --json` then shows), a streamed chat and its templated prompt in the log, reasoning folded and tool calls shown in the chat, the Kibana
connector values, unload, keys created and revoked (turning keys on and off), the local network
served and no longer while a stream runs on, and a key asked for and used. A screenshot of each screen is saved under .build/web-screenshots; the page's
transfer size and time to interactive are printed."""
import json, os, signal, socket, subprocess, sys, threading, time, urllib.error, urllib.request
import pytest
from conftest import SMOL, free_port, wick
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SMOL_KEY = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
SHOTS = os.path.join(os.path.dirname(__file__), "..", "..", ".build", "web-screenshots")


def start_service(home, *args, hub=None):
    port = free_port()
    code, _, err = wick(home, "server", "start", "--port", str(port), *args, hub=hub)
    assert code == 0, err
    return f"http://127.0.0.1:{port}", json.load(open(home / "service.json"))["pid"]


def stop_service(home, pid):
    wick(home, "server", "stop")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
    os.makedirs(SHOTS, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    home = tmp_path_factory.mktemp("web-home")
    assert wick(home, "import", SMOL, "--user-repo", SMOL_KEY, "--symbolic-link")[0] == 0
    base, pid = start_service(home)
    yield home, base
    stop_service(home, pid)


def wait(driver, condition, timeout=60):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))


def screen(driver, name):
    driver.find_element(By.ID, "tab-" + name).click()
    wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == name)


def text(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def test_models_load_chat_server_and_unload(browser, service):
    home, base = service
    browser.get(base + "/#models")
    wait(browser, lambda d: SMOL_KEY in text(d, "model-rows"))
    timing = browser.execute_script("""
        const nav = performance.getEntriesByType('navigation')[0];
        const resources = performance.getEntriesByType('resource');
        return {interactive: nav.domInteractive, complete: nav.loadEventEnd,
                bytes: nav.transferSize + resources.reduce((n, r) => n + r.transferSize, 0),
                files: 1 + resources.length, foreign: resources.filter(r => !r.name.startsWith(location.origin)).length};""")
    print(f"\nweb interface: {timing['files']} files, {timing['bytes']} bytes transferred, interactive after "
          f"{timing['interactive']:.0f} ms, loaded after {timing['complete']:.0f} ms")
    assert timing["foreign"] == 0
    row = text(browser, "model-rows")
    assert "135M" in row and "Q4_1" in row and "8192" in row
    browser.save_screenshot(os.path.join(SHOTS, "models.png"))

    # Load at a chosen context length: the estimate follows the field.
    screen(browser, "load")
    field = browser.find_element(By.ID, "load-context")
    field.clear()
    field.send_keys("1024")
    # What the load needs (what is available, after it, moves with the machine's other work).
    needs = lambda d: text(d, "load-estimate").split(" of ")[0]
    wait(browser, lambda d: "Needs" in text(d, "load-estimate"))
    estimate_at_1024 = needs(browser)
    field.clear()
    field.send_keys("4096")
    wait(browser, lambda d: "Needs" in text(d, "load-estimate") and needs(d) != estimate_at_1024)
    field.clear()
    field.send_keys("1024")
    wait(browser, lambda d: needs(d) == estimate_at_1024)
    assert browser.find_element(By.ID, "load-context-range").get_attribute("value") == "1024"
    browser.find_element(By.ID, "load-identifier").send_keys("smol-web")
    browser.find_element(By.ID, "load-button").click()
    wait(browser, lambda d: "Loaded smol-web" in text(d, "notice"))
    wait(browser, lambda d: "smol-web" in text(d, "instance-rows") and "1024" in text(d, "instance-rows"))
    browser.save_screenshot(os.path.join(SHOTS, "load.png"))
    code, out, err = wick(home, "ps", "--json")
    assert code == 0, err
    assert [(i["identifier"], i["context_length"]) for i in json.loads(out)] == [("smol-web", 1024)]

    # A streamed reply, with its time to first token and speed.
    screen(browser, "chat")
    assert browser.find_element(By.ID, "chat-model").get_attribute("value") == "smol-web"
    browser.find_element(By.ID, "chat-max-tokens").clear()
    browser.find_element(By.ID, "chat-max-tokens").send_keys("24")
    browser.find_element(By.ID, "chat-input").send_keys("What is the capital of France?")
    browser.find_element(By.ID, "chat-send").click()
    wait(browser, lambda d: "tokens/s" in text(d, "chat-log"))
    reply = browser.find_elements(By.CSS_SELECTOR, "#chat-log li.assistant .content")[0].text
    meta = browser.find_elements(By.CSS_SELECTOR, "#chat-log li.assistant .meta")[0].text
    assert reply.strip() and "first token after" in meta and "finished:" in meta
    browser.save_screenshot(os.path.join(SHOTS, "chat.png"))

    # The log: the chat's templated prompt folded in its entry, opened on demand.
    screen(browser, "logs")
    entry = wait(browser, lambda d: [li for li in d.find_elements(By.CSS_SELECTOR, "#log-entries li")
                                     if "prompt of" in li.text and li.find_elements(By.TAG_NAME, "details")])[-1]
    details = entry.find_element(By.TAG_NAME, "details")
    assert "What is the capital of France?" not in details.find_element(By.TAG_NAME, "pre").text  # folded: not shown
    details.find_element(By.TAG_NAME, "summary").click()
    assert "What is the capital of France?" in details.find_element(By.TAG_NAME, "pre").text
    browser.save_screenshot(os.path.join(SHOTS, "logs.png"))

    screen(browser, "server")
    assert text(browser, "connector-url") == base + "/v1/chat/completions"
    assert text(browser, "connector-model") == "smol-web"
    browser.save_screenshot(os.path.join(SHOTS, "server.png"))

    screen(browser, "load")
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Unload smol-web']").click()
    wait(browser, lambda d: "Nothing is loaded" in text(d, "instance-rows"))
    assert json.loads(wick(home, "ps", "--json")[1]) == []


def status_of(url, key=None):
    """The status of a GET (None when nothing answers there)."""
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, ConnectionError):
        return None


def test_keys_are_created_and_revoked_on_the_server_screen(browser, service):
    home, base = service
    browser.get(base + "/#server")
    wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "server")
    assert "this machine only (127.0.0.1, port" in text(browser, "server-network")
    assert not browser.find_element(By.ID, "network-warning").is_displayed()
    assert "No key is set" in text(browser, "keys-state") and status_of(base + "/v1/models") == 200
    try:
        browser.find_element(By.ID, "key-name").send_keys("browser")
        browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
        wait(browser, lambda d: text(d, "key-value").startswith("wick-"))
        key = text(browser, "key-value")
        # Keys on: the API needs the new key, which the page itself goes on with.
        wait(browser, lambda d: "Requests need a key" in text(d, "keys-state"))
        assert status_of(base + "/v1/models") == 401 and status_of(base + "/v1/models", key) == 200
        assert "browser" in text(browser, "key-rows") and key not in text(browser, "key-rows")
        browser.save_screenshot(os.path.join(SHOTS, "keys.png"))
        screen(browser, "models")
        assert SMOL_KEY in text(browser, "model-rows") and not browser.find_element(By.ID, "login").is_displayed()
        # Keys off: the last issued key revoked.
        screen(browser, "server")
        browser.find_element(By.CSS_SELECTOR, "button[aria-label='Revoke browser']").click()
        browser.switch_to.alert.accept()
        wait(browser, lambda d: "No key is set" in text(d, "keys-state"))
        assert status_of(base + "/v1/models") == 200 and status_of(base + "/v1/models", key) == 200
        assert "No key issued" in text(browser, "key-rows")
    finally:
        browser.execute_script("sessionStorage.clear()")


def load(base, model, identifier):
    request = urllib.request.Request(base + "/api/v1/models/load", data=json.dumps(
        {"model": model, "context_length": 1024, "identifier": identifier}).encode(), headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=120).read()


def ask(browser, model, question):
    """Sends a question in a new chat with `model`; returns the reply's list item once it is done."""
    screen(browser, "chat")
    browser.find_element(By.ID, "chat-clear").click()
    wait(browser, lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, "#chat-model option") if o.get_attribute("value") == model])
    browser.find_element(By.CSS_SELECTOR, f"#chat-model option[value='{model}']").click()
    browser.find_element(By.ID, "chat-max-tokens").clear()
    browser.find_element(By.ID, "chat-max-tokens").send_keys("40")
    browser.find_element(By.ID, "chat-input").send_keys(question)
    browser.find_element(By.ID, "chat-send").click()
    return wait(browser, lambda d: [li for li in d.find_elements(By.CSS_SELECTOR, "#chat-log li.assistant")
                                    if "finished:" in li.find_element(By.CLASS_NAME, "meta").text]
                if d.find_elements(By.CSS_SELECTOR, "#chat-log li.assistant .meta") else None)[0]


def test_the_chat_folds_reasoning_and_shows_tool_calls(browser, service, tmp_path):
    home, base = service
    # SmolLM2 with a template that opens a think block for the reply, as DeepSeek-R1's distills do:
    # what it writes until it closes the block is reasoning.
    thinking = tmp_path / "smol-thinking.gguf"
    template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                "<|im_start|>assistant\n<think>\n")
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "gguf-new-metadata"), SMOL, str(thinking),
                    "--chat-template", template], check=True, capture_output=True)
    load(base, str(thinking), "smol-thinking")
    load(base, SMOL_KEY, "smol-tools")
    browser.get(base + "/#chat")
    try:
        reply = ask(browser, "smol-thinking", "Why is the sky blue?")
        details = reply.find_element(By.TAG_NAME, "details")
        assert details.get_attribute("open") is None  # folded
        assert details.find_element(By.TAG_NAME, "span").get_attribute("textContent").strip()
        details.find_element(By.TAG_NAME, "summary").click()
        browser.save_screenshot(os.path.join(SHOTS, "chat-reasoning.png"))

        tools = [{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
        browser.find_element(By.ID, "chat-tools").send_keys(json.dumps(tools))
        browser.find_element(By.CSS_SELECTOR, "#chat-tool-choice option[value='required']").click()
        reply = ask(browser, "smol-tools", "What is the weather in Paris?")
        call = reply.find_element(By.CLASS_NAME, "tool-call").text
        assert call.startswith("call get_weather(") and call.endswith(")")
        assert "city" in json.loads(call[len("call get_weather("):-1])
        assert "finished: tool_calls" in reply.text
        browser.save_screenshot(os.path.join(SHOTS, "chat-tool-call.png"))
        # Tools that are not JSON are refused in the page, before any request.
        browser.find_element(By.ID, "chat-tools").clear()
        browser.find_element(By.ID, "chat-tools").send_keys("[{")
        browser.find_element(By.ID, "chat-input").send_keys("Again?")
        browser.find_element(By.ID, "chat-send").click()
        wait(browser, lambda d: "The tools are not JSON" in text(d, "notice"))
    finally:
        browser.find_element(By.ID, "chat-tools").clear()
        wick(home, "unload", "--all")


def test_every_screen_fits_a_phone(browser, service):
    home, base = service
    browser.set_window_size(390, 844)
    try:
        browser.get(base + "/#models")
        for name in ("models", "discover", "load", "chat", "logs", "server"):
            screen(browser, name)
            # Wide tables scroll in their own box; the page itself never scrolls sideways.
            assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), name
            browser.save_screenshot(os.path.join(SHOTS, f"phone-{name}.png"))
    finally:
        browser.set_window_size(1280, 900)


def network_address():
    """This machine's address on its network (the source of its default route), or None."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # a UDP "connection" sends nothing: it only picks the route
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_the_network_is_served_and_no_longer_while_a_stream_runs(browser, service):
    home, base = service
    port = int(base.rsplit(":", 1)[1])
    lan = network_address()
    load(base, SMOL_KEY, "smol-net")
    # A stream that runs while the service moves: it ends as it would have.
    chunks, first = [], threading.Event()

    def stream():
        body = {"model": "smol-net", "stream": True, "max_tokens": 200, "temperature": 0,
                "messages": [{"role": "user", "content": "Write a long story about a lighthouse."}]}
        r = urllib.request.urlopen(urllib.request.Request(base + "/v1/chat/completions", data=json.dumps(body).encode(),
                                                          headers={"Content-Type": "application/json"}), timeout=120)
        for line in r:
            if line.startswith(b"data: "):
                chunks.append(line[6:].strip())
                first.set()
    streaming = threading.Thread(target=stream)
    streaming.start()
    try:
        browser.get(base + "/#server")
        wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "server")
        if lan:
            assert status_of(f"http://{lan}:{port}/health") is None
        assert first.wait(60)
        browser.find_element(By.ID, "network-local").click()
        wait(browser, lambda d: "the local network (0.0.0.0, port" in text(d, "server-network"))
        assert browser.find_element(By.ID, "network-warning").is_displayed()  # no key is set
        assert json.load(open(home / "service.json"))["host"] == "0.0.0.0"  # what `wick elastic connect` advertises from
        if lan:
            assert status_of(f"http://{lan}:{port}/health") == 200
        browser.save_screenshot(os.path.join(SHOTS, "network.png"))
        browser.find_element(By.ID, "network-local").click()
        wait(browser, lambda d: "this machine only (127.0.0.1, port" in text(d, "server-network"))
        if lan:
            assert status_of(f"http://{lan}:{port}/health") is None
        streaming.join(120)
        assert chunks and chunks[-1] == b"[DONE]" and len(chunks) > 20
        print(f"\nnetwork address {lan}; {len(chunks)} stream events across both moves")
    finally:
        streaming.join(120)
        wick(home, "unload", "smol-net")


def test_a_service_with_a_key_asks_for_it(browser, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert wick(home, "import", SMOL, "--user-repo", SMOL_KEY, "--symbolic-link")[0] == 0
    keys = tmp_path / "keys"
    keys.write_text("web-secret\n")
    base, pid = start_service(home, "--api-key-file", str(keys))
    try:
        browser.get(base + "/#models")
        wait(browser, lambda d: d.find_element(By.ID, "login").is_displayed())
        assert "needs an API key" in text(browser, "notice")
        browser.save_screenshot(os.path.join(SHOTS, "key.png"))
        browser.find_element(By.ID, "login-key").send_keys("wrong")
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        wait(browser, lambda d: "refused this key" in text(d, "notice"))
        browser.find_element(By.ID, "login-key").send_keys("web-secret")
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        wait(browser, lambda d: SMOL_KEY in text(d, "model-rows"))
        assert not browser.find_element(By.ID, "login").is_displayed()
        # Forgetting the key asks for it again.
        browser.find_element(By.ID, "logout").click()
        wait(browser, lambda d: d.find_element(By.ID, "login").is_displayed())
    finally:
        browser.execute_script("sessionStorage.clear()")
        stop_service(home, pid)


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_discover_searches_the_hub_and_downloads_with_progress(browser, hub, tmp_path):
    hub.repos[SMOL_KEY] = {"SmolLM2-135M-Instruct-Q4_1.gguf": SMOL}
    hub.repos["someone/SmolLM2-135M-copy-GGUF"] = {"SmolLM2-135M-copy-Q4_1.gguf": SMOL}
    hub.downloads = {SMOL_KEY: 5000, "someone/SmolLM2-135M-copy-GGUF": 3}
    hub.chunk_delay = 0.04  # about four seconds for the whole file: progress to watch
    home = tmp_path / "home"
    home.mkdir()
    base, pid = start_service(home, hub=hub)
    try:
        # The API behind the screen, and its errors.
        status, found = get_json(base + "/api/v1/hub/search?q=smollm2%20135m")
        assert status == 200 and [(r["repo"], r["trusted"]) for r in found["results"]] == [
            (SMOL_KEY, True), ("someone/SmolLM2-135M-copy-GGUF", False)]
        assert get_json(base + "/api/v1/hub/search?q=")[0] == 400
        assert get_json(base + "/api/v1/hub/models?repo=nobody/nothing")[0] == 404
        assert get_json(base + "/api/v1/hub/models?repo=..%2F..")[0] == 400

        browser.get(base + "/#discover")
        wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "discover")
        browser.find_element(By.ID, "discover-query").send_keys("smollm2")
        browser.find_element(By.CSS_SELECTOR, "#discover-form button").click()
        wait(browser, lambda d: "someone/SmolLM2-135M-copy-GGUF" in text(d, "discover-results"))
        results = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#discover-results li")]
        assert SMOL_KEY in results[0] and "trusted publisher" in results[0] and "5,000 downloads" in results[0]
        assert "unverified publisher" in results[1]
        browser.find_element(By.CSS_SELECTOR, f"button[aria-label='Models of {SMOL_KEY}']").click()
        wait(browser, lambda d: "Q4_1" in text(d, "discover-rows"))
        assert "fits" in text(browser, "discover-rows") and "(suggested)" in text(browser, "discover-rows")
        browser.find_element(By.CSS_SELECTOR, f"button[aria-label='Download {SMOL_KEY}@q4_1']").click()
        bar = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#downloads progress"))[0]
        seen = set()
        deadline = time.monotonic() + 120
        while "downloaded as" not in text(browser, "downloads") and time.monotonic() < deadline:
            value, maximum = float(bar.get_attribute("value")), float(bar.get_attribute("max"))
            if 0 < value < maximum:
                seen.add(round(value / maximum, 1))
                if len(seen) == 2:
                    browser.save_screenshot(os.path.join(SHOTS, "discover.png"))
            time.sleep(0.1)
        assert "downloaded as " + SMOL_KEY in text(browser, "downloads")
        assert len(seen) >= 2, f"progress seen only at {seen}"
        screen(browser, "models")
        assert SMOL_KEY in text(browser, "model-rows")
        code, out, err = wick(home, "ls", "--json")
        assert code == 0 and SMOL_KEY in out, err
    finally:
        stop_service(home, pid)
