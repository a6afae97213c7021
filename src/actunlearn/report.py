"""The study report: one self-contained HTML page with tables and figures (PNG, embedded)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
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


def forget_vs_retain(results: pd.DataFrame, path: str | Path) -> None:
    """Held-out forget recall against held-out neighbour recall, one marker per method with its
    95% design intervals (seeds, forget films, facts) as bars; the retain reference, which never
    saw the forget films, is the target (star)."""
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    colours = plt.get_cmap("tab20").colors
    held = results[(results.film == "all") & (results.split == "held_out")]
    x, y = (held[held.metric == m].set_index("method") for m in ("neighbour_recall",
                                                                  "forget_recall"))
    methods = [m for m in y.index if m in x.index]
    for k, name in enumerate(sorted(methods, key=lambda m: (m not in ("base", "retain_ref"), m))):
        px, py = x.loc[name], y.loc[name]
        err = [[max(p.estimate - p.low, 0) if pd.notna(p.low) else 0 for p in (px, py)],
               [max(p.high - p.estimate, 0) if pd.notna(p.high) else 0 for p in (px, py)]]
        marker = "*" if name == "retain_ref" else "s" if name == "base" else "o"
        ax.errorbar(px.estimate, py.estimate, xerr=[[err[0][0]], [err[1][0]]],
                    yerr=[[err[0][1]], [err[1][1]]], color=colours[k % len(colours)],
                    marker=marker, markersize=12 if marker == "*" else 7, linestyle="none",
                    capsize=2, label=f"{name} (seeds {int(py.n_seeds)})")
    ax.set(xlabel="neighbour recall, held-out templates", ylabel="forget recall, held-out templates",
           xlim=(-0.02, 1.05), ylim=(-0.02, 1.05),
           title="Forget vs neighbours (95% design intervals; star: retain_ref, the target)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def unlearning_curve(log: pd.DataFrame, path: str | Path) -> None:
    """Forget and retain recall of the log probes (greedy answers, entity matching) during
    unlearning: one line per method (mean over seeds), one panel each."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.4), sharex=True)
    method = log.checkpoint.str.replace(r"_seed\d+$", "", regex=True)
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


def shift_robustness_figure(table: pd.DataFrame, path: str | Path) -> None:
    """Heatmaps (method x shift set) of forget recall and of retain recall, from the
    shift_robustness table (means over seeds)."""
    sets = list(dict.fromkeys(table.shift_set))
    methods = list(dict.fromkeys(table.method))
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.42 * len(methods) + 1.8), sharey=True)
    for ax, column in zip(axes, ("forget", "retain")):
        grid = table.pivot(index="method", columns="shift_set", values=column).loc[methods, sets]
        im = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if v < 0.5 else "black")
        ax.set_xticks(range(len(sets)), sets, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(methods)), methods, fontsize=7)
        ax.set_title(f"{column} recall by shift set")
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
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


def image(path: str | Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0, na_rep="-")


def write_html(path: str | Path, title: str, intro: str, sections: list[tuple[str, str, str]]
               ) -> None:
    """sections: (heading, explanation, html body)."""
    parts = [f"<h2>{html.escape(h)}</h2><p>{html.escape(e)}</p>{body}" for h, e, body in sections]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;"
             "border-bottom:1px solid #ddd;text-align:right}img{max-width:100%}")
    Path(path).write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(intro)}</p>{''.join(parts)}</body></html>\n")
