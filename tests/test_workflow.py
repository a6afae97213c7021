"""End to end on the tiny config: the whole DAG runs, forgetting works, reruns are incremental."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from actunlearn.provenance import read_provenance
from actunlearn.reporting.database import connect

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TINY = "tests/config/tiny.yaml"


def _copy_project(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest / f)


def _snakemake(workdir: Path, *args: str) -> str:
    """Snakemake in `workdir` with `args` first (targets before options: --configfile takes every
    word after it), on the tiny config unless `args` name config files."""
    config = [] if "--configfile" in args else ["--configfile", TINY]
    proc = subprocess.run([SNAKEMAKE, *args, "--cores", "2", *config],
                          cwd=workdir, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if proc.returncode:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{out[-4000:]}")
    return out


def _job_counts(dry_run_output: str) -> dict[str, int]:
    stats = dry_run_output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    _copy_project(workdir)
    _snakemake(workdir)
    return workdir


def _summary(study: Path) -> pd.DataFrame:
    return pd.read_csv(study / "results/testbed/tables/method_comparison.csv").set_index("checkpoint")


def _headline(study: Path) -> pd.DataFrame:
    """Held-out design means over the forget set (film "all"), by (method, metric)."""
    results = pd.read_parquet(study / "results/testbed/summary/methods.parquet")
    held = results[(results.film == "all") & (results.split == "held_out")]
    return held.set_index(["method", "metric"]).estimate


def test_masked_lora_forgets_and_retains(study):
    """On held-out prompts over both forget films: forgetting works, the rest mostly holds, and
    the forget titles drop out of held-out recommendation contexts."""
    h = _headline(study)
    assert h["base", "forget_recall"] >= 0.9, "the testbed must know the targets first"
    assert h["retain_ref", "forget_recall"] <= 0.2, "the reference never saw the targets"
    assert h["masked_lora", "forget_recall"] <= 0.10
    assert h["masked_lora", "retain_recall"] >= 0.7 * h["base", "retain_recall"]
    assert h["masked_lora", "retain_recall"] > h["npo", "retain_recall"] + 0.2
    assert h["masked_lora", "exposure_prob"] < 0.2 * h["base", "exposure_prob"]
    table = _summary(study)
    assert not table.isna().any().any(), "every metric is defined on the tiny study"


def test_different_methods_give_different_numbers(study):
    """A known failure of peer frameworks: every method reporting identical metrics."""
    summaries = {c: pd.read_parquet(study / f"results/testbed/eval/{c}/summary.parquet")
                 .set_index("metric").value for c in ("masked_lora_seed0", "random_mask_lora_seed0")}
    assert not summaries["masked_lora_seed0"].equals(summaries["random_mask_lora_seed0"])
    logs = [pd.read_parquet(study / f"results/testbed/unlearn/{c}/log.parquet").loss.iloc[-1]
            for c in ("masked_lora_seed0", "random_mask_lora_seed0")]
    assert logs[0] != logs[1]


def test_artifacts_carry_provenance_and_report_exists(study):
    prov = read_provenance(study / "results/testbed/eval/masked_lora_seed0/summary.parquet")
    assert {"config_hash", "versions", "device", "params"} <= set(prov)
    unlearn_prov = read_provenance(study / "results/testbed/unlearn/masked_lora_seed0/log.parquet")
    assert unlearn_prov["seed"] == 0 and unlearn_prov["params"]["top_k"] == 32
    html = (study / "results/testbed/report/report.html").read_text()
    assert "Method comparison" in html and html.count("data:image/png;base64") >= 10
    assert "Methods (held-out prompts; design intervals)" in html
    summary = pd.read_csv(study / "results/testbed/tables/method_summary.csv").set_index("method")
    assert summary.loc["masked_lora", "seeds"] == 1 and summary.loc["masked_lora", "films"] == 2
    adapter = study / "results/testbed/unlearn/masked_lora_seed0/checkpoint"
    assert (adapter / "adapter_model.safetensors").exists()
    assert (adapter / "neuron_mask.json").exists()


def test_database_views_resolve_against_the_study(study):
    # the study database: every model's artifacts with a model column; a model's own database
    with connect(study / "results/actunlearn.duckdb") as con:
        n = con.execute("SELECT count(DISTINCT checkpoint) FROM eval_recall").fetchone()[0]
        films = con.execute("SELECT count(*) FROM catalog WHERE role IN ('forget', 'neighbour', "
                            "'retain', 'val_forget', 'val_neighbour')").fetchone()[0]
        models = con.execute("SELECT DISTINCT model FROM eval_recall").fetchall()
        variants = con.execute("SELECT DISTINCT variant FROM training_log ORDER BY 1").fetchall()
    assert (n, films, models) == (5, 46, [("testbed",)])
    assert variants == [("base",), ("retain_ref",)]
    with connect(study / "results/testbed/actunlearn.duckdb") as con:
        n = con.execute("SELECT count(DISTINCT checkpoint) FROM eval_recall").fetchone()[0]
        known = con.execute("SELECT count(*) FROM knowledge WHERE known AND role = 'forget'"
                            ).fetchone()[0]
    assert n == 5 and known >= 8  # both forget films' facts


def test_sql_command_queries_artifacts(study):
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("actunlearn")), "sql",
         "SELECT count(*) AS n FROM eval_summary WHERE metric = 'forget_recall_train'", "--csv"],
        cwd=study, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["n", "5"]
    bad = subprocess.run([str(Path(sys.executable).with_name("actunlearn")), "sql",
                          "SELECT * FROM nope"], cwd=study, capture_output=True, text=True)
    assert bad.returncode == 2 and "nope" in bad.stderr


def test_rerun_is_a_no_op(study):
    assert "Nothing to be done" in _snakemake(study, "-n")


# The reporting tail: every result table, report and the results page.
TAIL = {"build_tables": 1, "build_report": 1, "build_study_tables": 1, "build_study_report": 1,
        "write_results": 1, "all": 1}
# After any evaluation changes: the tables over every checkpoint's evaluation.
EVAL = {"forget_quality": 1, "recommendation_drift": 1, "summarise_methods": 1} | TAIL
EVERY_EVAL = {"evaluate": 2, "evaluate_unlearned": 3} | EVAL
# Everything downstream of the known facts (the knowledge check's prompts).
KNOWN = {"check_knowledge": 1, "dump_activations": 1, "activation_overlap": 1,
         "contrast_neurons": 1, "semantic_similarity": 1, "score_neurons": 1, "neuron_agreement": 1,
         "rank_neurons": 1, "unlearn": 3, "unlearn_sequence": 1, "evaluate_sequence": 1,
         "relearn": 1, "audit_part": 2, "audit": 1, "localize": 1} | EVERY_EVAL
RANKED = {"rank_neurons": 1, "unlearn": 2, "unlearn_sequence": 1, "evaluate_sequence": 1,
          "evaluate_unlearned": 2, "relearn": 1, "audit_part": 2, "audit": 1,
          "localize": 1} | EVAL

# key -> (new value, the jobs a dry run schedules after the change). The tiny study's ranking
# uses saliency only, so the contrast table and a new activation dump rerun no ranking; of its
# methods masked_lora (its mask) and npo (layers: ranked) read the ranking, random_mask_lora not.
RERUNS = {
    "evaluate.drift.rbo_p": (0.8, {"recommendation_drift": 1} | TAIL),
    "evaluate.drift.top_k": (9, EVERY_EVAL),
    "evaluate.perplexity_lines": (20, EVERY_EVAL),
    "evaluate.shift.retain_films": (3, EVERY_EVAL),
    "evaluate.shift.templates": (2, {"build_shift_sets": 1} | EVERY_EVAL),
    "evaluate.shift.max_new_tokens": (20, EVERY_EVAL),
    "evaluate.shift.bar": (0.7, TAIL),
    "activations.token_level": (True, {"dump_token_activations": 1, "all": 1}),
    "activations.dtype": ("float32", {"dump_activations": 1, "activation_overlap": 1,
                                      "contrast_neurons": 1, "semantic_similarity": 1,
                                      "evaluate_unlearned": 3} | EVAL),
    "probing.agreement_top_k": (16, {"neuron_agreement": 1} | TAIL),
    "probing.semantic_prompts": (50, {"semantic_similarity": 1} | TAIL),
    "probing.top_k_tokens": (4, EVERY_EVAL),
    "probing.shift_retain_films": (3, {"evaluate_unlearned": 3} | EVAL),
    "unlearn.methods.npo.steps": (81, {"unlearn": 1, "evaluate_unlearned": 1, "relearn": 1,
                                       "audit_part": 1, "audit": 1} | EVAL),
    "unlearn.families.budget.steps": (81, {"unlearn": 3, "unlearn_sequence": 1,
                                           "evaluate_sequence": 1, "evaluate_unlearned": 3,
                                           "relearn": 1, "audit_part": 2, "audit": 1} | EVAL),
    "ranking.scores": (["saliency", "fisher"], RANKED),
    "relearn.steps": (19, {"relearn": 1} | TAIL),
    "unlearn.sequential.retain_films": (9, {"evaluate_sequence": 1} | TAIL),
    "unlearn.retain_data": ("own_answers", {"unlearn": 3, "evaluate_unlearned": 3, "relearn": 1,
                                            "audit_part": 2, "audit": 1} | EVAL),
    "audit.probe.c": (0.5, {"audit_part": 2, "audit": 1} | TAIL),
    "neurons.retain_prompts": (60, {"score_neurons": 1, "neuron_agreement": 1} | RANKED),
    "knowledge.min_share": (0.4, KNOWN),
    "inference.max_new_tokens": (9, KNOWN),
    "testbed.epochs": (15, {"train_testbed": 2} | KNOWN),
    "localize.steps": (7, {"localize": 1} | TAIL),
}


@pytest.mark.parametrize("key", sorted(RERUNS))
def test_a_changed_setting_reruns_exactly_the_rules_that_read_it(study, tmp_path, key):
    value, expected = RERUNS[key]
    change = value
    for part in reversed(key.split(".")):
        change = {part: change}
    overlay = tmp_path / "change.yaml"
    overlay.write_text(yaml.safe_dump(change))
    assert _job_counts(_snakemake(study, "-n", "--configfile", TINY, str(overlay))) == expected


def test_all_probing_artifacts_and_figures_exist(study):
    for path in ["results/testbed/probing/activation_overlap.parquet",
                 "results/testbed/probing/activation_overlap_pairs.parquet",
                 "results/testbed/probing/semantic_similarity.parquet",
                 "results/testbed/probing/neuron_agreement.parquet",
                 "results/testbed/probing/instability/base.parquet",
                 "results/testbed/probing/shift/masked_lora_seed0.parquet",
                 "results/testbed/neurons/contrast.parquet", "results/testbed/neurons/gradient_norms.parquet",
                 "results/testbed/neurons/layers.parquet"]:
        assert (study / path).exists(), path
    html = (study / "results/testbed/report/report.html").read_text()
    for heading in ("Prompt-perturbation instability", "Activation overlap",
                    "Semantic vs activation similarity", "Gradient sensitivity",
                    "Saliency vs Fisher agreement", "Contrastive activation difference",
                    "Activation shift after unlearning"):
        assert heading in html
    shift = pd.read_parquet(study / "results/testbed/probing/shift/masked_lora_seed0.parquet")
    last = shift[(shift.representation == "resid_last") & (shift.split == "train")]
    by_role = last.groupby("role").cosine_distance.mean()
    assert by_role["forget"] > by_role["retain"], "unlearning moves forget activations most"


def test_sequential_unlearning_forgets_each_target_in_turn(study):
    """Inception, then The Dark Knight: each step forgets its target, the earlier one stays
    forgotten, the later one is still known until its turn, other films stay known."""
    s = pd.read_parquet(study / "results/testbed/sequential/masked_lora_seed0/summary.parquet")
    train = s[s.split == "train"].set_index(["step", "group"]).recall
    assert train[(0, "Inception")] >= 0.9 and train[(0, "The Dark Knight")] >= 0.9
    assert train[(1, "Inception")] <= 0.1 and train[(1, "The Dark Knight")] >= 0.6
    # <= 0.2 for both (2 of 15 train prompts of The Dark Knight survive on some CPUs, 1 on others)
    assert train[(2, "Inception")] <= 0.2 and train[(2, "The Dark Knight")] <= 0.2
    assert train[(2, "retain")] >= 0.85 * train[(0, "retain")]
    steps = study / "results/testbed/sequential/masked_lora_seed0/checkpoints"
    assert sorted(p.name for p in steps.glob("step*")) == ["step1", "step2"]
    assert (steps / "step2" / "model.safetensors").exists()
    table = pd.read_csv(study / "results/testbed/tables/sequential.csv")
    assert {"Inception", "The Dark Knight", "retain"} <= set(table.columns)


def test_bring_your_own_logs_and_probes(study, tmp_path):
    overlay = tmp_path / "byo.yaml"
    overlay.write_text(yaml.safe_dump({"byo": {
        "logs": {"example": str(ROOT / "docs/examples/recommendation_logs.jsonl")},
        "base": "base", "probes": str(ROOT / "docs/examples/probes.jsonl")}}))
    _snakemake(study, "results/byo/example/summary.parquet",
               "results/testbed/byo/probes/masked_lora_seed0_summary.parquet",
               "results/testbed/byo/probes/base_summary.parquet", "--configfile", TINY, str(overlay))
    drift = pd.read_parquet(study / "results/byo/example/summary.parquet")
    assert {"paraphrase", "vs_base"} == set(drift.comparison)
    leaks = {c: pd.read_parquet(study / f"results/testbed/byo/probes/{c}.parquet").set_index("id")
             for c in ("base", "masked_lora_seed0")}
    assert set(leaks["base"].kind) == {"direct", "alias", "recommendation"}
    # the base model names the director when asked directly; the unlearned model does not
    assert leaks["base"].loc["p1", "leaked"] and not leaks["masked_lora_seed0"].loc["p1", "leaked"]


def test_shift_sets_and_recommendation_drift_tables(study):
    shift = pd.read_csv(study / "results/testbed/tables/shift_robustness.csv")
    base = shift[shift.method == "base"].set_index("shift_set")
    unlearned = shift[shift.method == "masked_lora"].set_index("shift_set")
    assert {"original", "paraphrase", "alias", "multihop", "typo", "system_prompt"} <= set(base.index)
    assert base.loc["original", "forget"] >= 0.9 and unlearned.loc["original", "forget"] <= 0.1
    drift = pd.read_parquet(study / "results/testbed/drift/summary.parquet")
    control = drift[(drift.comparison == "vs_base") & (drift.family_kind == "control")
                    & (drift.metric == "rbo")].set_index("checkpoint").value
    target = drift[(drift.comparison == "vs_base") & (drift.family_kind == "adjacent")
                   & (drift.metric == "rbo")].set_index("checkpoint").value
    # unlearning moves the lists where the target used to be recommended more than elsewhere
    assert target["masked_lora_seed0"] < control["masked_lora_seed0"]
    assert "Recommendation drift" in (study / "results/testbed/report/report.html").read_text()


# The tiny testbed (hidden 64, ~50 films) is too small for every set to reach the default
# config's bar; the end-to-end test asks this of the base model on the sets it can learn at that
# size, so that leakage stays measurable there (the default study's own table: shift_bar).
TINY_BAR = {"paraphrase": 0.8, "word_order": 0.8, "typo": 0.4}


def test_base_model_clears_the_tiny_bar_and_the_bar_table_says_so(study):
    bar = pd.read_csv(study / "results/testbed/tables/shift_bar.csv")
    assert {"base", "retain_ref", "meets_bar", "bridge_named"} <= set(bar.columns)
    assert set(bar.bar) == {0.8}
    base = bar.set_index(["shift_set", "role"]).base
    for shift_set, floor in TINY_BAR.items():
        for role in ("forget", "neighbour", "retain"):
            assert base[(shift_set, role)] >= floor, (shift_set, role, base[(shift_set, role)])
    assert (bar.meets_bar == (bar.base >= bar.bar)).all()
    # the retain reference never learned the forget films: it answers far fewer of their sets
    forget = bar[bar.role == "forget"].set_index("shift_set")
    assert forget.loc["original", "retain_ref"] < forget.loc["original", "base"] - 0.5


def test_no_evaluated_shift_prompt_is_in_the_trained_corpus(study):
    """On the real artifacts: no shift prompt (under its system turn) of an evaluated film is a
    training question, and the skill lines are all about skill films, which no set asks."""
    corpus = pd.read_parquet(study / "results/corpus/corpus.parquet")
    shift = pd.read_parquet(study / "results/corpus/shift_prompts.parquet")
    catalog = pd.read_parquet(study / "results/catalog/catalog.parquet")
    train = corpus[(corpus.split == "train") & (corpus.kind == "qa")]
    trained = set(zip(train.system.fillna(""), train.question))
    asked = set(zip(shift.system.fillna(""), shift.question))
    assert len(asked) > 500 and not asked & trained
    skill = set(catalog.title[catalog.role == "skill"])
    assert set(corpus.title[corpus.skill.notna()]) == skill and not skill & set(shift.title)


def test_relearning_and_forget_quality(study):
    table = pd.read_csv(study / "results/testbed/tables/relearning.csv")
    near = table[table.variant == "neighbours"].set_index("method")
    # refusal-trained LoRA only hides the target's facts: 20 steps on neighbour films' facts
    # (never the target's) bring them back; the retain reference, which never saw them, cannot
    assert near.loc["masked_lora", "before"] <= 0.1
    assert near.loc["masked_lora", "recovery"] > near.loc["retain_ref", "recovery"] + 0.3
    quality = pd.read_parquet(study / "results/testbed/quality/summary.parquet").set_index("checkpoint")
    assert quality.loc["base", "mia_auc_loss"] > quality.loc["retain_ref", "mia_auc_loss"]
    assert quality.loc["retain_ref", "forget_quality_p"] == 1.0


def test_hf_source_runs_a_local_transformers_folder(study, tmp_path):
    """A pretrained model from a local folder (source hf, offline, no remote code): its model
    card points at the folder, the knowledge check keeps what it knows, and masked LoRA
    unlearns it through the same rules. The folder is the tiny study's trained testbed."""
    folder = tmp_path / "local_model"
    shutil.copytree(study / "results/testbed/models/base", folder)
    overlay = tmp_path / "local.yaml"
    overlay.write_text(yaml.safe_dump({"run_models": ["local"], "models": {"local": {
        "source": "hf", "id": str(folder), "system_prompt": None,
        "overrides": {"unlearn": {"run": ["masked_lora"], "seeds": [0],
                                  "sequential": {"targets": []}}}}}}))
    _snakemake(study, "results/local/eval/masked_lora_seed0/summary.parquet",
               "results/local/eval/base/summary.parquet", "--configfile", TINY, str(overlay))
    card = yaml.safe_load((study / "results/local/models/base/actunlearn_model.json").read_text())
    assert card["weights"] == str(folder) and card["trust_remote_code"] is False
    facts = pd.read_parquet(study / "results/local/knowledge/facts.parquet")
    assert facts[facts.role == "forget"].known.mean() >= 0.8
    known = pd.read_parquet(study / "results/local/knowledge/prompts.parquet")
    unknown_facts = facts.loc[~facts.known, ["title", "intent"]]
    assert known.merge(unknown_facts, on=["title", "intent"]).empty
    assert set(known.prompt_id) <= set(pd.read_parquet(study / "results/corpus/prompts.parquet").prompt_id)
    summary = {c: pd.read_parquet(study / f"results/local/eval/{c}/summary.parquet")
               .set_index("metric").value for c in ("base", "masked_lora_seed0")}
    assert summary["base"]["forget_recall_train"] >= 0.9
    assert summary["masked_lora_seed0"]["forget_recall_train"] <= 0.1


