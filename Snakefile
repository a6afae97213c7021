# actunlearn: activation-level preference unlearning, end to end.
from snakemake.utils import min_version

min_version("9.0")


configfile: f"{workflow.basedir}/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/catalog.smk"
include: "rules/corpus.smk"
include: "rules/model.smk"
include: "rules/activations.smk"
include: "rules/neurons.smk"
include: "rules/probing.smk"
include: "rules/unlearn.smk"
include: "rules/evaluate.smk"
include: "rules/sequential.smk"
include: "rules/drift.smk"
include: "rules/byo.smk"
include: "rules/relearn.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
