"""Shapes the record store takes and gives back (plain pydantic models, no database types).

* :class:`NewRecord` -- one screening to append (a shipment of ``check``/API/serve, an order of ``batch``,
  a product x market pair of ``gate``).
* :class:`PartyRef` -- one party of a screening, indexed for ``history --party`` and re-screening.
* :class:`Decision` -- a person's decision on a finding of a recorded screening (written by ``review decide``).
* :class:`StoredRecord` -- what :meth:`RecordStore.get` / ``query`` return (screenings, decisions and
  checkpoints alike; ``content`` is the exact hashed document).
* :class:`PartySeen` -- one distinct recorded party (``iter_parties``), with its record ids.
* :class:`VerifyResult`, :class:`PruneResult` -- the outcome of ``verify`` and ``prune``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecscreen.model import new_list

__all__ = ["Decision", "NewRecord", "PartyRef", "PartySeen", "PruneResult", "StoredRecord", "VerifyResult"]

RecordKind = Literal["screening", "decision", "checkpoint"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: check uses two of seven


class PartyRef(_Model):
    """A party as screened: the name as given, its country, role, and the worst outcome of the party's
    own findings (``clear`` when nothing about it was found) with the best list-match score (0-100)."""

    name: str
    country: str | None = None
    role: str | None = None
    outcome: str = "clear"
    score: float | None = None


class NewRecord(_Model):
    """One screening to record.

    ``input`` is the screened input as a JSON-able document (canonicalised and hashed by the store);
    ``source`` says where it came from (``orders.csv:12-14``, ``shipment.yaml:1``, ``api:CLIENT``);
    ``manifest`` is the sha256 of the run's manifest blob (tool version, options, packs and lists by
    hash: see :meth:`RecordStore.put_manifest`), shared by every record of one run."""

    command: str
    source: str
    subject: str | None = Field(default=None, description="shipment or order id")
    input: Any
    decision: str
    findings: list[dict[str, Any]] = Field(default_factory=new_list)
    parties: list[PartyRef] = Field(default_factory=new_list)
    manifest: str | None = None
    warnings: list[str] = Field(default_factory=new_list)
    errors: list[str] = Field(default_factory=new_list)
    extra: dict[str, Any] = Field(default_factory=dict, description="anything else worth keeping (JSON-able)")


class Decision(_Model):
    """A person's decision on one finding of a recorded screening (``record_id``)."""

    record_id: int
    rule_id: str
    decision: Literal["cleared", "confirmed", "escalated"]
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    expires: dt.date | None = None
    party: PartyRef | None = Field(default=None, description="the party a party-hit decision is about")
    entry: str | None = Field(default=None, description="the list entry a party-hit decision is about")
    extra: dict[str, Any] = Field(default_factory=dict)


class StoredRecord(_Model):
    """A record as stored. ``content`` is the canonical document the chain hash covers; the other fields
    are its indexed projections (``verify`` checks they agree)."""

    id: int
    kind: RecordKind
    recorded_at: dt.datetime
    command: str | None = None
    source: str | None = None
    subject: str | None = None
    decision: str | None = None
    ref_id: int | None = None
    input_sha256: str | None = None
    manifest: str | None = None
    prev_hash: str
    hash: str
    content: dict[str, Any]
    content_text: str | None = Field(default=None, description="the stored content exactly as hashed")


class PartySeen(_Model):
    """One distinct recorded party (by normalised name and country) in a window of records."""

    norm_name: str
    country: str | None
    name: str = Field(description="the name as last recorded")
    record_ids: list[int]
    last_record_id: int
    last_outcome: str
    last_score: float | None = None


class VerifyResult(_Model):
    ok: bool
    checked: int = 0
    first_bad_id: int | None = None
    problem: str | None = None
    base_id: int = Field(default=0, description="records up to this id were pruned (0: none)")
    head_id: int | None = None
    head_hash: str | None = None


class PruneResult(_Model):
    pruned: int
    through_id: int | None = None
    checkpoint_id: int | None = None
    refused: str | None = None
    blobs_deleted: int = 0  # blobs no remaining record needs (manifests, packs, lists, files, batch outcomes)
