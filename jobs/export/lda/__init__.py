"""`eidata export --format lda`: datasets LDA-1B's own loader reads as they are (`job.py`)."""
