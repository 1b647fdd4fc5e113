"""Training of the bundled extractive reader (not imported at run time)."""
