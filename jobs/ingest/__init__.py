"""`eidata ingest SPEC`: every source's episodes read, canonicalized and written on Ray, exactly once.

At job start every Ray node must see the output folder (`jobs.runtime.shared_fs`). Each source is then discovered by its
own Ray task into a sorted work file that leaves out what an earlier run finished (`discovery`); the driver streams
those files, never holding the corpus's work list. Workers (Ray tasks) take one typed `EpisodeTask`, read the raw
episode, canonicalize it and stage its canonical episodes in the target dataset's staging area, and answer `Staged` or
`Rejected` (`task`, `worker`); committer actors commit them, each dataset in its source's sorted discovery order
(`order`, `commit`), so episode indices are deterministic however many workers and committers run and however often the
job is interrupted. A raw episode is done when its episodes are in a dataset (their lineage names it) or it is in the
quarantine, which one writer owns (`quarantine`): a rerun skips those, and a finished job's rerun writes nothing; run
embedded, it knows so before Ray starts (`resume`) and exits without Ray. A run that did not end (no
`job/ingest.finished`) has the next one roll its commits forward and rebuild the catalog. Bad input is quarantined with
its stage and reason; it never stops the job. At most `max_in_flight` episodes run at once and `commit_window` wait to
be committed (backpressure), so memory stays flat; at most `commit_lag` raw episodes are handed to the committers and
not yet committed, and a worker records each staged answer last, so a kill keeps every finished episode: the next run
adopts what was staged whole and not committed (`adopt`) and redoes only the episodes that were running.
A worker node lost mid-job costs only the tasks it was running: Ray runs them again elsewhere. The driver, report and
CLI are `job` and `report`.
"""
