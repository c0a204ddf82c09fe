"""ecscreen: offline export-control screening with explained findings.

Public API (see the README): :class:`Screener` (build once, then ``screen()`` / ``report()``), and the
models of the shipment and report formats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Screener", "Shipment", "ShipmentResult", "Report", "Finding", "Outcome", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from ecscreen.api import Screener
    from ecscreen.model import Finding, Outcome, Report, Shipment, ShipmentResult


def __getattr__(name: str) -> Any:
    # imported on first use, so `ecscreen --help` and `import ecscreen` stay cheap
    if name == "Screener":
        from ecscreen.api import Screener

        return Screener
    if name in ("Shipment", "ShipmentResult", "Report", "Finding", "Outcome"):
        import ecscreen.model as models

        return getattr(models, name)
    raise AttributeError(f"module 'ecscreen' has no attribute {name!r}")
