"""ecscreen.runners."""
