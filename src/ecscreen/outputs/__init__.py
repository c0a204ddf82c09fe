"""ecscreen.outputs."""
