"""Stage 1, the data: the movie catalog, the training corpus and prompt families, the shift sets,
and user-supplied response logs and probes."""
