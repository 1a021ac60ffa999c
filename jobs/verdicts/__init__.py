"""`eidata verdicts`: the corpus-level curation step (copies, dims dead against their dataset), written into the
judged episodes' lineage so the datasets and the catalog carry one tier (`schemas.verdicts`, `jobs.verdicts.step`)."""
