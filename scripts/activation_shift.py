import pandas as pd

from actunlearn.corpus import evaluation_prompts
from actunlearn.probing import activation_shift, layers_in, pca_projection
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

with logged(snakemake.log[0]):
    # The unlearned checkpoint's dump holds the evaluation prompts (the base dump holds all).
    ev = snakemake.params.evaluate
    prompts = evaluation_prompts(pd.read_parquet(snakemake.input.prompts), ev["retain_films"],
                                 ev["unknown_films"], snakemake.params.seed)
    shift = activation_shift(snakemake.input.base, snakemake.input.unlearned, prompts)
    # PCA of the last layer: forget and neighbour prompts, and 100 retain prompts (seed 0)
    focus = prompts[prompts.role.isin(["forget", "neighbour"])]
    sample = pd.concat([focus, prompts[prompts.role == "retain"].sample(n=100, random_state=0)])
    layer = layers_in(snakemake.input.base)[-1]
    pca = pca_projection(snakemake.input.base, snakemake.input.unlearned, sample, layer)
    checkpoint = snakemake.wildcards.checkpoint
    shift.insert(0, "checkpoint", checkpoint)
    pca.insert(0, "checkpoint", checkpoint)
    pca.insert(1, "layer", layer)
    print(shift[shift.representation == "resid_last"].to_string())
    prov = provenance({"checkpoint": checkpoint, "pca_layer": layer})
    write_parquet(shift, snakemake.output.shift, prov)
    write_parquet(pca, snakemake.output.pca, prov)