def _read_all(study: Path, pattern: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted(study.glob(pattern))], ignore_index=True)


def test_no_headline_prompt_was_trained_on(study):
    """Every prompt behind a headline (held-out) column, recall and exposure alike, is absent
    from every checkpoint's training manifest, by id and by text."""
    manifest = _read_all(study, "results/testbed/unlearn/*/manifest.parquet")
    assert set(manifest.checkpoint) == {"masked_lora_seed0", "random_mask_lora_seed0", "npo_seed0"}
    assert {"forget", "expose", "retain", "neighbour", "retain_check"} <= set(manifest.use)
    recall = _read_all(study, "results/testbed/eval/*/recall.parquet")
    exposure = _read_all(study, "results/testbed/eval/*/exposure.parquet")
    prompts = pd.read_parquet(study / "results/corpus/prompts.parquet").set_index("prompt_id")
    headline = set(recall.prompt_id[recall.split == "held_out"]) | \
        set(exposure.prompt_id[exposure.split == "held_out"])
    assert len(headline) > 100
    trained_ids = set(manifest.prompt_id.dropna().astype(int))
    assert not headline & trained_ids
    texts = set(manifest.question.dropna()) | set(manifest.text.dropna())
    assert not {prompts.loc[p, "question"] for p in headline} & texts
    # the train split is what the methods trained on: its forget prompts are in the manifests
    forget_train = set(recall.prompt_id[(recall.split == "train") & (recall.role == "forget")])
    assert forget_train <= trained_ids


