"""Answer matching shared by evaluation and probing."""

from __future__ import annotations


def normalise_text(text: str) -> str:
    """Lower case, letters and digits only."""
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def is_correct(answer: str, gold: list[str]) -> bool:
    """Whether any non-empty normalised gold string occurs in the normalised answer."""
    a = normalise_text(answer)
    return any(normalise_text(g) and normalise_text(g) in a for g in gold)
