"""The report pages: a verdict computed from the result tables, then per section its figure and
its table (folded). `model_report` writes one model's page (results/{model}/report/), and
`study_report` the study's (results/report/), from the same verdict code.

The criterion is that of docs/results.md (actunlearn.reporting.results_doc), stated in the page from its
constants: on held-out prompts a method *forgets* when its forget recall is at most the retain
reference's + FORGET_MARGIN (a model without a reference: at most FORGET_MARGIN) and *keeps
utility* when its neighbour and retain recall are each at least UTILITY_SHARE of the base
model's. It meets the criterion when it does both. Why these: the retain-only reference is what
a model that never saw the targets answers (its forget recall is the floor guessing reaches), and
a method that forgets by breaking the model is no answer, so utility is judged against the model
it started from. Leaks are read for each method that forgets: a shift set whose forget recall is
above the forget threshold, recommendation exposure above chance (the forget titles' mean rank
among the candidate titles better than (candidates + 1) / 2, the mean rank of a title the model
has no preference for; probabilities are not used, a pretrained model spreads them over its
vocabulary), and a relearning attack that brings forget
recall back above the reference's after-attack recall + FORGET_MARGIN.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from actunlearn.reporting import figures as report
from actunlearn.reporting.database import connect
from actunlearn.reporting.results_doc import FORGET_MARGIN, UTILITY_SHARE

BASE, REFERENCE = "base", "retain_ref"
HELD_OUT_SET = "paraphrase"   # the shift table's name for the held-out templates (the criterion)
ROLES = {"forget_recall": ("forget", "forget"), "neighbour_recall": ("neighbours", "neighbour"),
         "retain_recall": ("retain", "retain")}
NOT_RUN = "not in this study for this model"


# --- the verdict ------------------------------------------------------------------------------

@dataclass
class Check:
    label: str
    value: str            # "0.085 [0.0105, 0.45]" or "undefined (why)"
    passed: bool | None   # None: undefined
    rule: str             # "≤ 0.1", "≥ 0.575"
    estimate: float | None = None


@dataclass
class MethodVerdict:
    method: str
    checks: list[Check]
    leaks: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)   # leak checks that are undefined, why
    leak_sets: list[str] = field(default_factory=list)  # shift sets with a leak

    @property
    def status(self) -> str:
        passed = [c.passed for c in self.checks]
        return "fails" if False in passed else "undecided" if None in passed else "meets"

    def check(self, label: str) -> Check:
        return next(c for c in self.checks if c.label == label)


@dataclass
class ModelVerdict:
    model: str
    forget_max: float | None
    reference: str                        # how forget_max was set
    floors: dict[str, float | None]       # utility metric -> floor (None: base undefined)
    base: dict[str, str]                  # utility metric -> the base value as text
    methods: list[MethodVerdict]
    blind_sets: list[str]                 # shift sets where the base recalls <= forget_max


def criterion_text() -> str:
    return (f"A method meets the criterion when, on held-out prompts (templates and "
            f"recommendation contexts no method trained on), its forget recall is at most the "
            f"retain-only reference's + {report.fmt(FORGET_MARGIN)} (at most "
            f"{report.fmt(FORGET_MARGIN)} for a model without a reference: a pretrained model) "
            f"and its neighbour and retain recall are each at least {UTILITY_SHARE:.0%} of the "
            "base model's. Values: design means over seeds, forget films and facts with their "
            "95% crossed cluster-bootstrap intervals; the decision uses the means. Leaks, for "
            "each method that forgets: a shift set where forget recall is above the forget "
            "threshold; the forget titles still ranked above chance among the candidate titles of "
            "held-out recommendation contexts (mean rank better than (candidates + 1) / 2, what "
            "a title the model has no preference for gets); a relearning attack that brings forget recall "
            "above the reference's after-attack recall + "
            f"{report.fmt(FORGET_MARGIN)}. The same criterion as docs/results.md.")


def notes_of(frame: pd.DataFrame | None) -> tuple[pd.DataFrame, str]:
    """The rows with data (the `note` column dropped) and, where a table has only a note row
    (a stage this model does not run), that note."""
    if frame is None or frame.empty:
        return pd.DataFrame(), "no such table"
    if "note" not in frame.columns:
        return frame, ""
    data_columns = [c for c in frame.columns if c not in ("note", "model")]
    is_note = frame.note.notna() & frame[data_columns].isna().all(axis=1)
    notes = frame[is_note]
    note = "; ".join(dict.fromkeys(
        (f"{m}: {n}" for m, n in zip(notes.model, notes.note)) if "model" in notes.columns
        else notes.note.astype(str)))
    rest = frame[~is_note]
    return (rest.drop(columns="note") if rest.note.isna().all() else rest), note


def headline_points(results: pd.DataFrame) -> pd.DataFrame:
    """Held-out design means over the whole forget set (film "all"), one row per method and
    metric, from summary/methods.parquet."""
    held = results[(results.film == "all") & (results.split == "held_out")]
    return held[["method", "metric", "estimate", "low", "high", "n_seeds", "note"]] \
        .reset_index(drop=True)


def _value(row) -> str:
    if row is None:
        return "undefined"
    if pd.isna(row.estimate):
        return f"undefined ({row.note})" if isinstance(row.note, str) else "undefined"
    if pd.isna(row.low) and isinstance(row.note, str) and row.note.startswith("undefined"):
        return f"{report.fmt(row.estimate)} (interval {row.note})"
    return report.interval(row.estimate, row.low, row.high)


def _missing_reason(role: str, knowledge: pd.DataFrame) -> str:
    """Why a recall has no samples, from the knowledge check."""
    known, _ = notes_of(knowledge)
    rows = known[known.role == role] if "role" in known.columns else known.iloc[0:0]
    if rows.empty:
        return f"no {role} facts in this study"
    r = rows.iloc[0]
    if int(r.known) == 0:
        return f"the base model knows none of its {int(r.facts)} {role} facts, by the knowledge check"
    return f"not measured for this method ({int(r.known)} {role} facts known)"


def model_verdict(model: str, results: pd.DataFrame, tables: dict[str, pd.DataFrame]
                  ) -> ModelVerdict:
    """One model's verdict from its summary/methods.parquet and its tables knowledge,
    shift_robustness, relearning and exposure (each without a `model` column)."""
    points = headline_points(results).set_index(["method", "metric"])

    def get(method, metric):
        return points.loc[(method, metric)] if (method, metric) in points.index else None

    ref = get(REFERENCE, "forget_recall")
    if ref is not None and pd.notna(ref.estimate):
        forget_max = float(ref.estimate) + FORGET_MARGIN
        reference = f"retain_ref {_value(ref)} + {report.fmt(FORGET_MARGIN)}"
    else:
        forget_max = FORGET_MARGIN
        reference = "no retain-only reference for this model"
    floors, base_text = {}, {}
    for metric in ("neighbour_recall", "retain_recall"):
        b = get(BASE, metric)
        defined = b is not None and pd.notna(b.estimate)
        floors[metric] = UTILITY_SHARE * float(b.estimate) if defined else None
        base_text[metric] = _value(b) if defined else \
            f"undefined ({_missing_reason(ROLES[metric][1], tables.get('knowledge'))})"
    methods = [m for m in report._method_order(points.index.get_level_values(0))
               if m not in (BASE, REFERENCE)]
    leaks = _leak_finder(forget_max, tables, get)
    verdicts = []
    for method in methods:
        checks = []
        for metric, (label, role) in ROLES.items():
            row = get(method, metric)
            if row is None or pd.isna(row.estimate):
                reason = _missing_reason(role, tables.get("knowledge")) if row is None \
                    else str(row.note)
                checks.append(Check(label, f"undefined ({reason})", None, ""))
                continue
            if metric == "forget_recall":
                checks.append(Check(label, _value(row), bool(row.estimate <= forget_max),
                                    f"≤ {report.fmt(forget_max)}", float(row.estimate)))
            elif floors[metric] is None:
                checks.append(Check(label, _value(row), None, f"base {base_text[metric]}",
                                    float(row.estimate)))
            else:
                checks.append(Check(label, _value(row), bool(row.estimate >= floors[metric]),
                                    f"≥ {report.fmt(floors[metric])}", float(row.estimate)))
        verdict = MethodVerdict(method, checks)
        if verdict.check("forget").passed:
            verdict.leaks, verdict.unknown, verdict.leak_sets = leaks(method)
        verdicts.append(verdict)
    shift, _ = notes_of(tables.get("shift_robustness"))
    blind = []
    if not shift.empty:
        base_shift = shift[shift.method == BASE]
        blind = [f"{s} ({report.fmt(v)})" for s, v in zip(base_shift.shift_set, base_shift.forget)
                 if s != HELD_OUT_SET and pd.notna(v) and v <= forget_max]
    return ModelVerdict(model, forget_max, reference, floors, base_text, verdicts, blind)


def _leak_finder(forget_max: float, tables: dict[str, pd.DataFrame], get):
    """method -> (leaks, undefined leak checks), each a phrase with its numbers."""
    shift, shift_note = notes_of(tables.get("shift_robustness"))
    relearn, relearn_note = notes_of(tables.get("relearning"))
    exposure, exposure_note = notes_of(tables.get("exposure"))
    candidates = int(exposure.candidates.max()) if "candidates" in exposure.columns \
        and exposure.candidates.notna().any() else None
    ref_after = {}
    if not relearn.empty:
        ref = relearn[relearn.method == REFERENCE]
        ref_after = dict(zip(ref.variant, ref.after))

    def leaks(method: str) -> tuple[list[str], list[str], list[str]]:
        found, unknown, sets = [], [], []
        if shift.empty:
            unknown.append(f"shift sets: {shift_note or 'no shift table'}")
        else:
            rows = shift[(shift.method == method) & (shift.shift_set != HELD_OUT_SET)]
            high = rows[rows.forget.notna() & (rows.forget > forget_max)]
            sets = list(high.shift_set)
            if sets:
                found.append("shift sets " + ", ".join(
                    f"{s} {report.fmt(v)}" for s, v in zip(high.shift_set, high.forget)))
        e = get(method, "exposure_rank")
        if e is None or pd.isna(e.estimate) or candidates is None:
            unknown.append(f"exposure: {exposure_note or 'not measured'}")
        elif e.estimate < (candidates + 1) / 2:
            found.append(f"the forget titles still ranked above chance in recommendations (mean "
                         f"rank {_value(e)} of {candidates} titles; chance "
                         f"{report.fmt((candidates + 1) / 2)})")
        if relearn.empty:
            unknown.append(f"relearning: {relearn_note or 'no relearning table'}")
        else:
            rows = relearn[relearn.method == method]
            if rows.empty:
                unknown.append("relearning: this method was not attacked")
            for variant, after in zip(rows.variant, rows.after):
                limit = float(ref_after.get(variant, 0.0)) + FORGET_MARGIN
                if pd.notna(after) and after > limit:
                    found.append(f"relearning ({variant}) brings forget recall back to "
                                 f"{report.fmt(after)} (retain_ref "
                                 f"{report.fmt(ref_after.get(variant, float('nan')))})")
        return found, unknown, sets
    return leaks


def summary_sentence(v: ModelVerdict) -> str:
    """Which methods meet the criterion; if none, the nearest on each side."""
    meets = [m.method for m in v.methods if m.status == "meets"]
    if meets:
        return f"Meet the criterion: {', '.join(meets)}."
    if not v.methods:
        return "No unlearned checkpoint was evaluated."
    undecided = [m.method for m in v.methods if m.status == "undecided"]
    parts = ["No method meets the criterion."]
    if undecided:
        parts.append(f"Undecided (a needed metric is undefined): {', '.join(undecided)}.")
    forgets = [m for m in v.methods if m.check("forget").passed]
    utility = ("neighbours", "retain")
    keeps = [m for m in v.methods if not any(m.check(c).passed is False for c in utility)
             and any(m.check(c).passed for c in utility) and m.check("forget").estimate is not None]

    def share_kept(m: MethodVerdict) -> float:
        """The lower of the method's neighbour and retain recall as a share of the floor."""
        shares = [m.check(c).estimate / f for c, f in zip(utility, v.floors.values())
                  if f and m.check(c).estimate is not None]
        return min(shares, default=float("-inf"))
    if forgets:
        best = max(forgets, key=share_kept)
        parts.append(f"Forget the targets: {', '.join(m.method for m in forgets)}; of these {best.method} "
                     f"keeps the most utility: neighbours {best.check('neighbours').value}, "
                     f"retain {best.check('retain').value}.")
    if keeps:
        best = min(keeps, key=lambda m: m.check("forget").estimate)
        parts.append(f"Keep utility: {', '.join(m.method for m in keeps)}; of these "
                     f"{best.method} forgets the most: forget {best.check('forget').value}.")
    return " ".join(parts)


