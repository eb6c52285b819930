"""Sound of a take: carried into the annotated video (soundtrack for a file, microphone + mux for a
camera), read for timing the script from the speech (align, cue_timing offline, live_cues live),
and its loudness (level)."""
