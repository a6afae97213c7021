"""The library's model-level steps on a Llama of SmolLM2-135M-Instruct's shape (30 layers,
hidden 576, 1536 MLP neurons, 9 heads / 3 KV heads, vocab 49152), randomly initialised, in a
chosen dtype and device: a CUDA/bf16 path check with timings. The weights are random (the GGUF
file is too large to carry to a lent GPU machine), so the numbers measure speed and that every
step runs, not knowledge. Prompts and tokenizer come from a built study.

    python bench/llama_check.py --study results --device cuda --dtype bfloat16
    python bench/llama_check.py --study results --device cpu --dtype float32 --small  # smoke test
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch
import yaml
from transformers import LlamaConfig, LlamaForCausalLM

from actunlearn.config import model_config
from actunlearn.evaluation.answers import answer_families, rank_recommendations
from actunlearn.models.encoding import collate, qa_example
from actunlearn.models.hooks import capture
from actunlearn.models.loading import seed_everything
from actunlearn.models.tokenizer import load_tokenizer
from actunlearn.neurons.scores import concept_examples, neuron_scores
from actunlearn.unlearning.data import build_unlearn_data
from actunlearn.unlearning.masked_lora import attach_masked_lora, unmasked_columns_zero
from actunlearn.unlearning.methods.objectives import train_objective
from actunlearn.unlearning.methods.registry import UnlearnContext

SMOLLM2_135M = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                    num_attention_heads=9, num_key_value_heads=3, vocab_size=49152,
                    max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=True)
SMALL = dict(SMOLLM2_135M, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, vocab_size=1024)


def timed(results: dict, name: str, device: str):
    class Timer:
        def __enter__(self):
            if device == "cuda":
                torch.cuda.synchronize()
            self.start = time.perf_counter()

        def __exit__(self, *exc):
            if device == "cuda":
                torch.cuda.synchronize()
            results[name] = round(time.perf_counter() - self.start, 3)
            print(f"{name}: {results[name]} s", flush=True)
    return Timer()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--study", default="results", help="folder of a built study (corpus, tokenizer)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--small", action="store_true", help="a 2-layer model (CPU smoke test)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", default=None, help="write the timings here")
    args = ap.parse_args()
    dtype, device = getattr(torch, args.dtype), args.device
    seed_everything(0)
    tokenizer = load_tokenizer(f"{args.study}/tokenizer")
    prompts = pd.read_parquet(f"{args.study}/corpus/prompts.parquet")
    corpus = pd.read_parquet(f"{args.study}/corpus/corpus.parquet")
    catalog = pd.read_parquet(f"{args.study}/catalog/catalog.parquet")
    shape = SMALL if args.small else SMOLLM2_135M
    config = LlamaConfig(**shape, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    results: dict = {"device": device, "dtype": args.dtype, "shape": shape,
                     "torch": torch.__version__}
    if device == "cuda":
        results["gpu"] = torch.cuda.get_device_name(0)
    with timed(results, "build_model_s", device):
        model = LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()
    results["params"] = sum(p.numel() for p in model.parameters())

    batch = collate([qa_example(tokenizer, q, a) for q, a in
                     zip(prompts.question[:64], prompts.answer[:64])], tokenizer.pad_token_id, device)
    with torch.no_grad():
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])  # warm-up
        with timed(results, "forward_64_s", device):
            for _ in range(5):
                model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        with timed(results, "forward_64_capture_s", device):
            for _ in range(5):
                with capture(model, reduce=lambda t: t.mean(1).float().cpu()):
                    model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    results["capture_over_forward"] = round(results["forward_64_capture_s"] / results["forward_64_s"], 3)

    forget, retain = concept_examples(tokenizer, prompts, 64, 0)
    with timed(results, "neuron_scores_s", device):
        scores, _ = neuron_scores(model, forget, retain, tokenizer.pad_token_id, 32, device)
    results["scores_finite"] = bool(scores[["saliency_forget", "fisher_forget"]].notna().all().all())

    data = build_unlearn_data(tokenizer, prompts, corpus, "I do not know", seed=0)
    top = scores.assign(score=scores.saliency_forget - scores.saliency_retain)
    masks = {int(layer): sorted(g.nlargest(32, "score").neuron.astype(int).tolist())
             for layer, g in top.groupby("layer") if layer in (0, shape["num_hidden_layers"] - 1)}
    # the default study's masked_lora settings, with this check's step count
    cfg = model_config(yaml.safe_load(open("config/config.yaml")), "testbed")["unlearn"]["methods"][
        "masked_lora"] | {"steps": args.steps}
    peft_model = attach_masked_lora(model, masks, cfg["rank"], cfg["alpha"], 0)
    ctx = UnlearnContext("masked_lora", model, tokenizer, data, None, cfg, 0, device)
    with timed(results, f"masked_lora_{args.steps}_steps_s", device):
        log = train_objective(ctx, cfg["objective"], model=peft_model, log_every=args.steps).log
    results["final_loss"] = log[-1]["loss"]
    results["mask_kept"] = bool(unmasked_columns_zero(peft_model, masks))
    model = peft_model.merge_and_unload().eval()

    asked = prompts[prompts.role.isin(["forget", "neighbour"])]
    with timed(results, f"generate_{len(asked)}_prompts_s", device):
        recall, instability = answer_families(model, tokenizer, asked, "I do not know", 64, 8, 5,
                                              device)
    results["instability_rows"] = len(instability)
    titles = catalog.title[catalog.role != "unknown"].tolist()
    targets = set(prompts.title[prompts.role == "forget"])
    recs = prompts[(prompts.intent == "recommend") & (prompts.role != "forget")
                   & prompts.gold.apply(lambda g: any(t in targets for t in g))]
    with timed(results, "exposure_s", device):
        exposure = rank_recommendations(model, tokenizer, recs, titles, targets, 1, 256, device)[1]
    results["exposure_rows"] = len(exposure)
    if device == "cuda":
        results["max_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
