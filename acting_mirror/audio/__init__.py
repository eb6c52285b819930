"""Sound of a take: reading it, timing the script from the speech, and its loudness."""
