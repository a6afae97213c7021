"""Report building blocks: the figures (PNG) and the HTML pieces (number formatting, collapsed
tables, embedded images, the page). The pages themselves are assembled in actunlearn.reporting.pages."""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path

import matplotlib

from actunlearn.config import run_of

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def training_curve(log: pd.DataFrame, path: str | Path) -> None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    for model, g in log.groupby("model"):
        ax1.plot(g.epoch, g.loss, marker="o", label=model)
        ax2.plot(g.epoch, g.recall, marker="o", label=model)
    ax1.set(xlabel="epoch", ylabel="training loss (per token)", title="Testbed training")
    ax2.set(xlabel="epoch", ylabel="greedy fact recall (train templates)", ylim=(0, 1.02))
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


REFERENCE_METHODS = ("base", "retain_ref")
UTILITY = {"neighbour_recall": "neighbour recall", "retain_recall": "retain recall"}


def _method_order(methods) -> list[str]:
    """base and retain_ref first, then the unlearning methods by name."""
    return sorted(dict.fromkeys(methods), key=lambda m: (m not in REFERENCE_METHODS,
                                                         REFERENCE_METHODS.index(m)
                                                         if m in REFERENCE_METHODS else 0, m))


def _colours(methods) -> dict[str, tuple]:
    """One colour per method, the same in every panel and figure of a page (tab10 less its grey,
    which is the base model's, and its orange, near the reference's gold; then Dark2)."""
    palette = [c for k, c in enumerate(plt.get_cmap("tab10").colors) if k not in (1, 7)] \
        + list(plt.get_cmap("Dark2").colors[:6])
    others = [m for m in _method_order(methods) if m not in REFERENCE_METHODS]
    colours = {m: palette[k % len(palette)] for k, m in enumerate(others)}
    return {"base": (0.25, 0.25, 0.25), "retain_ref": (0.9, 0.65, 0.0), **colours}


def _markers(methods) -> dict[str, str]:
    """A marker per method (square: base, star: retain_ref); with the colour, every method
    stays apart even where colours repeat."""
    shapes = ["o", "D", "^", "v", "P", "X", "h", "<", ">"]
    others = [m for m in _method_order(methods) if m not in REFERENCE_METHODS]
    return {"base": "s", "retain_ref": "*", **{m: shapes[k % len(shapes)]
                                                 for k, m in enumerate(others)}}


def _errors(rows: pd.DataFrame) -> np.ndarray:
    """Asymmetric error bars (2 x n) from estimate/low/high; no bar where the interval is
    undefined (the table states why)."""
    low = (rows.estimate - rows.low).clip(lower=0).fillna(0).to_numpy(dtype=float)
    high = (rows.high - rows.estimate).clip(lower=0).fillna(0).to_numpy(dtype=float)
    return np.vstack([low, high])


