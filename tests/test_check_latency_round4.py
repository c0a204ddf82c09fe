"""Issue 10, stop 25: start-up costs of a one-shipment check removed without changing any answer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def test_dist_version_first_directory_on_the_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One pass indexes every distribution: the first NAME-VERSION.dist-info on sys.path, in order, gives the
    version (as importlib.metadata finds it), whatever other directories hold."""
    from ecscreen.settings import dist_version

    first, second = tmp_path / "a", tmp_path / "b"
    (first / "Zz_Probe.Dist-1.2.dist-info").mkdir(parents=True)
    (second / "zz_probe_dist-9.9.dist-info").mkdir(parents=True)
    (second / "zz_other_probe-3.0.egg-info").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(first), str(second), *sys.path])
    assert dist_version("zz-probe.dist") == "1.2"
    assert dist_version("ZZ_Other-Probe") == "3.0"
    assert dist_version("zz-not-installed-probe") == "?"