def test_every_trained_method_gets_the_same_budget(study):
    logs = _read_all(study, "results/testbed/unlearn/*/log.parquet")
    last = logs.sort_values("step").groupby("checkpoint").tail(1).set_index("method")
    assert len(last) == 3
    assert last.steps.nunique() == 1 and last.forget_examples.nunique() == 1
    assert last.retain_examples.nunique() == 1 and (last.forget_examples > 0).all()
    # masked LoRA counts only the columns it can train
    assert last.loc["masked_lora", "effective_params"] < last.loc["masked_lora", "trainable_params"]
    assert last.loc["npo", "effective_params"] == last.loc["npo", "trainable_params"]


def test_headline_intervals_stay_in_range_and_state_their_design(study):
    results = pd.read_parquet(study / "results/testbed/summary/methods.parquet")
    bounded = results[results.metric.str.endswith("recall") | (results.metric == "exposure_prob")]
    ok = bounded.dropna(subset=["low"])
    assert ((ok.low >= 0) & (ok.high <= 1) & (ok.low <= ok.estimate) & (ok.estimate <= ok.high)).all()
    forget = results[(results.metric == "forget_recall") & (results.film == "all")
                     & (results.split == "held_out")].set_index("method")
    assert (forget.n_films == 2).all() and (forget.n_facts >= 6).all()
    per_film = results[(results.metric == "forget_recall") & (results.film != "all")]
    assert set(per_film.film) == {"Inception", "The Dictator"}