def forget_vs_utility(points: pd.DataFrame, targets: dict[str, dict], path: str | Path,
                      undefined: dict[tuple[str, str], str] | None = None) -> None:
    """The headline figure: held-out forget recall (y) against held-out neighbour and retain
    recall (x, one panel each), one row of panels per model; a marker per method with its 95%
    design intervals as bars. The retain-only reference (star) is the target; the shaded
    corner is where a method meets the criterion (targets[model]: forget_max and the utility
    floors per metric). `undefined[(model, metric)]`: why a panel has no points."""
    models = list(dict.fromkeys(points.model))
    colours, markers = _colours(points.method), _markers(points.method)
    fig, axes = plt.subplots(len(models), len(UTILITY), figsize=(10.5, 3.9 * len(models)),
                             squeeze=False)
    handles = {}
    for row, model in zip(axes, models):
        own = points[points.model == model]
        forget = own[own.metric == "forget_recall"].set_index("method")
        target = targets.get(model, {})
        for ax, (metric, label) in zip(row, UTILITY.items()):
            ax.set(xlim=(-0.02, 1.05), ylim=(-0.02, 1.05), xlabel=f"{label}, held-out templates",
                   ylabel="forget recall, held-out templates", title=f"{model}: forget vs {label}")
            utility = own[own.metric == metric].set_index("method")
            methods = [m for m in _method_order(forget.index) if m in utility.index]
            if not methods:
                reason = (undefined or {}).get((model, metric), "no samples")
                ax.text(0.5, 0.5, f"{label} undefined:\n{reason}", ha="center", va="center",
                        wrap=True, fontsize=8, transform=ax.transAxes)
                continue
            floor, ceiling = target.get("floors", {}).get(metric), target.get("forget_max")
            if floor is not None and ceiling is not None:
                ax.fill_between([floor, 1.05], -0.02, ceiling, color="tab:green", alpha=0.12,
                                linewidth=0)
                ax.axhline(ceiling, color="tab:green", linewidth=0.8, linestyle=":")
                ax.axvline(floor, color="tab:green", linewidth=0.8, linestyle=":")
            for name in methods:
                x, y = utility.loc[[name]], forget.loc[[name]]
                star = name == "retain_ref"
                label_text = "retain_ref (target)" if star else name
                handles[label_text] = ax.errorbar(
                    x.estimate, y.estimate, xerr=_errors(x), yerr=_errors(y),
                    color=colours[name], marker=markers[name], markersize=15 if star else 7,
                    markeredgecolor="black" if star else colours[name], linestyle="none",
                    capsize=2, elinewidth=0.7, alpha=0.9, zorder=3 if star else 2)
    handles["meets the criterion"] = plt.Rectangle((0, 0), 1, 1, color="tab:green", alpha=0.12)
    fig.legend(handles.values(), handles.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5),
               fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def interval_panels(points: pd.DataFrame, metrics: dict[str, str], path: str | Path,
                    log_scale: tuple[str, ...] = ("exposure_prob", "exposure_rank")) -> None:
    """Per model (rows) and metric (columns): each method's design mean with its 95% interval,
    methods on the y axis (a forest plot)."""
    models = list(dict.fromkeys(points.model))
    colours, markers = _colours(points.method), _markers(points.method)
    heights = [0.32 * points[points.model == m].method.nunique() + 1.2 for m in models]
    fig, axes = plt.subplots(len(models), len(metrics), figsize=(11, sum(heights)),
                             squeeze=False, gridspec_kw={"height_ratios": heights})
    for row, model in zip(axes, models):
        own = points[points.model == model]
        methods = _method_order(own.method)
        for ax, (metric, label) in zip(row, metrics.items()):
            rows = own[own.metric == metric].set_index("method").reindex(methods)
            present = rows.estimate.notna().to_numpy()
            y = np.arange(len(methods))
            for k in np.flatnonzero(present):
                r = rows.iloc[[k]]
                ax.errorbar(r.estimate, [y[k]], xerr=_errors(r), color=colours[methods[k]],
                            marker=markers[methods[k]], markersize=5, capsize=2,
                            linestyle="none")
            for k in np.flatnonzero(~present):
                ax.text(0.5, y[k], "undefined", ha="center", va="center", fontsize=7,
                        color="grey", transform=ax.get_yaxis_transform())
            ax.set_yticks(y, methods if ax is row[0] else [""] * len(methods), fontsize=7)
            ax.set_ylim(len(methods) - 0.5, -0.5)
            ax.set_title(f"{model}: {label}", fontsize=9)
            if metric in log_scale and present.any():
                ax.set_xscale("log")
                plain = mticker.FuncFormatter(lambda v, _: f"{v:g}")
                ax.xaxis.set_major_formatter(plain)
                ax.xaxis.set_minor_formatter(mticker.NullFormatter())
            elif metric not in log_scale:
                ax.set_xlim(-0.02, 1.02)
            ax.grid(axis="x", alpha=0.3)
    _save(fig, path)


