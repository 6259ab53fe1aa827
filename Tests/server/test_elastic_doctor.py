"""`wick elastic doctor` on a running service: a model loaded at 8K fails the context check with the
fix printed; at 64K the context passes and every replayed Kibana and Elasticsearch request passes
those clients' rules (on the Qwen test model, which writes tool calls)."""
import json, os, signal
from conftest import QWEN, free_port, wick


def run_doctor(tmp_path, model, context):
    port = free_port()
    code, _, err = wick(tmp_path, "server", "start", "--port", str(port), "--model", model, "--context-length", str(context), "--parallel", "1")
    assert code == 0, err
    pid = json.load(open(tmp_path / "service.json"))["pid"]
    try:
        return wick(tmp_path, "elastic", "doctor", "--first-turn-tokens", "2000")
    finally:
        wick(tmp_path, "server", "stop")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def lines(out, status):
    return [line for line in out.splitlines() if line.startswith(status)]


def test_a_model_at_8k_fails_the_context_check_with_its_fix(tmp_path):
    # Qwen: SmolLM2 answers the replays (which, as Kibana's, set no max_tokens) at such length that
    # this one test took minutes.
    code, out, err = run_doctor(tmp_path, QWEN, 8192)
    assert code != 0, out + err
    context = [line for line in lines(out, "FAIL") if "context" in line]
    assert context and "8192 tokens" in context[0] and "at least 64000" in context[0]
    assert "fix:" in out.split(context[0])[1].splitlines()[1] and "--context-length 65536" in out.split(context[0])[1].splitlines()[1]
    # Loopback only: a warning with the way to serve a remote Elastic.
    assert any("address" in line for line in lines(out, "WARN")) and "--bind 0.0.0.0" in out


def test_a_model_at_64k_passes(tmp_path):
    code, out, err = run_doctor(tmp_path, QWEN, 65536)
    assert code == 0, out + err
    assert not lines(out, "FAIL")
    ok = "\n".join(lines(out, "OK"))
    for check in ["context: 65536 tokens", "template", "connector test", "conversation title", "first turn with tools",
                  "tool-result turn", "simulated function calling", "embeddings: 896 dimensions"]:
        assert check in ok, out
    assert "prompt tokens/s" in out
