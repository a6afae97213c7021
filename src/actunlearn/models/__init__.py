"""Models: cards and loading, chat encoding, scoring, the tokenizer, the built-in testbed, external
sources, and activation hooks."""