def shift_heatmaps(panels: list[tuple[str, pd.DataFrame, set]], path: str | Path,
                   stacked: bool = False) -> None:
    """One heatmap per panel (title, grid: method rows x shift-set columns of recall in [0, 1],
    the (method, shift set) cells to outline: where the verdict finds a leak), side by side or
    (stacked) one under another, each as tall as its rows."""
    rows = [max(len(g.index), 1) for _, g, _ in panels]
    if stacked:
        fig, axes = plt.subplots(len(panels), 1, figsize=(8.5, 0.34 * sum(rows) + 1.9 * len(panels)),
                                 squeeze=False, gridspec_kw={"height_ratios": rows, "hspace": 0.6})
        axes = axes[:, 0]
    else:
        fig, axes = plt.subplots(1, len(panels), figsize=(max(6.0, 5.2 * len(panels)),
                                                          0.34 * max(rows) + 1.8), squeeze=False)
        axes = axes[0]
    for ax, (title, grid, outlined) in zip(axes, panels):
        values = grid.to_numpy(dtype=float)
        im = ax.imshow(values, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            if not np.isfinite(v):
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=6, color="grey")
                continue
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6.5,
                    color="white" if v < 0.5 else "black")
            if (grid.index[i], grid.columns[j]) in outlined:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                           edgecolor="red", linewidth=1.6))
        ax.set_xticks(range(grid.shape[1]), list(grid.columns), rotation=40, ha="right",
                      fontsize=7)
        ax.set_yticks(range(grid.shape[0]), list(grid.index), fontsize=7)
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="greedy recall")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def relearning_figure(table: pd.DataFrame, limits: dict[str, float] | None,
                      path: str | Path) -> None:
    """Relearning attack: forget recall before (hollow) and after (filled) the attack per method,
    one panel per (model, variant) in table's `panel` column; the dotted line is limits[panel],
    what the attack brings back in the retain-only reference plus the tolerance."""
    panels = list(dict.fromkeys(table.panel))
    colours, markers = _colours(table.method), _markers(table.method)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(5.5, 4.6 * len(panels)), 3.6),
                             squeeze=False, sharey=True)
    for ax, panel in zip(axes[0], panels):
        g = table[table.panel == panel]
        methods = _method_order(g.method)
        g = g.set_index("method").loc[methods]
        x = np.arange(len(methods))
        for k, name in enumerate(methods):
            ax.plot([k, k], [g.before.iloc[k], g.after.iloc[k]], color=colours[name], linewidth=1)
            ax.scatter([k], [g.before.iloc[k]], facecolors="none", edgecolors=colours[name],
                       marker=markers[name], s=30)
            ax.scatter([k], [g.after.iloc[k]], color=colours[name], marker=markers[name], s=30)
        if limits and panel in limits:
            ax.axhline(limits[panel], color="red", linestyle=":", linewidth=1)
        ax.set_xticks(x, methods, rotation=40, ha="right", fontsize=7)
        ax.set(ylim=(-0.02, 1.02), title=panel)
    axes[0][0].set_ylabel("forget recall (hollow: before, filled: after)")
    _save(fig, path)


