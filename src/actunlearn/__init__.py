"""actunlearn: activation-level preference unlearning for LLM recommenders."""

__version__ = "0.1.0"
