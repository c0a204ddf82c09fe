"""ecscreen.packs."""