def unlearning_curve(log: pd.DataFrame, path: str | Path) -> None:
    """Forget and retain recall of the log probes (greedy answers, entity matching) during
    unlearning: one line per method (mean over seeds), one panel each."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.4), sharex=True)
    method = log.checkpoint.map(lambda c: run_of(c)[0])
    for name, g in log.groupby(method):
        mean = g.groupby("step")[["forget_recall", "retain_recall"]].mean()
        seeds = g.checkpoint.nunique()
        ax1.plot(mean.index, mean.forget_recall, marker=".", label=f"{name} (n={seeds})")
        ax2.plot(mean.index, mean.retain_recall, marker=".", label=name)
    ax1.set(xlabel="step", ylabel="forget recall", ylim=(-0.02, 1.02), title="During unlearning")
    ax2.set(xlabel="step", ylabel="retain recall (sampled films)", ylim=(-0.02, 1.02))
    ax1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def drift_figure(intervals: pd.DataFrame, path: str | Path, metric: str = "rbo") -> None:
    """Rank-biased overlap per method and family kind (design mean, 95% interval): left,
    across paraphrases within a checkpoint; right, against the base model's lists."""
    data = intervals[intervals.metric == metric]
    kinds = ["target", "adjacent", "control"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
    for ax, comparison in zip(axes, ("paraphrase", "vs_base")):
        d = data[data.comparison == comparison]
        methods = sorted(d.method.unique(), key=lambda m: (m not in ("base", "retain_ref"), m))
        width = 0.8 / len(kinds)
        for j, kind in enumerate(kinds):
            g = d[d.family_kind == kind].set_index("method").reindex(methods)
            x = np.arange(len(methods)) + (j - 1) * width
            low = (g["mean"] - g["low"]).to_numpy(dtype=float)
            high = (g["high"] - g["mean"]).to_numpy(dtype=float)
            err = np.vstack([np.nan_to_num(low), np.nan_to_num(high)])
            ax.bar(x, g["mean"].to_numpy(dtype=float), width, yerr=err, capsize=2, label=kind)
        ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right", fontsize=7)
        ax.set(title=f"{metric}: {comparison}", ylim=(0, 1.05))
    axes[0].set_ylabel(f"{metric} (design mean, 95% CI)")
    axes[0].legend(fontsize=7)
    _save(fig, path)


def sequence_figure(summary: pd.DataFrame, path: str | Path) -> None:
    """Sequential unlearning: held-out recall of each target and of the other films after each
    step (mean over seeds), one panel per method."""
    if summary.empty:
        placeholder(path, "no sequential study configured")
        return
    held = summary[summary.split == "held_out"]
    methods = sorted(held.method.unique())
    fig, axes = plt.subplots(1, len(methods), figsize=(5.6 * len(methods), 3.6), squeeze=False)
    for ax, name in zip(axes[0], methods):
        g = held[held.method == name]
        steps = g.groupby("step").forgot.first().sort_index()
        for group, h in g.groupby("group", sort=False):
            mean = h.groupby("step").recall.mean()
            style = "--" if group in ("neighbour", "retain") else "-"
            ax.plot(mean.index, mean.values, style, marker="o", label=group)
        ax.set_xticks(steps.index, ["base"] + [f"-{t}" for t in steps.iloc[1:]], fontsize=7)
        ax.set(ylabel="greedy recall (held-out templates)", ylim=(-0.02, 1.02),
               title=f"Sequential unlearning: {name}")
        ax.legend(fontsize=7)
    _save(fig, path)


def placeholder(path: str | Path, text: str) -> None:
    """A small figure that says why there is no figure (e.g. no such stage for this model)."""
    fig, ax = plt.subplots(figsize=(5, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    _save(fig, path)


def _save(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def instability_figure(table: pd.DataFrame, path: str | Path) -> None:
    """Per checkpoint and role: mean JS divergence and greedy agreement across paraphrases."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    means = table.groupby(["role", "checkpoint"])[["js_mean", "greedy_agreement"]].mean()
    means.js_mean.unstack().plot.bar(ax=ax1, rot=0)
    means.greedy_agreement.unstack().plot.bar(ax=ax2, rot=0, legend=False)
    ax1.set(ylabel="JS divergence (bits)", title="Paraphrase instability: answer distributions")
    ax2.set(ylabel="share of pairs", ylim=(0, 1.02), title="Greedy answer agreement")
    ax1.legend(fontsize=7)
    _save(fig, path)


def overlap_figure(summary: pd.DataFrame, pairs: pd.DataFrame, path: str | Path) -> None:
    """Left: within- vs across-family cosine by layer. Right: layer x prompt-pair heatmap for the
    forget target's prompts (residual stream, mean-pooled)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6), width_ratios=[1, 1.6])
    for rep, g in summary.groupby("representation"):
        line, = ax1.plot(g.layer, g.within_family, marker="o", label=f"{rep} within")
        ax1.plot(g.layer, g.across_family, marker="x", linestyle="--", color=line.get_color(),
                 label=f"{rep} across")
    ax1.set(xlabel="layer", ylabel="mean cosine", title="Activation overlap of paraphrases")
    ax1.legend(fontsize=6, ncol=2)
    sel = pairs[pairs.representation == "resid_mean"]
    order = (sel[sel.layer == sel.layer.min()]
             .sort_values(["same_family", "prompt_a", "prompt_b"], ascending=[False, True, True]))
    columns = list(zip(order.prompt_a, order.prompt_b))
    grid = sel.pivot_table(index="layer", columns=["prompt_a", "prompt_b"], values="cosine")
    grid = grid[columns]
    im = ax2.imshow(grid.to_numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                    interpolation="nearest")
    n_same = int(order.same_family.sum())
    ax2.axvline(n_same - 0.5, color="white", linewidth=1)
    ax2.set(xlabel=f"prompt pairs of the forget target (left of line: same family, {n_same})",
            ylabel="layer", title="Cosine per layer and prompt pair", xticks=[],
            yticks=range(len(grid.index)), yticklabels=[str(v) for v in grid.index])
    fig.colorbar(im, ax=ax2)
    _save(fig, path)


def by_layer_figure(table: pd.DataFrame, y: str, hue: str, path: str | Path, ylabel: str,
                    title: str) -> None:
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    for key, g in table.groupby(hue):
        ax.plot(g.layer, g[y], marker="o", label=str(key))
    ax.set(xlabel="layer", ylabel=ylabel, title=title)
    ax.legend(fontsize=7)
    _save(fig, path)


def gradient_figure(table: pd.DataFrame, path: str | Path) -> None:
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    ax.plot(table.layer, table.grad_norm_forget, marker="o", label="forget prompts")
    ax.plot(table.layer, table.grad_norm_retain, marker="o", label="retain prompts")
    ax.set(xlabel="layer (-1 = input embeddings)", ylabel="mean gradient norm",
           title="Gradient sensitivity of the answer log-likelihood")
    ax.legend(fontsize=8)
    _save(fig, path)


def contrast_figure(table: pd.DataFrame, path: str | Path) -> None:
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    for layer, g in table.groupby("layer"):
        ax.hist(g.contrast_z.dropna().astype(float), bins=40, histtype="step", label=f"layer {layer}")
    ax.set(xlabel="standardised forget - retain activation (z)", ylabel="neurons",
           title="Contrastive activation difference", yscale="log")
    ax.legend(fontsize=7)
    _save(fig, path)


def shift_figure(shift: pd.DataFrame, pca: pd.DataFrame, path: str | Path) -> None:
    """Left: cosine distance of last-token residuals, base vs unlearned, by layer and role.
    Right: 2-D PCA (fitted on base) of base and unlearned points, first checkpoint."""
    checkpoint = sorted(shift.checkpoint.unique())[0]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 3.6))
    sel = shift[(shift.checkpoint == checkpoint) & (shift.representation == "resid_last")]
    for (role, split), g in sel.groupby(["role", "split"]):
        ax1.plot(g.layer, g.cosine_distance, marker="o" if split == "train" else "s",
                 linestyle="-" if split == "train" else "--", label=f"{role} ({split})")
    ax1.set(xlabel="layer", ylabel="mean cosine distance", yscale="log",
            title=f"Activation shift after unlearning ({checkpoint})")
    ax1.legend(fontsize=6)
    p = pca[pca.checkpoint == checkpoint]
    for (role, model), g in p.groupby(["role", "model"]):
        ax2.scatter(g.pc1, g.pc2, s=10, alpha=0.7, marker="o" if model == "base" else "x",
                    label=f"{role}, {model}")
    ax2.set(xlabel="PC1", ylabel="PC2", title=f"PCA of layer {int(p.layer.iloc[0])} (last token)")
    ax2.legend(fontsize=6)
    _save(fig, path)



# --- HTML -------------------------------------------------------------------------------------

STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;"
    "line-height:1.45}h2{margin-top:2em;border-bottom:1px solid #ccc}"
    ".scroll{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;font-size:13px}"
    "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}"
    "td.text,th.text{text-align:left}th{background:#f4f4f4}"
    "img{max-width:100%;height:auto;display:block}figure{margin:1em 0}"
    "figcaption{font-size:13px;color:#555;max-width:900px}"
    "details{margin:0.6em 0 1.2em}summary{cursor:pointer;color:#335}"
    ".verdict{background:#f6f8fa;border-left:4px solid #4a7;padding:0.6em 1em}"
    ".verdict li{margin:0.3em 0}.missing{color:#666;font-size:13px}"
    ".meets{color:#161;font-weight:bold}.fails{color:#a11;font-weight:bold}"
    ".undecided{color:#a60;font-weight:bold}")

# a decimal number inside a text cell ("0.74 [0.467, 0.902]", "356.899 (min 79.778, ...)")
_NUMBER = re.compile(r"(?<![\w.])([+-]?)(\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)(?![\w.])")


def fmt(value) -> str:
    """A cell: floats to 3 significant digits (integral floats as integers, very small or large
    ones in exponent notation), every decimal number inside a text likewise, missing as '-'."""
    if value is None or value is pd.NA:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "-"
        if math.isinf(value) or value.is_integer() and abs(value) < 1e7:
            return str(value if math.isinf(value) else int(value))
        if 1e-3 <= abs(value) < 1e5:
            return np.format_float_positional(float(f"{value:.3g}"), trim="-")
        return f"{value:.3g}"
    return _NUMBER.sub(lambda m: m.group(1) + fmt(float(m.group(2))), str(value))


def interval(estimate: float, low: float | None = None, high: float | None = None) -> str:
    """'0.12 [0.05, 0.2]' (3 significant digits); the estimate alone without an interval."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return fmt(estimate)
    return f"{fmt(estimate)} [{fmt(low)}, {fmt(high)}]"


def display_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The columns a reader sees: a numeric column X with a text twin X_ci ("estimate [low,
    high]") is shown once, as the text, under the name X."""
    df = df.copy()
    for column in [c for c in df.columns if c.endswith("_ci") and c[:-3] in df.columns]:
        df[column[:-3]] = df.pop(column)
    return df


def table(df: pd.DataFrame) -> str:
    """An HTML table in a horizontally scrolling box; cells never wrap (CSS); numbers via fmt."""
    df = display_frame(df)
    text = [not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])
                 or df[c].astype(str).str.match(r"^[+-]?[\d.]").all()) for c in df.columns]
    head = "".join(f'<th class="{"text" if t else "num"}">{html.escape(str(c))}</th>'
                   for c, t in zip(df.columns, text))
    body = "".join("<tr>" + "".join(f'<td class="{"text" if t else "num"}">'
                                    f"{html.escape(fmt(v))}</td>" for v, t in zip(row, text))
                   + "</tr>" for row in df.itertuples(index=False))
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>' \
           "</table></div>"