def verdict_html(verdicts: list[ModelVerdict], figure: str = "") -> str:
    """The criterion, each model's answer with its thresholds, the headline figure, then per
    model and method the checks and where the method leaks."""
    out = [f'<div class="verdict"><p><b>Criterion.</b> {html.escape(criterion_text())}</p>']
    for v in verdicts:
        floors = "; ".join(
            f"{ROLES[m][0]} ≥ {report.fmt(f)} ({UTILITY_SHARE:.0%} of base {v.base[m]})"
            if f is not None else f"{ROLES[m][0]}: base {v.base[m]}"
            for m, f in v.floors.items())
        out.append(f"<p><b>{html.escape(v.model)}: {html.escape(summary_sentence(v))}</b>"
                   f" Forget threshold {report.fmt(v.forget_max)} ({html.escape(v.reference)});"
                   f" utility floors: {html.escape(floors)}.</p>")
    out.append("</div>" + figure)
    for v in verdicts:
        out.append(f"<h3>{html.escape(v.model)}: each method</h3><ul>")
        for m in v.methods:
            checks = " · ".join(f"{c.label} {c.value}" + (
                f" {'✓' if c.passed else '✗'} ({'' if c.passed else 'needs '}{c.rule})"
                if c.passed is not None else "") for c in m.checks)
            if not m.check("forget").passed:
                leak = "Leaks: not assessed (not forgotten on held-out prompts)."
            else:
                leak = ("Leaks: " + "; ".join(m.leaks) if m.leaks else "No leak found") + "." \
                    + (" Undefined: " + "; ".join(m.unknown) + "." if m.unknown else "")
            out.append(f'<li><span class="{m.status}">{html.escape(m.method)}: {m.status}'
                       f"</span> — {html.escape(checks)}. {html.escape(leak)}</li>")
        out.append("</ul>")
        if v.blind_sets:
            out.append(f'<p class="missing">Shift sets that cannot show a leak for '
                       f"{html.escape(v.model)} (the base model itself recalls at most the "
                       f"threshold there): {html.escape(', '.join(v.blind_sets))}.</p>")
    return "".join(out)


