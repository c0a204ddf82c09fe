"""numpy, imported on first use (issue 10: a one-shipment ``check`` never needs it, and importing it costs ~41 ms).

``from ecscreen.parties.lazynp import np`` gives an object that stands for the numpy module: the first attribute
read (``np.zeros``, ``np.ndarray`` ...) imports numpy; each attribute is then kept on the object, so later reads
cost what a module attribute read costs. Modules whose every call needs numpy import it directly; this is for
modules (the party matcher) that have a numpy-free path for the common case and a numpy path for bulk work.
"""

from __future__ import annotations

from typing import Any

__all__ = ["np", "numpy_loaded"]


class _LazyNumpy:
    def __getattr__(self, name: str) -> Any:
        import numpy

        value = getattr(numpy, name)
        object.__setattr__(self, name, value)
        return value

    def __repr__(self) -> str:
        return "<numpy, imported on first use>"


np: Any = _LazyNumpy()


def numpy_loaded() -> bool:
    """Whether this process has imported numpy already (then the bulk kernels cost no import)."""
    import sys

    return "numpy" in sys.modules
