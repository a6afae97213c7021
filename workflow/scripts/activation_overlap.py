import pandas as pd

from actunlearn.neurons.probing import activation_overlap
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    summary, pairs = activation_overlap(snakemake.input.activations,
                                        pd.read_parquet(snakemake.input.prompts))
    print(summary.to_string())
    prov = provenance({"analysis": "activation_overlap"})
    write_parquet(summary, snakemake.output.overlap, prov)
    write_parquet(pairs, snakemake.output.pairs, prov)
