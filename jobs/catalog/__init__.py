"""The DuckDB catalog over the corpus: build, query, curate."""