def headline_targets(verdicts: list[ModelVerdict]) -> dict[str, dict]:
    return {v.model: {"forget_max": v.forget_max, "floors": v.floors} for v in verdicts}


def undefined_panels(verdicts: list[ModelVerdict]) -> dict[tuple[str, str], str]:
    return {(v.model, metric): text.removeprefix("undefined (").removesuffix(")")
            for v in verdicts for metric, text in v.base.items() if text.startswith("undefined")}


# --- figures from the tables ------------------------------------------------------------------

INTERVAL_METRICS = {"forget_recall": "forget recall", "neighbour_recall": "neighbour recall",
                    "retain_recall": "retain recall", "exposure_rank": "forget titles' rank"}


def leak_cells(verdict: ModelVerdict) -> set[tuple[str, str]]:
    """(method, shift set) where the verdict finds the forgotten facts coming back."""
    return {(m.method, s) for m in verdict.methods for s in m.leak_sets}


def shift_grid(shift: pd.DataFrame, column: str) -> pd.DataFrame:
    """method x shift set (in the table's order) of one recall column of shift_robustness."""
    sets = list(dict.fromkeys(shift.shift_set))
    methods = report._method_order(shift.method)
    return shift.pivot(index="method", columns="shift_set", values=column).loc[methods, sets]


