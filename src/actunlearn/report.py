"""The study report: one self-contained HTML page with tables and figures (PNG, embedded)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
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


def forget_vs_retain(table: pd.DataFrame, path: str | Path) -> None:
    """One colour per checkpoint; circles: train templates, squares: held-out templates."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, row in enumerate(table.itertuples(index=False)):
        colour = colours[k % len(colours)]
        ax.scatter(row.retain_recall_train, row.forget_recall_train, color=colour, marker="o",
                   s=50, label=row.checkpoint)
        ax.scatter(row.retain_recall_held_out, row.forget_recall_held_out, color=colour,
                   marker="s", s=50, facecolors="none")
    ax.set(xlabel="retain recall (non-neighbour films)", ylabel="forget recall",
           xlim=(-0.02, 1.05), ylim=(-0.02, 1.05),
           title="Forget vs retain (filled: train templates, open: held-out)")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def unlearning_curve(log: pd.DataFrame, path: str | Path) -> None:
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for run, g in log.groupby("checkpoint"):
        ax.plot(g.step, g.forget_recall, marker=".", label=f"{run}: forget")
        ax.plot(g.step, g.retain_recall, marker=".", linestyle="--", label=f"{run}: retain")
    ax.set(xlabel="step", ylabel="teacher-forced recall (train templates)", ylim=(-0.02, 1.02),
           title="During unlearning")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
