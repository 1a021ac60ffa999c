"""The QA room: every judgment of the data, per episode (quality tier, geometry, behaviour) and per dataset or corpus
(pooled invariants, copies, dead dims). Pure functions of arrays and typed records (`schemas.qa`)."""