def relearning_panels(relearn: pd.DataFrame, label: str = "") -> tuple[pd.DataFrame, dict]:
    """The relearning table with a `panel` column (label + variant) and each panel's limit:
    the reference's after-attack recall + FORGET_MARGIN."""
    frame = relearn.assign(panel=[f"{label}{v}" for v in relearn.variant])
    ref = frame[frame.method == REFERENCE]
    limits = {p: float(a) + FORGET_MARGIN for p, a in zip(ref.panel, ref.after)}
    return frame, limits


def _draw(figure, path, *frames, why: str = NOT_RUN, **kwargs) -> None:
    """The figure, or a placeholder that says why there is none (a stage this model does not
    run: an absent view, or a table that holds only its note)."""
    if any(notes_of(f)[0].empty for f in frames):
        report.placeholder(path, why)
    else:
        figure(*frames, path, **kwargs)


def read_captions(folder: str | Path) -> dict[str, str]:
    """The figure captions of workflow/report/*.rst (the same text Snakemake's report shows),
    by file stem."""
    folder = Path(folder)
    if not folder.is_dir():
        print(f"no caption folder {folder}: figures without captions")
        return {}
    return {p.stem: " ".join(p.read_text().split()) for p in sorted(folder.glob("*.rst"))}


# --- the per-model page -------------------------------------------------------------------------

# figure data: view -> ORDER BY (empty: none)
MODEL_VIEWS = {
    "training": ("training_log", "model, epoch"),
    "unlearning": ("unlearn_log", "checkpoint, step"),
    "instability": ("instability", ""),
    "overlap": ("activation_overlap", "representation, layer"),
    "pairs": ("activation_overlap_pairs", ""),
    "semantic": ("semantic_similarity", "representation, layer"),
    "gradients": ("gradient_norms", "layer"),
    "agreement": ("neuron_agreement", "side, layer"),
    "contrast": ("neuron_contrast", ""),
    "shift": ("activation_shift", "checkpoint, layer"),
    "pca": ("activation_pca", ""),
    "drift": ("drift_intervals", ""),
    "sequence": ("sequence_summary", ""),
    "results": ("method_results", "method, metric"),
}

# The tuning section (heading, text, figure, table), on both pages.
TUNING_SECTION = (
    "Tuning (validation films, never tested)", "Every method got the same search (tuning.spaces: "
    "the same number of settings, the same step budget) on the validation films, which are "
    "disjoint from the forget films and every neighbour and never asked by this report's other "
    "tables; no test film's prompt or corpus line is in tuning's data (checked on every table "
    "and every trial's manifest). Criterion: held-out validation forget recall at most the "
    "validation retain reference's + tuning.margin (no reference: the margin itself), then the "
    "highest utility (mean of held-out neighbour and retain recall); if none qualifies, the "
    "lowest forget recall (qualified false). The study ran the chosen settings (chosen true).",
    "tuning", "tuning")