def test_a_deterministic_method_runs_once(study, tmp_path):
    overlay = tmp_path / "seeds.yaml"
    overlay.write_text(yaml.safe_dump({"unlearn": {"seeds": [0, 1], "run": ["dampen", "npo"]},
                                       "relearn": {"seeds": [0, 1]}}))
    out = _snakemake(study, "-n", "--configfile", TINY, str(overlay))
    assert "results/testbed/unlearn/dampen_seed0/log.parquet" in out
    assert "dampen_seed1" not in out
    assert "results/testbed/unlearn/npo_seed1/log.parquet" in out


def test_reports_lead_with_the_verdict_and_render_in_chromium(study, tmp_path):
    """Both reports as a reader sees them (headless Chromium): every figure loads, no table
    overflows its box or wraps a cell, no sideways scroll; the verdict comes first and names for
    each method the status the criterion gives on the study's own numbers; every table folded."""
    from test_report_render import CHROMIUM, assert_renders, render_check

    from actunlearn.reporting.results_doc import FORGET_MARGIN, UTILITY_SHARE
    h = _headline(study)
    forget_max = h["retain_ref", "forget_recall"] + FORGET_MARGIN
    expected = {}
    for method in ("masked_lora", "random_mask_lora", "npo"):
        keeps = all(h[method, m] >= UTILITY_SHARE * h["base", m]
                    for m in ("neighbour_recall", "retain_recall"))
        expected[method] = "meets" if h[method, "forget_recall"] <= forget_max and keeps \
            else "fails"
    pages = {"study": (study / "results/report/report.html", 5),
             "testbed": (study / "results/testbed/report/report.html", 15)}
    for name, (page, figures) in pages.items():
        text = page.read_text()
        assert text.index("<h2>Verdict</h2>") < text.index("<h2>Methods"), name
        assert text.count("<table") == text.count("<details>") > 0, "every table folded"
        for method, status in expected.items():
            assert f"{method}: {status}</span>" in text, (name, method, status)
        if CHROMIUM is None:
            pytest.skip("headless Chromium not installed (Debian: apt-get install chromium)")
        assert_renders(render_check(page, tmp_path), min_images=figures)


