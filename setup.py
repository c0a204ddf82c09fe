"""Build hook: ship the top-level ``rules/`` packs and ``seeds/`` inside the wheel.

The packs live at the repository top level (the design card's layout); at build time they are
copied into ``ecscreen/rules`` and ``ecscreen/seeds`` so ``pip install .`` (not editable) finds
them from any directory. Metadata is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithPacks(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for name in ("rules", "seeds"):
            src = HERE / name
            dst = Path(self.build_lib) / "ecscreen" / name
            if dst.exists():
                shutil.rmtree(dst)
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithPacks})