# (heading, what the table holds, figure key or None, table name or None); the figures' own
# captions are workflow/report/{key}.rst. The verdict section comes first.
SHIFT_BAR_SECTION = (
    "Can each shift set show leakage?", "The base model's recall per shift set and film role, "
    "the retain reference's beside it: a method can only be seen to leak on a set that the base "
    "model answers. meets_bar: the base model's estimate reaches evaluate.shift.bar; "
    "bridge_named: alias and multi-hop answers of the base model that name the described film. "
    "Shift prompts of evaluated films are never trained; the skills are taught on other films "
    "(docs/shift_sets.md).", None, "shift_bar")
AUDIT_SECTIONS = [
    ("Is it really gone? Attacks", "Every checkpoint asked the same questions (forget films and "
     "a sample of neighbour and retain films, train templates) under attacks that change no "
     "weight by training: int8/int4 = round-to-nearest fake quantization of the merged "
     "checkpoint's decoder weights; prefix_injection = the answer turn opens 'Sure, the answer "
     "is'; role_play; reverse = the film asked from its genre, year and director; "
     "assistant_turn = an earlier turn that promises to answer; context_neighbours / "
     "context_same_film = other films' or the film's own other facts before the question (never "
     "the answer). none = no attack. base_forget: the base model under the attack (an attack "
     "the base model fails cannot show a leak); ref_forget: the retain reference under it. "
     "Design means with 95% intervals; attack phrasings never occur in training or unlearning "
     "data.", "audit", "attacks"),
    ("Is it really gone? Exposure under attack", "The forget targets ranked among the audit's "
     "candidate titles after recommendation requests of films whose list holds them, under the "
     "same attacks.", None, "attack_exposure"),
    ("Is it really gone? Knowledge in the activations", "Per layer: a linear probe (own: "
     "trained on the checkpoint's activations for other films; base: the base model's probe) "
     "and the logit lens (final norm and unembedding: the gold answer's first token on top), "
     "on the forget films' questions; control_ci: films the probe never trained on. The retain "
     "reference is the ideal; a method that only suppresses the output keeps the answer "
     "decodable.", None, "knowledge_readouts"),
    ("Localization ground truth (testbed)", "Facts of fictitious films planted in a copy of the "
     "base model through known neurons only; each neuron ranking's recovery of them "
     "(precision@k, AUC) beside a random ranking's. The figure: ablating the study ranking's "
     "top-m neurons on the real forget films against m random ones.", "localization",
     "localization"),
    ("Deletion curve (testbed)", "", None, "deletion"),
]
MODEL_SECTIONS = [
    ("Methods (held-out prompts; design intervals)", "Headline columns (_held_out) are measured "
     "on prompts no method trained on: held-out templates of the forget films' facts, of their "
     "neighbours' and of other films', and recommendation contexts in held-out templates "
     "(exposure: the forget titles' probability and rank among the candidate titles). _train "
     "columns are the training templates, in every trained method's data. Each cell: the design "
     "mean over seeds, forget films and facts with its 95% crossed cluster-bootstrap interval, "
     "inside the metric's range; seeds, films and facts say how many stand behind it. A "
     "deterministic method runs once. forget_per_step / retain_per_step: examples per step; "
     "effective_params excludes LoRA columns frozen at zero (edited weights for methods that do "
     "not train).", "method_intervals", "method_summary"),
    TUNING_SECTION,
    SHIFT_BAR_SECTION,
    ("Robustness under distribution shift", "Greedy recall per shift set, design mean with its "
     "95% interval, to be read against the base model's on the same set (a set the base model "
     "fails cannot show a leak): original = the train templates, paraphrase = the held-out "
     "templates; alias = the film described, not named; multihop = the film as the bridge of a "
     "two-hop question (forget_bridge: answers that name the forget film itself, a leak even "
     "without the fact); typo, title_typo, casing, filler, word_order = perturbed train "
     "templates; system_prompt = a system turn the model never saw (docs/shift_sets.md).",
     "shift_robustness", "shift_robustness"),
    ("Relearning attack", "A copy of each checkpoint fine-tuned for a few steps on some of the "
     "target's facts (forget_subset; measured on its other facts) or on neighbour films' facts "
     "only (neighbours); retain_ref shows what the attack teaches by itself. Mean over the "
     "attacked seeds; recovery with its 95% interval.", "relearning", "relearning"),
    *AUDIT_SECTIONS,
    ("Forget quality and membership inference", "Per method, one value per fact (its "
     "paraphrases aggregated), mean over runs with the min and max. MIA AUC: forget facts "
     "(members) vs true facts of holdout films no model saw nor was taught to refuse, scored by "
     "loss or Min-K% Prob over the whole question and answer (k stated); the retain reference's "
     "AUC is the goal and the gap is |AUC - AUC_ref|. Forget quality: KS test of the forget "
     "facts' truth ratios against the retain reference's, per run; reported as the share of "
     "runs with p > 0.05 and the median p (p-values are never averaged).", None,
     "forget_quality"),
    ("Knowledge check", "Facts (film, intent) asked on their train templates; known = greedy "
     "answer correct on at least knowledge.min_share of them.", None, "knowledge"),
    ("Per forget film (held-out prompts)", "Each forget film's own recall, its neighbours' "
     "recall and its exposure, with intervals over seeds and facts.", None, "method_films"),
    ("Method comparison (every checkpoint)", "Greedy recall by film role and template split; "
     "exposure = the forget target's probability and rank among all catalog titles where it "
     "used to be recommended; perplexity on held-out statements about retain films.", None,
     "method_comparison"),
    ("Recommendation drift", "Ranked lists of all catalog titles by probability, per paraphrase "
     "of a recommendation request. paraphrase: agreement across paraphrases within a "
     "checkpoint; vs_base: agreement with the base model's list for the same prompt. Kendall "
     "tau-b puts items missing from one list at its bottom (tied); RBO is the extrapolated "
     "rank-biased overlap. legacy_embedding_tau is the original study's Kendall tau between two "
     "embedding vectors, not a ranking correlation, shown only to compare old numbers.",
     "recommendation_drift", "recommendation_drift"),
    ("Sequential unlearning", "Targets forgotten one after another (each step starts from the "
     "previous step's model, with a ranking computed on it): forgotten targets should stay "
     "forgotten, pending ones known.", "sequential", "sequential"),
    ("Recommendation exposure by template split", "", None, "exposure"),
    ("Testbed training", "", "training_curve", "training"),
    ("Unlearning runs", "", "unlearning_curve", "unlearning"),
    ("Prompt-perturbation instability", "Paraphrase families: every template of one (film, "
     "intent) question.", "instability", "instability"),
    ("Activation overlap", "Pooled activations of paraphrases vs other prompts.",
     "activation_overlap", "activation_overlap"),
    ("Semantic vs activation similarity", "Prompt-text embeddings from all-MiniLM-L6-v2.",
     "semantic_similarity", "semantic_similarity"),
    ("Gradient sensitivity", "Objective: log-likelihood of the gold answers.", "gradient_norms",
     "gradient_norms"),
    ("Saliency vs Fisher agreement", "Undefined correlations carry a note.", "neuron_agreement",
     "neuron_agreement"),
    ("Contrastive activation difference", "", "contrast", None),
    ("Neuron ranking and layer selection", "Top-ranked neurons and the layers unlearning uses.",
     None, "top_neurons"),
    ("Layer selection", "", None, "layer_selection"),
    ("Activation shift after unlearning", "", "activation_shift", "activation_shift"),
]


