"""Sound: a take's audio carried into the annotated video (soundtrack)."""
