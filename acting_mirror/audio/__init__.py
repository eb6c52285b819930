"""Sound of a take: carried into the annotated video (soundtrack), read for timing the script from
the speech (align, cue_timing, live_cues), and its loudness (level)."""
