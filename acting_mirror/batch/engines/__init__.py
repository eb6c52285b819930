"""Where a batch's takes run: `local` (a process pool on this machine) or `ray` (a Ray
runtime or cluster). Each engine yields the takes' results as they finish; the driver
stores them (acting_mirror.batch.store)."""
