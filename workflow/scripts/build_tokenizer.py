import pandas as pd

from actunlearn.models.tokenizer import build_tokenizer
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    corpus = pd.read_parquet(snakemake.input.corpus)
    prompts = pd.read_parquet(snakemake.input.prompts)
    tokenizer = build_tokenizer(corpus.text.tolist() + prompts.question.tolist())
    tokenizer.save_pretrained(snakemake.output.tokenizer)
    print(f"vocabulary: {len(tokenizer)} tokens")
