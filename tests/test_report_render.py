"""The reports as a reader sees them: rendered in headless Chromium (Debian package `chromium`),
every figure loads, no table overflows its box, no cell wraps, the page does not scroll sideways;
and the verdict is computed from the tables (a method that meets the criterion is named, a metric
without samples is stated undefined with its reason, never NaN).

`render_check` is also used by tests/test_workflow.py on the reports of the tiny study."""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actunlearn.reporting import figures as report
from actunlearn.reporting import pages as reporting

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                 if p), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install chromium)")

# Runs after the page (and its images) loaded: opens every folded table, then measures.
PROBE = """<script>
window.addEventListener('load', () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const root = document.documentElement, body = document.body.getBoundingClientRect();
  const images = [...document.images].map(i => ({alt: i.alt, width: i.naturalWidth,
    right: i.getBoundingClientRect().right}));
  const tables = [...document.querySelectorAll('table')].map((t, k) => {
    const box = t.parentElement, style = getComputedStyle(box);
    const scrolls = ['auto', 'scroll'].includes(style.overflowX);
    let wrapped = 0;
    for (const cell of t.querySelectorAll('td, th')) {
      const range = document.createRange();
      range.selectNodeContents(cell);
      const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (tops.size > 1) wrapped += 1;
    }
    return {index: k, width: t.getBoundingClientRect().width, box: box.clientWidth, scrolls,
            box_right: box.getBoundingClientRect().right, wrapped};
  });
  const result = {images, tables, body_right: body.right,
                  page_overflow: root.scrollWidth - root.clientWidth,
                  text: document.body.innerText};
  const pre = document.createElement('pre');
  pre.id = 'render-check';
  pre.style.display = 'none';
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>"""


