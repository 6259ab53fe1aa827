"""`wick get`, `ls`, `import`, `rm`, `trust` against a fake hub on loopback: verified downloads, resumed
downloads, corrupt files, quantization choice, split models, unknown publishers."""
import json, os, pty, subprocess
from conftest import SMOL, WICK, wick
from gguf_split import split

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"


def listing(home):
    code, out, err = wick(home, "ls", "--json")
    assert code == 0, err
    return json.loads(out)


def test_get_downloads_verifies_and_lists(hub, tmp_path):
    hub.repos[REPO] = {"SmolLM2-135M-Instruct-Q4_1.gguf": SMOL}
    code, out, err = wick(tmp_path, "get", REPO, hub=hub)
    assert code == 0, err
    assert "Downloaded HuggingFaceTB/SmolLM2-135M-Instruct-GGUF" in out
    [model] = listing(tmp_path)
    assert model["key"] == REPO and model["architecture"] == "llama" and model["quantization"] == "Q4_1"
    assert model["size_bytes"] == os.path.getsize(SMOL) and model["max_context_length"] == 8192
    assert model["params"] == "135M" and model["loaded"] is False
    assert model["path"] == str(tmp_path / "models" / REPO / "SmolLM2-135M-Instruct-Q4_1.gguf")
    code, out, _ = wick(tmp_path, "ls")
    assert REPO in out and "1 model" in out
    # Again: nothing to fetch.
    before = len(hub.ranges)
    assert wick(tmp_path, "get", REPO, hub=hub)[0] == 0 and len(hub.ranges) == before


def test_a_dropped_connection_is_resumed_with_a_range_request(hub, tmp_path):
    hub.repos[REPO] = {"SmolLM2-135M-Instruct-Q4_1.gguf": SMOL}
    hub.drop_after["SmolLM2-135M-Instruct-Q4_1.gguf"] = 20_000_000
    code, out, err = wick(tmp_path, "get", REPO, hub=hub)
    assert code == 0, err
    ranges = [r for name, r in hub.ranges if name == "SmolLM2-135M-Instruct-Q4_1.gguf"]
    assert ranges[0] is None and len(ranges) == 2
    assert ranges[1].startswith("bytes=") and int(ranges[1][6:].rstrip("-")) >= 10_000_000  # resumed, not restarted from zero
    assert open(listing(tmp_path)[0]["path"], "rb").read() == open(SMOL, "rb").read()


def test_an_interrupted_download_resumes_on_the_next_get(hub, tmp_path):
    hub.repos[REPO] = {"SmolLM2-135M-Instruct-Q4_1.gguf": SMOL}
    part = tmp_path / "models" / REPO / "SmolLM2-135M-Instruct-Q4_1.gguf.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(open(SMOL, "rb").read()[:30_000_000])  # what a killed `wick get` leaves
    assert listing(tmp_path) == []  # a partial file is never listed
    code, _, err = wick(tmp_path, "get", REPO, hub=hub)
    assert code == 0, err
    assert [r for _, r in hub.ranges] == ["bytes=30000000-"]
    assert not part.exists() and len(listing(tmp_path)) == 1


def test_a_corrupted_file_is_rejected_and_not_listed(hub, tmp_path):
    hub.repos[REPO] = {"SmolLM2-135M-Instruct-Q4_1.gguf": SMOL}
    hub.corrupt.add("SmolLM2-135M-Instruct-Q4_1.gguf")
    code, _, err = wick(tmp_path, "get", REPO, hub=hub)
    assert code != 0 and "failed verification" in err and "deleted" in err
    assert listing(tmp_path) == []
    assert not any(p.name.endswith((".gguf", ".part")) for p in (tmp_path / "models").rglob("*"))


def test_quantization_choice_in_a_repo_with_several_files(hub, tmp_path):
    repo = "bartowski/Tiny-GGUF"
    hub.repos[repo] = {"Tiny-Q4_1.gguf": SMOL, "Tiny-Q8_0.gguf": SMOL}
    code, _, err = wick(tmp_path, "get", repo, hub=hub)
    assert code != 0 and "q4_1" in err and "q8_0" in err and "@QUANT" in err  # no terminal to ask on
    assert wick(tmp_path, "get", repo + "@Q8_0", hub=hub)[0] == 0
    assert [m["key"] for m in listing(tmp_path)] == [repo]
    assert wick(tmp_path, "get", repo + "@q4_1", hub=hub)[0] == 0
    assert [m["key"] for m in listing(tmp_path)] == [repo + "@q4_1", repo + "@q8_0"]
    code, _, err = wick(tmp_path, "get", repo + "@q2_k", hub=hub)
    assert code != 0 and "offers q4_1, q8_0" in err and "Usage" not in err  # a failure, not a usage mistake