def model_intro(source: str) -> str:
    if source == "testbed":
        base = ("Base: the testbed trained on the full corpus. retain_ref: trained without any "
                "line that mentions a forget target (the gold standard).")
    else:
        base = (f"Base: the pretrained model as released (source {source}). It has no "
                "retain-only reference (that would need pretraining without the target), so "
                "forget quality and the relearning attack are testbed-only.")
    return (base + " Other rows: unlearned checkpoints (method_seedN). Held-out templates were "
            "never seen in training or unlearning; train templates are in every trained "
            "method's forget or retain data (columns marked _train). Only the facts the base "
            "model knows are asked (knowledge check).")


def read_views(database: str | Path, root: str | Path) -> dict[str, pd.DataFrame]:
    """The figure data of MODEL_VIEWS from a model's database; a relation this model lacks (a
    stage it does not run) is an empty frame."""
    import duckdb


    def read(con, relation: str, order: str) -> pd.DataFrame:
        try:
            return con.execute(f"SELECT * FROM {relation}"
                               + (f" ORDER BY {order}" if order else "")).df()
        except duckdb.CatalogException:   # no such table or view: not in this study
            return pd.DataFrame()
    with connect(database, root) as con:
        return {name: read(con, relation, order)
                for name, (relation, order) in MODEL_VIEWS.items()}


