"""Writing to an object store that has no atomic rename (S3 and S3-compatible stores): the commit protocol of DESIGN.md
section 3.2. `objects` (the conditional put and the S3 calls), `lease` (one job per output), `commit_log` (numbered,
immutable commit records: the one conditional put that makes a group of objects visible; recovery; garbage),
`preflight` (an output's check before work, including that the store honours conditional writes)."""
