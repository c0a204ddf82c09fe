"""ecscreen.domain."""
