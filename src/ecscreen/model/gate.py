"""The gate's report shapes: one result per product x market pair, the waivers' status, the report.

They live in the model layer so that the output formatters (:mod:`ecscreen.outputs.reporters`) render
them without importing the gate runner (:mod:`ecscreen.runners.gate`), which builds them.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from ecscreen import __version__
from ecscreen.model import Finding, InputError, Outcome, PackInfo, new_list

__all__ = ["PairResult", "WaiverStatus", "GateReport"]


class PairResult(BaseModel):
    sku: str
    market: str
    market_code: str | None = None
    market_name: str | None = None
    subject: str
    decision: Outcome | Literal["error"]
    status: Literal["pass", "fail", "error"]
    findings: list[Finding] = Field(default_factory=new_list)
    errors: list[str] = Field(default_factory=new_list)
    line: int | None = None
    eccn: str | None = None
    description: str = ""


class WaiverStatus(BaseModel):
    index: int
    rule: str
    subject: str
    reason: str
    approver: str
    expires: dt.date
    state: Literal["used", "unused", "expired"]
    matched: list[str] = Field(default_factory=new_list, description="SKU@MARKET subjects it waived (or would have)")
    line: int | None = None


class GateReport(BaseModel):
    tool: str = "ecscreen"
    tool_version: str = __version__
    catalog: str
    as_of: dt.date
    fail_on: Outcome
    status: Literal["pass", "fail", "error"]
    pairs: list[PairResult] = Field(default_factory=new_list)
    errors: list[InputError] = Field(default_factory=new_list, description="Catalog entries that could not be read")
    waivers: list[WaiverStatus] = Field(default_factory=new_list)
    waivers_file: str | None = None
    warnings: list[str] = Field(default_factory=new_list)
    packs: list[PackInfo] = Field(default_factory=new_list)

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1, "error": 3}[self.status]

    def counts(self) -> dict[str, int]:
        c = {"pairs": len(self.pairs), "pass": 0, "fail": 0, "error": 0, "waived": 0}
        for p in self.pairs:
            c[p.status] += 1
            c["waived"] += sum(1 for f in p.findings if f.covered_by is not None and f.covered_by.kind == "waiver")
        c["catalog_errors"] = len(self.errors)
        return c
