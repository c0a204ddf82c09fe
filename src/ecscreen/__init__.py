"""ecscreen: offline export-control screening with explained findings."""

__version__ = "0.1.0"
