"""`eidata ingest SPEC`: every source's episodes read, canonicalized and written on Ray, exactly once.

At job start every Ray node must see the output folder (`jobs.runtime.shared_fs`). Each source is then discovered by its
own Ray task into a sorted work file that leaves out what an earlier run finished (`discovery`); the driver streams
those files, never holding the corpus's work list. Workers (Ray tasks) take one typed `EpisodeTask`, read the raw
episode, canonicalize it and stage its canonical episodes in their subset's staging area, and answer `Staged` or
`Rejected` (`task`, `worker`); the driver routes each episode to its dataset, once, and committer actors commit them
where they were staged, each dataset in its source's sorted discovery order (`order`, `commit`), so episode indices are
deterministic however many workers and committers run and however often the job is interrupted. A raw episode is done
when its episodes are in a dataset (their lineage names it) or it is in the quarantine (`quarantine`): a rerun skips
those, and a finished job's rerun writes nothing, embedded without starting Ray (`resume`). Bad input is quarantined
with its stage and reason; it never stops the job. At most `max_in_flight` episodes run at once and `commit_window` wait
to be committed, so memory stays flat; a kill keeps every finished episode (`adopt`). A worker node lost mid-job costs
only the tasks it was running: Ray runs them again elsewhere.
"""
