"""Structural checks a reader can repeat: the library has no import cycle (counting imports
inside functions too) and every module imports in a fresh interpreter in dependency order; the
library never imports Snakemake; every workflow script is glue of at most 30 lines; no rule's
params pass a whole config section."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
SCRIPTS = ROOT / "workflow" / "scripts"
MAX_SCRIPT_LINES = 30


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The library modules `path` imports anywhere (module level or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    modules = set(files)
    graph = {}
    for name, path in files.items():
        deps = _imports(path, modules)
        # importing a.b.c imports its packages a and a.b first
        deps |= {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = deps - {name}
    return graph


def test_no_import_cycle_and_every_module_imports_in_dependency_order():
    graph = _graph()
    # a package's __init__ may import its own submodules (registration); that is not a cycle of
    # the code, so a package does not count as depending on its parents for this check
    code_graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    try:
        order = list(TopologicalSorter(code_graph).static_order())
    except CycleError as err:
        pytest.fail(f"import cycle: {' -> '.join(err.args[1])}")
    assert len(order) > 40
    script = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in order)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_library_never_imports_snakemake():
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "snakemake" for n in names), path


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py")
                                          if not p.name.startswith("_")))
def test_every_script_is_short_glue_runnable_by_hand(script):
    text = (SCRIPTS / script).read_text()
    lines = text.rstrip("\n").split("\n")
    assert len(lines) <= MAX_SCRIPT_LINES, f"{script}: {len(lines)} lines; move logic to the library"
    tree = ast.parse(text)
    assert not [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))], \
        f"{script} defines functions or classes; they belong in src/actunlearn"
    # runnable by hand: without Snakemake's injected object it builds one (_helpers.py)
    assert 'globals().get("snakemake") or __import__("_helpers").mock_snakemake(__file__)' in text


def _sections(node, path=()):
    """Every config section (dict node) below `node` with its path."""
    if isinstance(node, dict) and path:
        yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _sections(value, path + (key,))


def _nodes(value):
    """`value` and every dict or list inside it."""
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _nodes(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _nodes(v)


def test_no_rule_params_pass_a_whole_config_section():
    """The real workflow (default config): every param of every rule, evaluated for every model
    where it is a function of the wildcards, holds no config section itself (the object, as
    `mc("evaluate")` passed it), only values and keys a rule names (`setting`, `settings` and
    config.pick copy them). The one exception is a method's resolved settings (`method_params`):
    every key of them is read by its handler (config.resolve_methods rejects any other)."""
    from types import SimpleNamespace

    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow = api.workflow(ResourceSettings(cores=1), ConfigSettings(),
                                snakefile=ROOT / "workflow" / "Snakefile", workdir=ROOT)._workflow
        config = workflow.config
        trees = [config, *workflow.globals["MODEL_CONFIG"].values(),
                 *workflow.globals["UNTUNED_CONFIG"].values()]
        tuned = {m: workflow.globals["tuned_methods"](c["tuning"], c["unlearn"]["run"])[0]
                 for m, c in workflow.globals["UNTUNED_CONFIG"].items()}
        sections = {id(node): ".".join(path) for tree in trees for path, node in _sections(tree)}
        checked, bad = 0, []
        for rule in workflow.rules:
            for name, param in rule.params.items():
                if getattr(param, "__name__", "") == "method_params":
                    continue
                values = [param]
                if callable(param):
                    values = [param(SimpleNamespace(model=m, checkpoint="base", variant="base",
                                                    method=tuned[m], setting="0", seed="0", part="0"))
                              for m in config["run_models"]]
                for value in values:
                    checked += 1
                    bad += [(rule.name, name, sections[id(node)]) for node in _nodes(value)
                            if isinstance(node, dict) and id(node) in sections]
    assert checked > 100
    assert not bad, f"params that pass a config section (rule, param, section): {bad}"


def _job_counts(text: str) -> dict[str, int]:
    stats = text.split("Job stats:")[1].split("total")[0]
    return {line.split()[0]: int(line.split()[1]) for line in stats.strip().splitlines()[2:]}


def test_the_workflow_runs_as_a_snakemake_module_from_another_project(tmp_path):
    """Another project's Snakefile uses the workflow as a module (`module ... snakefile:`,
    `use rule * from ... as actunlearn_*`): it plans the same jobs as the workflow itself, and a
    rule run through the module finds its script and writes its artifact."""
    (tmp_path / "Snakefile").write_text(
        f'configfile: "{ROOT}/config/config.yaml"\n\n'
        "module actunlearn:\n"
        f'    snakefile: "{ROOT}/workflow/Snakefile"\n'
        "    config: config\n\n"
        "use rule * from actunlearn as actunlearn_*\n")
    snakemake = str(Path(sys.executable).with_name("snakemake"))

    def run(*args, cwd):
        proc = subprocess.run([snakemake, "--cores", "1", *args], cwd=cwd, capture_output=True,
                              text=True)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        return proc.stdout + proc.stderr

    as_module = _job_counts(run("-n", cwd=tmp_path))
    direct = _job_counts(run("-n", "--directory", str(tmp_path / "direct"), "--snakefile",
                             str(ROOT / "workflow/Snakefile"), cwd=ROOT))
    assert as_module == {f"actunlearn_{rule}": n for rule, n in direct.items()}
    assert sum(as_module.values()) > 50
    run("results/catalog/catalog.parquet", cwd=tmp_path)
    assert (tmp_path / "results/catalog/catalog.parquet").stat().st_size > 0
