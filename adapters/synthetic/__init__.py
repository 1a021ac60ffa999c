"""Writers of small but faithful raw corpora in each source's real on-disk format (tests and `make demo`)."""
