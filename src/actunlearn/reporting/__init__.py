"""Stage 6, reporting: the method summary, the DuckDB database, figures, the report pages and
docs/results.md."""