def render_check(page: Path, workdir: Path, width: int = 1280) -> dict:
    """Render `page` (a copy with PROBE added, in workdir) in headless Chromium at `width` px and
    return the problems a reader would see, plus the page's text and image count."""
    copy = workdir / f"render_{page.parent.name}_{page.name}"
    copy.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={width},1000", "--virtual-time-budget=20000", "--dump-dom",
         copy.resolve().as_uri()], capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="render-check"[^>]*>(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the probe did not run (chromium rc {proc.returncode}): {proc.stderr[-2000:]}"
    r = json.loads(html.unescape(found.group(1)))
    slack = 1.0   # sub-pixel rounding
    return {
        "images": len(r["images"]),
        "broken_images": [i["alt"] for i in r["images"] if i["width"] == 0],
        "images_past_body": [i["alt"] for i in r["images"] if i["right"] > r["body_right"] + slack],
        "overflowing_tables": [t["index"] for t in r["tables"]
                               if t["width"] > t["box"] + slack and not t["scrolls"]],
        "boxes_past_body": [t["index"] for t in r["tables"]
                            if t["box_right"] > r["body_right"] + slack],
        "wrapped_cells": sum(t["wrapped"] for t in r["tables"]),
        "tables": len(r["tables"]),
        "page_overflow": r["page_overflow"],
        "text": r["text"],
    }


def assert_renders(check: dict, min_images: int) -> None:
    problems = {k: check[k] for k in ("broken_images", "images_past_body", "overflowing_tables",
                                      "boxes_past_body") if check[k]}
    assert not problems, problems
    assert check["wrapped_cells"] == 0, f"{check['wrapped_cells']} table cells wrap"
    assert check["page_overflow"] <= 0, f"the page scrolls sideways by {check['page_overflow']}px"
    assert check["images"] >= min_images
    assert not re.search(r"\bnan\b", check["text"], re.I), "NaN in the page's text"


@needs_chromium
def test_the_check_sees_a_broken_figure_and_an_overflowing_table(tmp_path):
    """The probe can fail: a figure that does not decode, a wide table outside a scrolling box
    with cells that wrap, a page that scrolls sideways."""
    good = report.table(pd.DataFrame({"a": [0.123456], "b": ["x"]}))
    wide = "<table style='width:2000px'><tr>" + "".join(
        f"<td style='width:40px;white-space:normal'>word {k} and more words</td>"
        for k in range(40)) + "</tr></table>"
    page = tmp_path / "bad.html"
    page.write_text(f"<!doctype html><html><head><style>{report.STYLE}</style></head><body>"
                    "<img alt='broken' src='data:image/png;base64,AAAA'>"
                    f"{good}<div>{wide}</div></body></html>")
    check = render_check(page, tmp_path)
    assert check["broken_images"] == ["broken"]
    assert check["overflowing_tables"] == [1] and check["boxes_past_body"] == []
    assert check["wrapped_cells"] > 0 and check["page_overflow"] > 0
    with pytest.raises(AssertionError):
        assert_renders(check, min_images=1)


def test_numbers_are_written_to_three_significant_digits():
    assert [report.fmt(v) for v in (0.000238123, 1234.5, 0.7029411, 100.0, 131072.0, 2.28e9,
                                    float("nan"), True)] == \
        ["0.000238", "1230", "0.703", "100", "131072", "2.28e+09", "-", "yes"]
    assert report.fmt("356.899 (min 79.778, max 598.520)") == "357 (min 79.8, max 599)"
    assert report.fmt("+0.035 [-0.235, +0.305]") == "+0.035 [-0.235, +0.305]"
    assert report.fmt("Apollo 13, 2 of 3 (67%)") == "Apollo 13, 2 of 3 (67%)"
    assert report.interval(0.123456, 0.05, 0.2049) == "0.123 [0.05, 0.205]"
    shown = report.display_frame(pd.DataFrame({"forget": [0.5], "forget_ci": ["0.5 [0.1, 0.9]"]}))
    assert list(shown.columns) == ["forget"] and shown.forget[0] == "0.5 [0.1, 0.9]"


# --- a small synthetic study: two models, the verdict from its numbers --------------------------

METHODS = {  # method: held-out (forget, neighbour, retain) recall of model "tb"
    "base": (0.9, 0.8, 0.8), "retain_ref": (0.04, 0.85, 0.82),
    "good": (0.06, 0.78, 0.79), "broken": (0.0, 0.1, 0.2), "weak": (0.6, 0.8, 0.8)}


def _results(values: dict[str, tuple], retain: bool) -> pd.DataFrame:
    rows = []
    for method, recalls in values.items():
        metrics = dict(zip(("forget_recall", "neighbour_recall", "retain_recall"), recalls))
        if not retain:
            metrics.pop("retain_recall")
        metrics["exposure_rank"] = 150.0 if method != "base" else 2.0
        for metric, v in metrics.items():
            rows.append(dict(method=method, metric=metric, split="held_out", film="all",
                             estimate=v, low=max(v - 0.1, 0), high=min(v + 0.1, 1)
                             if metric != "exposure_rank" else v + 10, n_seeds=3, n_films=2,
                             n_facts=10, n_obs=60, interval="logit-t", note=None,
                             deterministic=False))
    return pd.DataFrame(rows)


def _study_tables(models: dict[str, dict]) -> dict[str, pd.DataFrame]:
    summary, shift, knowledge, exposure, relearn, quality, drift = ([] for _ in range(7))
    for model, values in models.items():
        for method, (f, n, r) in values.items():
            summary.append(dict(model=model, method=method, seeds=3,
                                forget_held_out=f"{f} [{max(f - 0.1, 0)}, {f + 0.1}]",
                                neighbours_held_out=f"{n} [{n - 0.1}, {n + 0.1}]",
                                retain_held_out=np.nan if model == "pt" else f"{r} [0.1, 0.9]",
                                perplexity_held_out=313.5127256328781))
            for s in ("original", "paraphrase", "typo", "alias"):
                # "good" leaks under typo (0.3 > its threshold), nothing comes back under alias
                v = 0.3 if (method, s) == ("good", "typo") else f if s != "alias" else 0.0
                shift.append(dict(model=model, method=method, seeds=3, shift_set=s, forget=v,
                                  forget_ci=f"{v:.3g} [0, 0.5]", neighbour=n, retain=r))
            exposure.append(dict(model=model, checkpoint=f"{method}_seed0", split="held_out",
                                 target="Film", candidates=200))
        for role, known in (("forget", 10), ("neighbour", 30), ("retain", 0 if model == "pt"
                                                                  else 40)):
            knowledge.append(dict(model=model, role=role, facts=40, known=known,
                                  share=known / 40))
        if model == "tb":
            for method in values:
                if method != "base":
                    relearn.append(dict(model=model, method=method, variant="neighbours",
                                        seeds=3, before=0.0, after=0.02 if method != "broken"
                                        else 0.5, recovery=0.0,
                                        recovery_ci="0 (no variation)"))
            quality.append(dict(model=model, method="good", runs=3,
                                truth_ratio_forget_mean_range="356.899 (min 79.778, max 598.52)"))
        drift.append(dict(model=model, comparison="vs_base", method="good", rbo="0.5 [0.4, 0.6]"))
    note = "not in this study: no relearn artifacts (CatalogException)"
    relearn.append(dict(model="pt", note=note))
    quality.append(dict(model="pt", note=note))
    frames = dict(method_summary=summary, shift_robustness=shift, knowledge=knowledge,
                  exposure=exposure, relearning=relearn, forget_quality=quality,
                  recommendation_drift=drift)
    return {k: pd.DataFrame(v) for k, v in frames.items()}


@pytest.fixture(scope="module")
def synthetic_study(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("study_report")
    models = {"tb": METHODS, "pt": {m: v for m, v in METHODS.items() if m != "retain_ref"}}
    results = {"tb": _results(models["tb"], retain=True), "pt": _results(models["pt"], False)}
    pngs = {}
    for m in models:
        pngs[m] = {"recommendation_drift": str(out_dir / f"{m}_drift.png")}
        report.placeholder(pngs[m]["recommendation_drift"], f"drift of {m}")
    out = {"html": str(out_dir / "report.html"), **{k: str(out_dir / f"{k}.png") for k in (
        "forget_vs_retain", "method_intervals", "shift_robustness", "relearning")}}
    captions = reporting.read_captions(Path(__file__).parents[1] / "workflow" / "report")
    verdicts = reporting.study_report(list(models), {"tb": "testbed", "pt": "gguf"}, ["Film"],
                                      _study_tables(models), results, pngs, out, captions)
    return out_dir, {v.model: v for v in verdicts}, Path(out["html"]).read_text()


def test_the_verdict_is_computed_from_the_tables(synthetic_study):
    _, verdicts, page = synthetic_study
    tb, pt = verdicts["tb"], verdicts["pt"]
    status = {m.method: m.status for m in tb.methods}
    assert status == {"good": "meets", "broken": "fails", "weak": "fails"}
    assert tb.forget_max == pytest.approx(0.04 + reporting.FORGET_MARGIN)
    assert tb.floors["neighbour_recall"] == pytest.approx(reporting.UTILITY_SHARE * 0.8)
    good = next(m for m in tb.methods if m.method == "good")
    assert good.leak_sets == ["typo"] and any("typo 0.3" in leak for leak in good.leaks)
    broken = next(m for m in tb.methods if m.method == "broken")
    assert any("relearning (neighbours)" in leak for leak in broken.leaks)
    assert "alias (0)" in tb.blind_sets
    # the pretrained model: no reference (absolute threshold), no retain facts known
    assert pt.forget_max == pytest.approx(reporting.FORGET_MARGIN)
    pt_good = next(m for m in pt.methods if m.method == "good")
    assert pt_good.status == "fails"   # forget 0.06 > 0.05: no reference to lower the bar
    assert pt_good.check("retain").passed is None
    assert "knows none of its 40 retain facts" in pt_good.check("retain").value
    assert pt_good.leaks == [] and pt_good.unknown == []   # not forgotten: leaks not read
    # the page leads with the verdict, written from these numbers
    text = re.sub(r"<[^>]+>", " ", page)
    assert page.index("<h2>Verdict</h2>") < page.index("<h2>Model reports</h2>")
    assert "Meet the criterion: good." in html.unescape(text)
    assert "retain recall undefined" in page or "undefined (the base model knows none" in page
    assert not re.search(r"\bnan\b", text, re.I)
    # tables folded, numbers at 3 significant digits, intervals compact
    assert page.count("<details>") == 6
    assert "357 (min 79.8, max 599)" in page and "313.51" not in page and ">314<" in page


@needs_chromium
def test_the_study_report_renders(synthetic_study, tmp_path):
    out_dir, _, _ = synthetic_study
    check = render_check(out_dir / "report.html", tmp_path)
    assert_renders(check, min_images=6)   # 4 study figures + one drift figure per model
    assert check["tables"] == 6
    assert "Meet the criterion: good." in check["text"]
