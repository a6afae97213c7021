import pandas as pd

from actunlearn.models.tokenizer import build_tokenizer
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    corpus = pd.read_parquet(snakemake.input.corpus)
    # trained on the training text only: evaluation prompts are pieces of it (bytes at worst)
    lines = corpus[corpus.split == "train"]
    tokenizer = build_tokenizer(lines.text.tolist() + lines.system.dropna().tolist(),
                                snakemake.params.vocab_size)
    tokenizer.save_pretrained(snakemake.output.tokenizer)
    print(f"vocabulary: {len(tokenizer)} tokens")
