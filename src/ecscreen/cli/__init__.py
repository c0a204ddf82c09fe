"""The command line (typer): the one layer that reads the environment, prints and picks exit codes.

The entry point is :func:`ecscreen.cli.main.main` (``ecscreen = "ecscreen.cli.main:main"``);
``python -m ecscreen.cli`` runs it too.
"""
