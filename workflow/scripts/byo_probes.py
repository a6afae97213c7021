import pandas as pd

from actunlearn.data.response_logs import leak_table, read_probes
from actunlearn.evaluation.answers import greedy_generate
from actunlearn.models.encoding import batches
from actunlearn.models.loading import open_checkpoint
from actunlearn.provenance import provenance, write_parquet
from actunlearn.runlog import logged

snakemake = globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)
with logged(snakemake.log[0]):
    cfg, checkpoint = snakemake.params.inference, snakemake.wildcards.checkpoint
    model, tokenizer, device = open_checkpoint(snakemake.input.model, snakemake.input.get("checkpoint"),
                                               snakemake.threads, seed=0)
    probes = read_probes(snakemake.input.probes)
    responses = []
    for chunk in batches(probes.prompt.tolist(), cfg["batch_size"]):
        responses += greedy_generate(model, tokenizer, chunk, cfg["max_new_tokens"], device)[0]
    titles = pd.read_parquet(snakemake.input.catalog).title.tolist()  # for the entity matcher
    leaks, summary = leak_table(probes, responses, titles)
    print(summary.to_string())
    prov = provenance({"probes": snakemake.input.probes, "inference": cfg, "checkpoint": checkpoint},
                      None, device)
    for frame, path in ((leaks, snakemake.output.leaks), (summary, snakemake.output.summary)):
        frame.insert(0, "checkpoint", checkpoint)
        write_parquet(frame, path, prov)
