"""``model.dtype: auto``: bf16 where the CPU (or GPU) computes it natively, else fp32; and
the hash of a run sees the resolved dtype, so fp32 runs made before auto keep their hashes."""

from __future__ import annotations

import dataclasses

import pytest

import veritune.dtype as dtype_mod
from veritune.config import ModelConfig, RunConfig, load_config
from veritune.dtype import cpu_flags, hash_dtype, resolve_dtype
from veritune.errors import InputError
from veritune.runs.keys import config_hash

SAPPHIRE_RAPIDS = ("processor\t: 0\nvendor_id\t: GenuineIntel\n"
                   "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n")
ZEN3 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma f16c\n"
GENOA = "flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"


@pytest.fixture
def native(monkeypatch):
    """Pretend the CPU has (True) or lacks (False) native bf16."""
    def set_(value: bool):
        monkeypatch.setattr(dtype_mod, "_cpu_native_bf16", lambda: value)
    return set_


def test_cpu_flags_are_read_from_cpuinfo_text():
    assert {"avx512_bf16", "amx_bf16"} <= cpu_flags(SAPPHIRE_RAPIDS)
    assert "avx512_bf16" not in cpu_flags(ZEN3)
    assert cpu_flags("no flags here") == set()


@pytest.mark.parametrize("text,expected", [(SAPPHIRE_RAPIDS, "bfloat16"), (GENOA, "bfloat16"),
                                           (ZEN3, "float32"), ("", "float32")])
def test_auto_on_cpu_follows_the_flags(monkeypatch, text, expected):
    monkeypatch.setattr(dtype_mod, "_cpu_native_bf16",
                        lambda: bool(cpu_flags(text) & set(dtype_mod.NATIVE_BF16_FLAGS)))
    assert resolve_dtype("auto", "cpu") == expected


def test_explicit_dtypes_pass_through(native):
    native(True)
    assert resolve_dtype("float32", "cpu") == "float32"
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16"


def test_auto_on_cuda_asks_torch(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", "cuda") == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_dtype("auto", "cuda:0") == "float32"


def test_auto_is_the_default_and_hashes_like_float32_without_native_bf16(native):
    native(False)
    assert ModelConfig().dtype == "auto"
    old = ModelConfig(dtype="float32")  # what every run before auto had
    assert config_hash(ModelConfig()) == config_hash(old)
    assert config_hash(RunConfig()) == config_hash(dataclasses.replace(
        RunConfig(), model=old, judge=dataclasses.replace(RunConfig().judge, model=old)))
    native(True)  # where auto means bf16, the samples differ, and so does the hash
    assert config_hash(ModelConfig()) == config_hash(ModelConfig(dtype="bfloat16"))
    assert config_hash(ModelConfig()) != config_hash(old)


def test_other_engines_hash_auto_as_their_old_default(native):
    native(True)
    for engine in ("vllm", "openai"):
        assert hash_dtype(ModelConfig(engine=engine)) == "float32"
        assert config_hash(ModelConfig(engine=engine)) == \
            config_hash(ModelConfig(engine=engine, dtype="float32"))


def test_unknown_dtype_is_an_input_error_at_load(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  dtype: fp8\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"c.yaml, line 2, field 'model.dtype'.*auto"):
        load_config(path)


@pytest.mark.parametrize("flag,expected", [(False, "float32"), (True, "bfloat16")])
def test_engine_loads_the_resolved_dtype(native, tiny_model_dir, flag, expected):
    import torch

    from veritune.engines import engine_from_config

    native(flag)
    engine = engine_from_config(ModelConfig(name=str(tiny_model_dir), device="cpu"))
    assert engine.dtype == expected
    assert next(engine.model.parameters()).dtype == getattr(torch, expected)


def _folder(tmp_path, name, dtype):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(f'{{"dtype": "{dtype}"}}', encoding="utf-8")
    return str(folder)


def test_scoring_never_goes_below_the_stored_precision(native, tmp_path):
    """Scores (eval, guard, suite) load float32 weights in float32 even where auto samples in
    bf16: bf16 rounding erased most of a fine-tune's update (docs/RESULTS.md)."""
    from veritune.engines import scoring_config, stored_model_dtype

    fp32, bf16 = _folder(tmp_path, "fp32", "float32"), _folder(tmp_path, "bf16", "bfloat16")
    old = _folder(tmp_path, "old", "x")
    (tmp_path / "old" / "config.json").write_text('{"torch_dtype": "float32"}')  # before 5.0
    assert [stored_model_dtype(m) for m in ("embedded", fp32, bf16, old, "org/hub-model")] == \
        ["float32", "float32", "bfloat16", "float32", None]
    native(True)
    cfg = ModelConfig(device="cpu")
    assert scoring_config(cfg, "embedded").dtype == "float32"
    assert scoring_config(cfg, fp32).dtype == "float32"
    assert scoring_config(cfg, bf16).dtype == "bfloat16"
    assert scoring_config(cfg, "org/hub-model").dtype == "bfloat16"  # unknown: as sampling
    # models compared with one another are scored alike: a bf16 base beside a fp32 fine-tune
    assert scoring_config(cfg, bf16, fp32).dtype == "float32"
    assert scoring_config(ModelConfig(dtype="bfloat16"), fp32).dtype == "bfloat16"  # as asked
    assert scoring_config(ModelConfig(engine="vllm"), fp32).dtype == "auto"
    native(False)
    assert scoring_config(cfg, bf16).dtype == "float32"
    # without native bf16 a score's hash is what it was before scoring_config
    assert config_hash(scoring_config(cfg, fp32)) == config_hash(cfg)


def test_the_pipeline_samples_in_bf16_and_scores_in_the_stored_dtype(native, tiny_model_dir,
                                                                      tmp_path):
    from veritune.stages import Context, RunPaths

    native(True)
    cfg = load_config(None, [f"model.name={tiny_model_dir}", "model.device=cpu",
                             f"runs_dir={tmp_path}", "name=p"])
    ctx = Context(cfg, RunPaths.of(cfg.run_dir), log=lambda m: None)
    assert ctx.engine(str(tiny_model_dir)).dtype == "bfloat16"  # sampling
    assert ctx.scorer(str(tiny_model_dir)).dtype == "float32"  # the tiny model is stored fp32
    base = _folder(tmp_path, "bf16_base", "bfloat16")
    assert ctx.model_config(base, scoring=True).dtype == "bfloat16"  # no tuned model yet
    tuned = ctx.paths.model
    tuned.mkdir(parents=True)
    (tuned / "config.json").write_text('{"dtype": "float32"}')
    assert ctx.model_config(base, scoring=True).dtype == "float32"  # scored as the fine-tune
    assert ctx.model_config(base).dtype == "auto"  # sampling: bf16 where native
