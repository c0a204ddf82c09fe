"""Which reading of the regulation decides where the codified text and BIS's enforcement differ.

``enforced`` (default): the scope BIS enforces decides. Today this concerns the January 2025 AI
Diffusion rule (90 FR 4544), codified in the eCFR, which BIS announced on 2025-05-13 it will not
enforce (the October 2023 / April 2024 scope is the one enforced). ``cfr-text``: the codified text
decides, for users whose compliance programme must follow the text as written. Both readings are
stated in the finding (or the result's notes, when the decision is clear) either way.

The policy is per engine (``Engine.policy``); the engine sets it here before screening each
shipment, and the chart step reads it with :func:`current`.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Literal

Policy = Literal["enforced", "cfr-text"]
POLICIES: tuple[str, ...] = ("enforced", "cfr-text")

_current: ContextVar[str] = ContextVar("ecscreen_policy", default="enforced")


def current() -> str:
    return _current.get()


def set_current(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    _current.set(policy)
