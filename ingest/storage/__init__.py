"""Writing to an object store that has no atomic rename (S3 and S3-compatible stores): the commit protocol of DESIGN.md
section 3.2."""
