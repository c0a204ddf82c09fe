"""ecscreen.parties."""
