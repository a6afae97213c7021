"""Tuning: one search per method on validation films the study never tests (validation), the
trials' settings and the one selection criterion (search)."""
