"""Issue 10, stop 25 (h53): start-up costs of a one-shipment check removed without changing any answer."""

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


def test_flat_array_stores_its_maximum() -> None:
    """An integer FlatArray written from numpy carries its largest item (numpy's), read back without walking
    the items; arrays pickled without it (older cache files) still compute it; a damaged one is refused."""
    import pickle

    import numpy as np

    from ecscreen.parties.indexcache import FlatArray

    for dtype in ("<i4", "<i8", "<u2", "|u1"):
        a = np.array([3, 0, 250, 7], dtype=dtype)
        f = FlatArray.of(a)
        assert f.max() == int(a.max()) and f._max == int(a.max())
        back = pickle.loads(pickle.dumps(f, protocol=5))
        assert back._max == int(a.max()) and back.max() == int(a.max()) and back == f
        old = FlatArray(f.dtype, f.shape, bytes(f.data))  # as a file written before the maximum was stored
        assert old._max is None and old.max() == int(a.max())
    floats = FlatArray.of(np.array([1.5, 2.5]))
    assert floats._max is None and floats.max() == 2.5
    assert FlatArray.of(np.array([], dtype="<i4"))._max is None
    with pytest.raises(ValueError):
        FlatArray("<i4", (1,), bytes(4), maximum="7")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FlatArray("<f8", (1,), bytes(8), maximum=7)


def test_loaded_index_reads_the_stored_maximum(tmp_path: Path) -> None:
    """The party index saved to and read from its cache file checks its alias -> entry array with the stored
    maximum (no walk of the items)."""
    from ecscreen.parties.indexcache import FlatArray
    from ecscreen.parties.matching import ListEntry, Matcher

    entries = [ListEntry(id=f"T-{i}", source="test", source_code="custom", name=n)
               for i, n in enumerate(["Acme Rocket Works", "Blue Falcon Trading", "Zenith Optics GmbH"])]
    Matcher(entries, cache_key="round4-max", cache_dir=tmp_path)  # built and saved
    m = Matcher(entries, cache_key="round4-max", cache_dir=tmp_path)  # read from the file
    arr = m.alias_entry
    assert isinstance(arr, FlatArray) and arr._max == max(arr.tolist())


def test_check_does_not_import_the_review_commands() -> None:
    """``check`` reads the store's decisions through ecscreen.cli.decisions, not the review command module."""
    import subprocess

    code = ("import sys, io\nfrom ecscreen.cli.main import main\n"
            "sys.argv = ['ecscreen', 'check', sys.argv[1], '--no-record']\n"
            "out = sys.stdout\nsys.stdout = io.StringIO()\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nsys.stdout = out\n"
            "print('ecscreen.cli.review' in sys.modules, 'ecscreen.cli.decisions' in sys.modules)")
    ship = Path(__file__).resolve().parents[1] / "examples" / "gpu-to-germany.yaml"
    got = subprocess.run([sys.executable, "-c", code, str(ship)], capture_output=True, text=True, check=True)
    assert got.stdout.split() == ["False", "True"]
