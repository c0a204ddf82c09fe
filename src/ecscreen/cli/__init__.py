"""The command line (typer): the one layer that reads the environment, prints and picks exit codes."""

from ecscreen.cli.main import app, main

__all__ = ["app", "main"]
