"""Stage 5, evaluation: answers to prompts, one checkpoint's evaluation, the knowledge check,
forget quality, relearning, recommendation drift, paraphrase instability."""
