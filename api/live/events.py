"""The event subscribers receive: one committed outbox row, as plain data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.models.outbox import OutboxEvent


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A committed domain event with its outbox id and subscription keys."""

    id: int
    type: str
    topic: str
    at: datetime
    exam_id: int | None
    site_id: int | None
    modality: str | None
    status: str | None
    radiologist_ids: tuple[int, ...]
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: OutboxEvent) -> LiveEvent:
        """The event an outbox row holds."""
        assert row.id is not None
        return cls(
            id=row.id,
            type=row.type,
            topic=row.topic,
            at=row.occurred_at,
            exam_id=row.exam_id,
            site_id=row.site_id,
            modality=row.modality,
            status=row.status,
            radiologist_ids=tuple(row.radiologist_ids),
            payload=dict(row.payload),
        )

    def encode(self) -> str:
        """The event as JSON, for the broker."""
        return json.dumps(
            {
                "id": self.id,
                "type": self.type,
                "topic": self.topic,
                "at": self.at.isoformat(),
                "exam_id": self.exam_id,
                "site_id": self.site_id,
                "modality": self.modality,
                "status": self.status,
                "radiologist_ids": self.radiologist_ids,
                "payload": self.payload,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | bytes) -> LiveEvent:
        """The event `encode` wrote."""
        data = json.loads(text)
        return cls(
            id=data["id"],
            type=data["type"],
            topic=data["topic"],
            at=datetime.fromisoformat(data["at"]),
            exam_id=data["exam_id"],
            site_id=data["site_id"],
            modality=data["modality"],
            status=data["status"],
            radiologist_ids=tuple(data["radiologist_ids"]),
            payload=data["payload"],
        )
