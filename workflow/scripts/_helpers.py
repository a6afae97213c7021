"""Run a workflow script by hand, for debugging (the `mock_snakemake` pattern of PyPSA-Eur):

    python workflow/scripts/unlearn.py model=testbed method=masked_lora seed=0
    python workflow/scripts/evaluate.py rule=evaluate model=testbed checkpoint=base \
        configfile=tests/config/tiny.yaml

Arguments are the job's wildcards, plus `rule=` where several rules share the script and
`configfile=` (comma-separated, relative to the working directory) for config on top of
config/config.yaml. Run from the project folder (where results/ lives). Snakemake builds the job
it would run (inputs, outputs, params, log, threads) from the workflow and the config, and the
script receives it as the `snakemake` object that the `script:` directive injects. Its inputs
must exist already (run the workflow up to them first).
"""

from __future__ import annotations

import sys
from pathlib import Path

SNAKEFILE = Path(__file__).resolve().parents[1] / "Snakefile"


def mock_snakemake(script: str, argv: list[str] | None = None):
    """The `snakemake` object for `script` (the caller's __file__) from `key=value` arguments."""
    from snakemake.api import SnakemakeApi
    from snakemake.dag import DAG
    from snakemake.jobs import Job
    from snakemake.iocontainers import Snakemake
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings

    args = dict(a.split("=", 1) for a in (sys.argv[1:] if argv is None else argv))
    configfiles = [Path(c).resolve() for c in args.pop("configfile", "").split(",") if c]
    rulename = args.pop("rule", None)
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow = api.workflow(ResourceSettings(cores=1), ConfigSettings(configfiles=configfiles),
                                snakefile=SNAKEFILE, workdir=Path.cwd())._workflow
        workflow.dag_settings = DAGSettings()
        rules = [r for r in workflow.rules
                 if r.script and Path(r.script).name == Path(script).name
                 and (rulename is None or r.name == rulename)]
        if len(rules) != 1:
            serving = sorted(r.name for r in workflow.rules
                             if r.script and Path(r.script).name == Path(script).name)
            sys.exit(f"{Path(script).name}: rules {serving} run it; name one with rule=NAME")
        rule = rules[0]
        job = Job(rule, DAG(workflow, rules=[rule]), args)
        return Snakemake(job.input, job.output, job.params, job.wildcards, job.threads,
                         job.resources, job.log, workflow.config, rule.name, None,
                         str(SNAKEFILE.parent / "scripts"))
