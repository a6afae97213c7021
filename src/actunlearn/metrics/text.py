"""Text normalisation for comparing answers as strings (paraphrase instability, probe
validation). Matching answers to gold entities is `actunlearn.metrics.matching`."""

from __future__ import annotations


def normalise_text(text: str) -> str:
    """Lower case, letters and digits only."""
    return "".join(ch for ch in str(text).lower() if ch.isalnum())