def model_figures(model: str, data: dict[str, pd.DataFrame], tables: dict[str, pd.DataFrame],
                  verdict: ModelVerdict, out: dict[str, str]) -> None:
    """Every figure of a model's page, each to out[key]."""
    points = headline_points(data["results"]).assign(model=model) \
        if not data["results"].empty else pd.DataFrame()
    _draw(lambda p, path: report.forget_vs_utility(p, headline_targets([verdict]), path,
                                                   undefined_panels([verdict])),
          out["forget_vs_retain"], points)
    _draw(lambda p, path: report.interval_panels(p, INTERVAL_METRICS, path),
          out["method_intervals"], points)
    _draw(report.training_curve, out["training_curve"], data["training"])
    _draw(report.unlearning_curve, out["unlearning_curve"], data["unlearning"])
    _draw(report.instability_figure, out["instability"], data["instability"])
    _draw(report.overlap_figure, out["activation_overlap"], data["overlap"], data["pairs"])
    _draw(lambda t, p: report.by_layer_figure(t, "spearman", "representation", p,
                                              "Spearman rho", "Semantic vs activation similarity"),
          out["semantic_similarity"], data["semantic"])
    _draw(report.gradient_figure, out["gradient_norms"], data["gradients"])
    _draw(lambda t, p: report.by_layer_figure(t, "spearman", "side", p,
                                              "Spearman rho (saliency vs Fisher)",
                                              "Agreement of neuron scores"),
          out["neuron_agreement"], data["agreement"])
    _draw(report.contrast_figure, out["contrast"], data["contrast"])
    _draw(report.shift_figure, out["activation_shift"], data["shift"], data["pca"])
    _draw(report.sequence_figure, out["sequential"], data["sequence"],
          why="no sequential study configured")
    shift, _ = notes_of(tables.get("shift_robustness"))
    _draw(lambda s, p: report.shift_heatmaps(
        [(f"{c} recall by shift set", shift_grid(s, c),
          leak_cells(verdict) if c == "forget" else set())
         for c in ("forget", "neighbour", "retain") if c in s.columns and s[c].notna().any()],
        p), out["shift_robustness"], shift)
    relearn, _ = notes_of(tables.get("relearning"))
    _draw(lambda r, p: report.relearning_figure(*relearning_panels(r), path=p),
          out["relearning"], relearn)
    _draw(report.drift_figure, out["recommendation_drift"], data["drift"])
    tuning, note = notes_of(tables.get("tuning"))
    _draw(report.tuning_figure, out["tuning"], tuning, why=note or "no tuning record")
    audit_figures(tables, out)


def attack_grid(attacks: pd.DataFrame) -> pd.DataFrame:
    """method x attack of forget recall (none first), from the attacks table."""
    methods = report._method_order(attacks.method)
    order = ["none"] + sorted(set(attacks.attack) - {"none"})
    return attacks.pivot(index="method", columns="attack", values="forget").reindex(
        index=methods, columns=[a for a in order if a in set(attacks.attack)])


def audit_figures(tables: dict[str, pd.DataFrame], out: dict[str, str]) -> None:
    """The audit figure and the deletion-curve figure of a page."""
    attacks, note = notes_of(tables.get("attacks"))
    readouts, _ = notes_of(tables.get("knowledge_readouts"))
    own = readouts[(readouts.readout == "probe") & (readouts.probe == "own")] \
        if not readouts.empty else readouts
    _draw(lambda a, r, p: report.audit_figure(attack_grid(a), r, p), out["audit"], attacks, own,
          why=note or NOT_RUN)
    deletion, note = notes_of(tables.get("deletion"))
    _draw(report.deletion_figure, out["localization"], deletion, why=note or NOT_RUN)


def _section_body(figure: str | None, table: str | None, out: dict[str, str],
                  tables: dict[str, pd.DataFrame], captions: dict[str, str], heading: str) -> str:
    body = report.image(out[figure], heading, captions.get(figure, "")) if figure else ""
    if table:
        rows, note = notes_of(tables.get(table))
        body += report.collapsed(rows, table) if not rows.empty else \
            f'<p class="missing">Table {html.escape(table)}: {html.escape(note)}.</p>'
    return body


def model_report(model: str, source: str, forget_titles: list[str], database: str | Path,
                 root: str | Path, tables: dict[str, pd.DataFrame], out: dict[str, str],
                 captions: dict[str, str]) -> ModelVerdict:
    """One model's page (out["html"]) and its figures (the other keys of out), from its
    database and its result tables (by name)."""
    data = read_views(database, root)
    verdict = model_verdict(model, data["results"], tables)
    model_figures(model, data, tables, verdict, out)
    sections = [("Verdict", "", verdict_html([verdict], report.image(
        out["forget_vs_retain"], "forget vs utility", captions.get("forget_vs_retain", ""))))]
    sections += [(h, text, _section_body(f, t, out, tables, captions, h))
                 for h, text, f, t in MODEL_SECTIONS]
    report.write_html(out["html"], f"actunlearn study, model {model}: forgetting "
                      f"{', '.join(forget_titles)}", model_intro(source), sections)
    return verdict


# --- the study page ---------------------------------------------------------------------------

