"""Bad server responses: retried, then one clear error; records already written stay.

A small fault-injecting HTTP server on loopback plays the misbehaving server (the product path
against a real server is in test_openai_engine.py).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from veritune.engines import SamplingParams
from veritune.engines.openai import OpenAIEngine
from veritune.errors import VerituneError
from veritune.jsonl import read_records
from veritune.records import Question, Sample
from veritune.stages.sample import sample_questions

GOOD = {"choices": [{"message": {"role": "assistant", "content": "Paris"},
                     "finish_reason": "stop"}], "usage": {"completion_tokens": 1}}


class FaultServer:
    """Answers the i-th request with ``script(i)``: (status, body bytes) or ("sleep", s)."""

    def __init__(self, script):
        outer = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                i = outer.requests
                outer.requests += 1
                status, body = script(i)
                if status == "sleep":
                    threading.Event().wait(body)  # time.sleep is patched out
                    status, body = 200, json.dumps(GOOD).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve(monkeypatch):
    monkeypatch.setattr("veritune.engines.openai.time.sleep", lambda s: None)
    servers = []

    def start(script):
        servers.append(FaultServer(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def ok():
    return 200, json.dumps(GOOD).encode()


PROMPT = [[{"role": "user", "content": "Capital of France?"}]]


def test_a_500_then_success_is_retried(serve):
    server = serve(lambda i: (500, b"oops") if i == 0 else ok())
    (gen,), = OpenAIEngine("m", base_url=server.url).generate(PROMPT, SamplingParams())
    assert gen.text == "Paris" and server.requests == 2


@pytest.mark.parametrize("reply,message", [
    ((500, b"internal"), "HTTP 500"),
    ((503, b"busy"), "HTTP 503"),
    ((200, b"not json"), "malformed reply"),
    ((200, b'{"choices": []}'), "malformed reply"),
    ((200, b'{"choices": [{"text": "no message"}]}'), "malformed reply"),
])
def test_persistent_bad_replies_end_in_one_clear_error(serve, reply, message):
    server = serve(lambda i: reply)
    engine = OpenAIEngine("m", base_url=server.url, max_retries=2)
    with pytest.raises(VerituneError, match=rf"{message}.*after 3 tries"):
        engine.generate(PROMPT, SamplingParams())
    assert server.requests == 3


def test_a_client_error_is_not_retried(serve):
    server = serve(lambda i: (400, b'{"detail": "bad model"}'))
    with pytest.raises(VerituneError, match="HTTP 400"):
        OpenAIEngine("m", base_url=server.url, max_retries=3).generate(PROMPT, SamplingParams())
    assert server.requests == 1


def test_timeouts_are_retried_then_reported(serve):
    server = serve(lambda i: ("sleep", 1.0))
    engine = OpenAIEngine("m", base_url=server.url, timeout=0.2, max_retries=1)
    with pytest.raises(VerituneError, match="after 2 tries"):
        engine.generate(PROMPT, SamplingParams())


def test_records_written_before_a_failure_stay(serve, tmp_path):
    server = serve(lambda i: ok() if i < 2 else (500, b"down"))
    questions = [Question(id=f"q{i}", question=f"Question {i}?", answers=["Paris"])
                 for i in range(4)]
    engine = OpenAIEngine("m", base_url=server.url, concurrency=1, max_retries=1)
    out = tmp_path / "samples.jsonl"
    with pytest.raises(VerituneError):
        sample_questions(engine, questions, SamplingParams(n=1, temperature=1.0), out,
                         prompt="{question}", batch_size=1)
    kept = read_records(out, Sample.from_dict)
    assert [s.question_id for s in kept] == ["q0", "q1"]