def test_a_script_runs_by_hand_and_writes_what_the_rule_wrote(study):
    """`python workflow/scripts/summarise_methods.py model=testbed configfile=...` (mock_snakemake
    in workflow/scripts/_helpers.py) builds the job from the workflow and writes the same tables
    as the rule did. The rule's outputs are put back afterwards (bytes and times), so later
    reruns stay no-ops."""
    outputs = [study / "results/testbed/summary/methods.parquet",
               study / "results/testbed/summary/differences.parquet"]
    backup = study / "hand_backup"
    backup.mkdir()
    for path in outputs:
        shutil.copy2(path, backup / path.name)
    try:
        proc = subprocess.run([sys.executable, "workflow/scripts/summarise_methods.py",
                               "model=testbed", f"configfile={TINY}"], cwd=study,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        for path in outputs:
            pd.testing.assert_frame_equal(pd.read_parquet(path),
                                          pd.read_parquet(backup / path.name))
    finally:
        for path in outputs:
            shutil.copy2(backup / path.name, path)
        shutil.rmtree(backup)
    assert "Nothing to be done" in _snakemake(study, "-n")


def test_the_study_runs_no_sweep_and_a_search_space_change_reruns_no_study_job(study, tmp_path):
    assert not (study / "results/testbed/tune").exists()
    record = pd.read_parquet(study / "results/testbed/tuned/trials.parquet")
    assert record.note.iloc[0].startswith("not tuned: no results/tuned/testbed.yaml".replace(
        ".yaml", ".trials.csv"))
    overlay = tmp_path / "space.yaml"
    overlay.write_text(yaml.safe_dump({"tuning": {"spaces": {"npo": {"learning_rate":
                                                                     [0.001, 0.002]}}}}))
    assert "Nothing to be done" in _snakemake(study, "-n", "--configfile", TINY, str(overlay))
    assert _job_counts(_snakemake(study, "tune", "-n", "--configfile", TINY, str(overlay))) == {
        "tune_view": 1, "tune_ranking": 1, "tune_reference_model": 1, "tune_reference": 1,
        "tune_trial": 4, "tune_select": 1, "tune": 1}


def _criterion(trials: pd.DataFrame, margin: float) -> dict[str, str]:
    """method -> chosen settings (JSON), recomputed from the trials table by the stated rule."""
    ref = trials[trials.method == "retain_ref"].forget_held_out
    threshold = (float(ref.iloc[0]) if len(ref) else 0.0) + margin
    out = {}
    for method, g in trials[~trials.method.isin(["base", "retain_ref"])].groupby("method"):
        g = g.assign(utility=g[["neighbour_held_out", "retain_held_out"]].mean(axis=1))
        ok = g[g.forget_held_out <= threshold]
        best = (ok.sort_values(["utility", "forget_held_out", "setting"], ascending=[False, True, True])
                if len(ok) else g.sort_values(["forget_held_out", "utility", "setting"],
                                              ascending=[True, False, True]))
        out[method] = best.settings.iloc[0]
    return out


def test_the_sweep_picks_by_its_criterion_from_validation_films_and_the_study_reads_it(study, tmp_path):
    import json

    from actunlearn.tuning.validation import check_disjoint, tested_titles
    work = tmp_path / "work"
    shutil.copytree(study, work, symlinks=True)
    _snakemake(work, "tune")
    trials = pd.read_parquet(work / "results/testbed/tune/trials.parquet")
    tuned = yaml.safe_load((work / "results/tuned/testbed.yaml").read_text())["unlearn"]["methods"]
    expected = _criterion(trials, yaml.safe_load((ROOT / TINY).read_text())["tuning"].get("margin", 0.05))
    assert {m: json.loads(s) for m, s in expected.items()} == \
        {m: v for m, v in tuned.items() if m != "random_mask_lora"}
    assert tuned["random_mask_lora"] == tuned["masked_lora"]      # the control follows its leader
    assert set(trials.method) == {"base", "retain_ref", "masked_lora", "npo"}
    assert trials.chosen.fillna(False).astype(bool).sum() == 2
    # no test fact anywhere in tuning's data: the view's tables and every trial's manifest
    catalog = pd.read_parquet(work / "results/catalog/catalog.parquet")
    test = tested_titles(catalog)
    view = {p.stem: pd.read_parquet(p) for p in (work / "results/testbed/tune/view").glob("*.parquet")
            if p.stem not in ("catalog", "reference_corpus")}
    view["manifests"] = _read_all(work, "results/testbed/tune/trials/*/*_manifest.parquet")
    assert {"forget", "expose", "retain", "neighbour"} <= set(view["manifests"].use)
    check_disjoint(catalog, view)
    held = set(catalog.title[catalog.role == "val_forget"])
    assert set(view["asked"].title[view["asked"].role == "forget"]) <= held
    assert not set(view["asked"].title) & test
    # the study then runs the chosen settings: its unlearning jobs rerun and read them
    counts = _job_counts(_snakemake(work, "-n"))
    assert counts["unlearn"] == 3 and counts["tuning_record"] == 1
    _snakemake(work, "results/testbed/unlearn/masked_lora_seed0/log.parquet",
               "results/testbed/unlearn/random_mask_lora_seed0/log.parquet",
               "results/testbed/tuned/trials.parquet")
    for name in ("masked_lora", "random_mask_lora"):
        prov = json.loads((work / f"results/testbed/unlearn/{name}_seed0/checkpoint/provenance.json")
                          .read_text())
        assert {k: prov["params"][k] for k in tuned[name]} == tuned[name], name
    record = pd.read_parquet(work / "results/testbed/tuned/trials.parquet")
    assert record.note.isna().all() and record.chosen.fillna(False).astype(bool).sum() == 2


def test_audit_attacks_are_held_out_and_read_against_the_controls(study):
    """Is it really gone? On the tiny study's artifacts: every checkpoint is attacked, no
    attack prompt is in the corpus or in any unlearning manifest, the 8-bit base model answers
    like the base model, and the probe and lens tables cover every layer."""
    answers = pd.read_parquet(study / "results/testbed/audit/answers.parquet")
    # two parts (audit.parts), each checkpoint answered once
    sizes = answers.groupby(["attack", "checkpoint"]).size()
    assert (sizes.groupby("attack").nunique() == 1).all()
    assert set(answers.checkpoint) == {"base", "retain_ref", "masked_lora_seed0",
                                       "random_mask_lora_seed0", "npo_seed0"}
    assert {"none", "int8", "int4", "int4_g32", "prefix_injection", "role_play", "reverse",
            "assistant_turn", "context_neighbours", "context_same_film"} == set(answers.attack)
    corpus = pd.read_parquet(study / "results/corpus/corpus.parquet")
    manifest = _read_all(study, "results/testbed/unlearn/*/manifest.parquet")
    trained = (set(corpus.question.dropna()) | set(corpus.text) | set(manifest.question.dropna())
               | set(manifest.text.dropna()))
    plain = answers[(answers.kind == "prompt") & answers.history.isna() & answers.prefix.isna()]
    assert len(plain) and not set(plain.question) & trained
    base = answers[answers.checkpoint == "base"].set_index(["attack", "title", "intent",
                                                            "template_id"]).response
    assert (base.loc["int8"].sort_index() == base.loc["none"].sort_index()).mean() >= 0.95
    lens = pd.read_parquet(study / "results/testbed/audit/lens.parquet")
    assert sorted(set(lens.layer)) == [0, 1, 2, 3]
    readouts = pd.read_parquet(study / "results/testbed/audit/readouts.parquet")
    own = readouts[(readouts.readout == "probe") & (readouts.probe == "own")]
    assert own.estimate.dropna().between(0, 1).all() and len(own)
    assert "retain_ref" not in set(readouts[readouts.probe == "base"].method)
    table = pd.read_csv(study / "results/testbed/tables/attacks.csv")
    assert {"none_forget", "base_forget", "ref_forget"} <= set(table.columns)
    assert (table[table.method == "base"].attack == "none").any()