STUDY_SECTIONS = [
    ("Methods (held-out prompts; design intervals)", "Headline columns (_held_out): prompts no "
     "method trained on; _train columns: the training templates, in every trained method's "
     "data. Cells: design mean over seeds, forget films and facts with its 95% crossed "
     "cluster-bootstrap interval; seeds, films and facts state the n behind it. A pretrained "
     "model runs fewer methods and seeds (config models.*.overrides) and knows fewer facts "
     "(knowledge check).", "method_intervals", "method_summary"),
    SHIFT_BAR_SECTION,
    ("Robustness under distribution shift", "Forget recall per shift set and model, to be read "
     "against the base model's on the same set: original = the train templates, paraphrase = "
     "the held-out templates; alias = the film described, not named; multihop = the film as the "
     "bridge of a two-hop question; typo, title_typo, casing, filler, word_order = perturbed "
     "train templates; system_prompt = a system turn the model never saw "
     "(docs/shift_sets.md).", "shift_robustness", "shift_robustness"),
    ("Relearning attack (testbed)", "Needs the retain-only reference: what the attack teaches "
     "a model that never saw the targets.", "relearning", "relearning"),
    *AUDIT_SECTIONS,
    ("Forget quality and membership inference (testbed)", "Needs the retain-only reference.",
     None, "forget_quality"),
    ("Recommendation drift", "Agreement of ranked recommendation lists across paraphrases and "
     "with the base model.", "recommendation_drift", "recommendation_drift"),
    ("Knowledge check", "Facts asked per role and how many the base model knows.", None,
     "knowledge"),
    TUNING_SECTION,
]


def per_model(frame: pd.DataFrame | None, model: str) -> pd.DataFrame:
    """One model's rows of a study table, without the model column."""
    if frame is None or "model" not in frame.columns:
        return pd.DataFrame()
    return frame[frame.model == model].drop(columns="model").reset_index(drop=True)


def study_figures(verdicts: list[ModelVerdict], points: pd.DataFrame,
                  tables: dict[str, pd.DataFrame], out: dict[str, str]) -> None:
    report.forget_vs_utility(points, headline_targets(verdicts), out["forget_vs_retain"],
                             undefined_panels(verdicts))
    report.interval_panels(points, INTERVAL_METRICS, out["method_intervals"])
    shift, _ = notes_of(tables.get("shift_robustness"))
    models = [v.model for v in verdicts]
    panels = [(f"{v.model}: forget recall by shift set",
               shift_grid(per_model(shift, v.model), "forget"), leak_cells(v))
              for v in verdicts if not per_model(shift, v.model).empty]
    _draw(lambda s, p: report.shift_heatmaps(panels, p, stacked=True),
          out["shift_robustness"], shift, why="no shift sets in this study")
    relearn, _ = notes_of(tables.get("relearning"))
    frames = [relearning_panels(per_model(relearn, m), f"{m}: ") for m in models
              if not per_model(relearn, m).empty]
    if frames:
        report.relearning_figure(pd.concat([f for f, _ in frames]),
                                 {k: v for _, lim in frames for k, v in lim.items()},
                                 out["relearning"])
    else:
        report.placeholder(out["relearning"], "no relearning attack in this study")


def study_report(models: list[str], sources: dict[str, str], forget_titles: list[str],
                 tables: dict[str, pd.DataFrame], results: dict[str, pd.DataFrame],
                 model_pngs: dict[str, dict[str, str]], out: dict[str, str],
                 captions: dict[str, str]) -> list[ModelVerdict]:
    """The study page (out["html"]) and its figures: the verdict per model, then each section's
    figure and its table (every model side by side). results: model -> summary/methods.parquet;
    model_pngs: model -> {figure key: the model report's PNG} for figures shown per model."""
    verdicts = [model_verdict(m, results[m], {k: per_model(t, m) for k, t in tables.items()})
                for m in models]
    points = pd.concat([headline_points(results[m]).assign(model=m) for m in models],
                       ignore_index=True)
    study_figures(verdicts, points, tables, out)
    links = " · ".join(f'<a href="../{html.escape(m)}/report/report.html">{html.escape(m)}</a>'
                       for m in models)
    sections = [("Verdict", "", verdict_html(verdicts, report.image(
        out["forget_vs_retain"], "forget vs utility", captions.get("forget_vs_retain", "")))),
        ("Model reports", "Each model's own report has every figure and table.", links)]
    for heading, text, figure, name in STUDY_SECTIONS:
        body = ""
        if figure in out:
            body = report.image(out[figure], heading, captions.get(figure, ""))
        elif figure:
            body = "".join(report.image(model_pngs[m][figure], f"{heading}: {m}",
                                        f"{m}: {captions.get(figure, '')}")
                           for m in models if figure in model_pngs.get(m, {}))
        rows, note = notes_of(tables.get(name))
        body += report.collapsed(rows, name, missing=note) if not rows.empty else \
            f'<p class="missing">{html.escape(note)}</p>'
        sections.append((heading, text, body))
    described = ", ".join(f"{m} ({sources[m]})" for m in models)
    report.write_html(out["html"], f"actunlearn study: forgetting {', '.join(forget_titles)}", (
        f"Models: {described}. The testbed is trained from scratch on the catalog, so what it "
        "knows is exactly known and a retain-only reference exists; a pretrained model is "
        "checked first for the facts it knows, and only those are unlearned and evaluated."),
        sections)
    return verdicts
