"""The model card in the Hub's conventions, read back with huggingface_hub's own parser (offline):
base model, library, tags, datasets, model-index with the held-out and suite results, and the
method with its hyperparameters."""

from __future__ import annotations

from huggingface_hub import ModelCard, ModelCardData, metadata_load
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

from veritune.config import LoraConfig, TrainConfig
from veritune.report.card import describe_source, write_model_card

COMPARE = {"test": {"n": 120, "accuracy_before": 0.358, "accuracy_after": 0.407,
                    "wrong_to_right": 12, "right_to_wrong": 6, "mcnemar_p": 0.238},
           "validation": {"n": 40, "accuracy_before": 0.3, "accuracy_after": 0.325,
                          "wrong_to_right": 2, "right_to_wrong": 1, "mcnemar_p": 1.0}}
SUITE = {"tasks": ["precise_qa", "truthfulqa_mc", "halueval_qa"],
         "headlines": {"precise_qa": "accuracy", "truthfulqa_mc": "mc2",
                       "halueval_qa": "accuracy"},
         "base": "embedded",
         "rows": [{"model": "embedded", "values": {"precise_qa": 35.8, "truthfulqa_mc": 41.25,
                                                   "halueval_qa": 50.0}},
                  {"model": "quickstart", "values": {"precise_qa": 40.7, "truthfulqa_mc": 42.5,
                                                     "halueval_qa": 49.5}}]}
COUNTS = {"method": "dpo", "pairs": 310, "sft_targets": 150, "steps": 39}


def train_config(lora: bool) -> TrainConfig:
    return TrainConfig(method="dpo", beta=0.1, learning_rate=1e-5, epochs=1.0, batch_size=8,
                       loss_type="sigmoid", backend="shared",
                       lora=LoraConfig(enabled=lora, r=8, alpha=16))


def test_card_parses_with_huggingface_hub(tmp_path):
    questions, datasets = describe_source("hf:org/precise-questions")
    assert (questions, datasets) == ("org/precise-questions", ["org/precise-questions"])
    path = write_model_card(tmp_path, "embedded", "dpo", COUNTS, COMPARE,
                            train=train_config(lora=True), datasets=datasets, suite=SUITE,
                            model_name="quickstart", questions=questions)
    assert path == tmp_path / "README.md"
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]  # no temporary file left

    card = ModelCard.load(path)  # a local file: no network
    data = card.data
    assert data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert data.library_name == "transformers" and data.pipeline_tag == "text-generation"
    assert {"veritune", "pkue", "dpo", "trl", "lora"} <= set(data.tags)
    assert data.datasets == ["org/precise-questions"]
    assert data.model_name == "quickstart"

    # model-index, flattened by the Hub's parser: the held-out comparison per split ...
    found = {(r.dataset_split or r.task_name, r.metric_type): r.metric_value
             for r in data.eval_results}
    for split, m in COMPARE.items():
        assert found[(split, "accuracy")] == m["accuracy_after"]
        assert found[(split, "base_accuracy")] == m["accuracy_before"]
        assert found[(split, "wrong_to_right")] == m["wrong_to_right"]
        assert found[(split, "right_to_wrong")] == m["right_to_wrong"]
        assert found[(split, "mcnemar_p")] == m["mcnemar_p"]
    qa = [r for r in data.eval_results if r.dataset_split == "test"]
    assert {r.task_type for r in qa} == {"question-answering"}
    assert {r.dataset_type for r in qa} == {"org/precise-questions"}
    # ... and each suite task's headline, as a fraction, tuned and base (precise QA only once)
    assert found[("truthfulqa_mc", "mc2")] == 0.425
    assert found[("truthfulqa_mc", "base_mc2")] == 0.4125
    assert found[("halueval_qa", "accuracy")] == 0.495
    assert not any(r.task_name == "precise_qa" for r in data.eval_results)

    # the model-index is already in the Hub's canonical form (what huggingface_hub would write)
    meta = metadata_load(path)
    name, results = model_index_to_eval_results(meta["model-index"])
    assert eval_results_to_model_index(name, results) == meta["model-index"]
    assert ModelCardData(**meta).to_dict()["model-index"] == meta["model-index"]

    # the method and its hyperparameters
    hp = meta["veritune"]["hyperparameters"]
    assert meta["veritune"]["method"] == "dpo" and meta["veritune"]["data"] == COUNTS
    assert (hp["beta"], hp["learning_rate"], hp["epochs"], hp["batch_size"],
            hp["loss_type"], hp["backend"]) == (0.1, 1e-5, 1.0, 8, "sigmoid", "shared")
    assert hp["lora"]["enabled"] is True and hp["lora"]["r"] == 8
    assert "| beta | 0.1 |" in card.text and "| test | 120 | 0.358 | 0.407 | 12 | 6 |" in card.text
    assert "| truthfulqa_mc | mc2 | 0.4125 | 0.425 |" in card.text


def test_card_before_evaluation_and_rewrite(tmp_path):
    """Right after training there are no results: no model-index, still a valid card; the
    evaluation then replaces it in place."""
    questions, datasets = describe_source("kb")
    assert (questions, datasets) == ("kb", None)
    write_model_card(tmp_path, "some/model", "sft+dpo", COUNTS, train=train_config(lora=False))
    meta = metadata_load(tmp_path / "README.md")
    assert "model-index" not in meta and "datasets" not in meta
    assert meta["base_model"] == "some/model"
    assert {"sft", "dpo"} <= set(meta["tags"]) and "lora" not in meta["tags"]
    assert meta["veritune"]["hyperparameters"]["lora"] == {"enabled": False}
    assert ModelCard.load(tmp_path / "README.md").data.eval_results is None

    write_model_card(tmp_path, "some/model", "sft+dpo", COUNTS, {"test": COMPARE["test"]},
                     train=train_config(lora=False), model_name="run1")
    card = ModelCard.load(tmp_path / "README.md")
    assert {r.metric_type for r in card.data.eval_results} >= {"accuracy", "base_accuracy"}
    assert {r.dataset_type for r in card.data.eval_results} == {"kb"}
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