def collapsed(df: pd.DataFrame, name: str, missing: str = "") -> str:
    """The table folded under a summary line (name, rows, columns); `missing`: a line saying
    which models lack it and why. '-' in a cell: not measured or not applicable."""
    summary = f"Table {name}: {len(df)} rows, {len(display_frame(df).columns)} columns"
    note = f'<p class="missing">{html.escape(missing)}</p>' if missing else ""
    return (f"<details><summary>{html.escape(summary)}</summary>{table(df)}"
            '<p class="missing">-: not measured or not applicable.</p></details>' + note)


def image(path: str | Path, alt: str, caption: str = "") -> str:
    """A PNG embedded in the page (a self-contained file), with its caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">{cap}' \
           "</figure>"


def write_html(path: str | Path, title: str, intro: str, sections: list[tuple[str, str, str]]
               ) -> None:
    """sections: (heading, explanation as plain text, HTML body)."""
    parts = [f"<h2>{html.escape(h)}</h2>" + (f"<p>{html.escape(e)}</p>" if e else "") + body
             for h, e, body in sections]
    Path(path).write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(intro)}</p>{''.join(parts)}</body></html>\n")


def tuning_figure(trials: pd.DataFrame, path: str | Path) -> None:
    """Tuning on the validation films: one panel per searched method, each setting's held-out
    forget recall (x) against its utility (y); the chosen setting is the star, the criterion's
    threshold the dotted line, the base model (B) and the validation retain reference (R) the
    grey marks."""
    controls = trials[trials.method.isin(["base", "retain_ref"])]
    searched = trials[~trials.method.isin(["base", "retain_ref"])]
    methods = list(dict.fromkeys(searched.method))
    cols = min(len(methods), 5)
    rows = math.ceil(len(methods) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols + 0.6, 2.5 * rows + 0.4),
                             squeeze=False, sharex=True, sharey=True)
    for ax, name in zip(axes.flat, methods):
        g = searched[searched.method == name]
        chosen = g[g.chosen.astype(bool)]
        ax.scatter(g.forget_held_out, g.utility, s=18, color="tab:blue", alpha=0.7)
        ax.scatter(chosen.forget_held_out, chosen.utility, s=120, marker="*", color="tab:orange",
                   edgecolors="black", linewidths=0.5, zorder=3)
        for r in controls.itertuples():
            ax.scatter([r.forget_held_out], [r.utility], s=30, color="grey", marker="s")
            ax.annotate("B" if r.method == "base" else "R", (r.forget_held_out, r.utility),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
        threshold = g.threshold.dropna()
        if len(threshold):
            ax.axvline(float(threshold.iloc[0]), color="red", linestyle=":", linewidth=1)
        ax.set(xlim=(-0.03, 1.03), ylim=(-0.03, 1.03), title=name)
        ax.title.set_fontsize(9)
    for ax in axes.flat[len(methods):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("utility (held-out)", fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel("validation forget recall", fontsize=8)
    _save(fig, path)


def audit_figure(grid: pd.DataFrame, readouts: pd.DataFrame, path: str | Path) -> None:
    """Is it really gone? Left: forget recall, method x attack (`grid`, in [0, 1]); right: the
    own probe's forget accuracy by layer per method (`readouts`: rows of knowledge_readouts with
    readout probe, probe own), the retain reference dashed."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 0.34 * max(len(grid), 4) + 2.2),
                                      gridspec_kw={"width_ratios": [1.5, 1]})
    values = grid.to_numpy(dtype=float)
    im = left.imshow(values, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        left.text(j, i, "n/a" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center",
                  fontsize=6.5, color="grey" if not np.isfinite(v) else
                  ("white" if v < 0.5 else "black"))
    left.set_xticks(range(grid.shape[1]), list(grid.columns), rotation=40, ha="right", fontsize=7)
    left.set_yticks(range(grid.shape[0]), list(grid.index), fontsize=7)
    left.set_title("forget recall under each attack", fontsize=9)
    fig.colorbar(im, ax=left, shrink=0.8, label="greedy recall")
    colours = _colours(readouts.method)
    for method in _method_order(readouts.method):
        g = readouts[readouts.method == method].sort_values("layer")
        right.plot(g.layer, g.forget, marker="o", ms=3, color=colours[method], label=method,
                   linestyle="--" if method == "retain_ref" else "-")
    right.set(xlabel="layer", ylabel="probe accuracy (forget questions)", ylim=(-0.02, 1.02),
              title="answer decodable from the residual stream")
    right.legend(fontsize=6, ncol=2)
    _save(fig, path)


def deletion_figure(curve: pd.DataFrame, path: str | Path) -> None:
    """Deletion curve: forget and retain recall (teacher-forced) against the number of ablated
    neurons m (log scale, m + 1), top-ranked vs random neurons."""
    fig, ax = plt.subplots(figsize=(5.8, 3.6))
    styles = {"ranked": "-", "random": ":"}
    for (ablated, metric), colour in [(("ranked", "forget_recall"), "C3"),
                                      (("ranked", "retain_recall"), "C0"),
                                      (("random", "forget_recall"), "C3"),
                                      (("random", "retain_recall"), "C0")]:
        g = curve[curve.ablated == ablated].sort_values("m")
        ax.plot(g.m + 1, g[metric], styles[ablated], marker="o", ms=3, color=colour,
                label=f"{metric.split('_')[0]}, {ablated} neurons")
    ax.set_xscale("log")
    ax.set(xlabel="ablated neurons m (+1, log scale)", ylabel="teacher-forced recall",
           ylim=(-0.02, 1.02), title="Deletion curve: ablating the top-m ranked neurons")
    ax.legend(fontsize=7)
    _save(fig, path)
