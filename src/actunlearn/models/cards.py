"""The model card: what the pipeline records beside a model's weights.
"""

from __future__ import annotations

import json
from pathlib import Path

# A model folder may hold a model card instead of (or beside) weights: where the weights are (a hub
# id or local folder, for source hf), the dtype, device map, revision, remote-code permission and
# the system prompt every chat prompt gets (written by rule prepare_model).
MODEL_CARD = "actunlearn_model.json"


def read_model_card(path: str | Path) -> dict:
    card = Path(path) / MODEL_CARD
    return json.loads(card.read_text()) if card.exists() else {}
