"""ecscreen.engine."""