def test_a_split_model_downloads_and_lists_as_one(hub, tmp_path):
    first = split(SMOL, str(tmp_path / "Smol-Q4_1"))
    second = first.replace("-00001-of-", "-00002-of-")
    repo = "ggml-org/Smol-Split-GGUF"
    hub.repos[repo] = {"Q4_1/Smol-Q4_1-00001-of-00002.gguf": first, "Q4_1/Smol-Q4_1-00002-of-00002.gguf": second}
    code, _, err = wick(tmp_path / "home", "get", repo, hub=hub)
    assert code == 0, err
    [model] = listing(tmp_path / "home")
    assert model["key"] == repo and model["size_bytes"] == os.path.getsize(first) + os.path.getsize(second)
    assert model["params"] == "135M"  # every part's tensors count
    # Loaded as one model: the same greedy continuation as the single file.
    runs = [wick(tmp_path, "generate", "--model", path, "--prompt", "The capital of France is", "--temp", "0", "-n", "12", "--json")
            for path in (SMOL, model["path"])]
    assert all(code == 0 for code, _, _ in runs), runs
    assert json.loads(runs[0][1])["tokens"] == json.loads(runs[1][1])["tokens"]


def test_an_unknown_publisher_needs_confirmation(hub, tmp_path):
    repo = "someone/Smol-GGUF"
    hub.repos[repo] = {"Smol-Q4_1.gguf": SMOL}
    code, _, err = wick(tmp_path, "get", repo, hub=hub)
    assert code != 0 and "not one of the publishers Wick trusts" in err and "--yes" in err
    assert listing(tmp_path) == []
    assert wick(tmp_path, "trust", "add", "someone")[0] == 0
    assert wick(tmp_path, "get", repo, hub=hub)[0] == 0


def test_unknown_repositories_and_bad_names(hub, tmp_path):
    code, _, err = wick(tmp_path, "get", "Qwen/Nope-GGUF", hub=hub)
    assert code != 0 and "has no repository Qwen/Nope-GGUF" in err
    code, _, err = wick(tmp_path, "get", "../../etc", hub=hub)
    assert code != 0 and "not a valid model name" in err


def test_import_and_remove(tmp_path):
    code, out, err = wick(tmp_path, "import", SMOL, "--user-repo", "me/smol", "--copy", "--dry-run")
    assert code == 0 and "would copy" in out and listing(tmp_path) == []
    assert wick(tmp_path, "import", SMOL, "--user-repo", "me/smol", "--hard-link")[0] == 0
    assert os.path.exists(SMOL)
    assert [m["key"] for m in listing(tmp_path)] == ["me/smol"]
    code, _, err = wick(tmp_path, "rm", "smol")
    assert code == 0 and listing(tmp_path) == [] and os.path.exists(SMOL)
    code, _, err = wick(tmp_path, "rm", "smol")
    assert code != 0 and "no downloaded model matches 'smol'" in err


def test_a_gated_repository_needs_hf_token(hub, tmp_path):
    hub.repos[REPO] = {"SmolLM2-135M-Instruct-Q4_1.gguf": SMOL}
    hub.token = "hf_secret"
    code, _, err = wick(tmp_path, "get", REPO, hub=hub)
    assert code != 0 and "set HF_TOKEN" in err
    code, _, err = wick(tmp_path, "get", REPO, hub=hub, env={"HF_TOKEN": "hf_secret"})
    assert code == 0, err


def answered_on_a_terminal(home, hub, answers, *args):
    """Runs the CLI with a terminal as its stdin and types `answers` into it."""
    master, slave = pty.openpty()
    env = dict(os.environ, WICK_HOME=str(home), HF_ENDPOINT=hub.url)
    p = subprocess.Popen([WICK, *args], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    os.close(slave)
    os.write(master, answers.encode())
    out, err = p.communicate(timeout=300)
    os.close(master)
    return p.returncode, out, err


def test_on_a_terminal_the_user_picks_the_quantization_and_confirms_the_publisher(hub, tmp_path):
    repo = "someone/Tiny-GGUF"
    hub.repos[repo] = {"Tiny-Q4_1.gguf": SMOL, "Tiny-Q8_0.gguf": SMOL}
    code, _, err = answered_on_a_terminal(tmp_path, hub, "n\n", "get", repo)
    assert code != 0 and "Download from someone anyway? [y/N]" in err and listing(tmp_path) == []
    code, out, err = answered_on_a_terminal(tmp_path, hub, "y\n2\n", "get", repo)
    assert code == 0, err
    assert "1. q4_1" in err and "2. q8_0" in err and "Which one?" in err
    assert [m["quantization"] for m in listing(tmp_path)] == ["Q4_1"]  # the same file under the Q8_0 name
    assert [p.name for p in (tmp_path / "models" / repo).iterdir()] == ["Tiny-Q8_0.gguf"]
