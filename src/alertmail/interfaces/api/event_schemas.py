"""Request and response schemas of the events, event types, messages and outbox endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from alertmail.domain.events import (
    DETAIL_KEY_PATTERN,
    MAX_DEDUPE_KEY,
    MAX_DETAIL_KEY,
    MAX_DETAIL_VALUE,
    MAX_DETAILS,
    EventRecorded,
    StoredEvent,
)

# What `validate_details` accepts, stated in the schema (flat, short, scalar); the domain checks
# it, so that each bad detail gets one message naming it.
DETAILS_SCHEMA: dict[str, Any] = {
    "maxProperties": MAX_DETAILS,
    "propertyNames": {"pattern": DETAIL_KEY_PATTERN, "maxLength": MAX_DETAIL_KEY},
    "additionalProperties": {
        "anyOf": [
            {"type": "string", "maxLength": MAX_DETAIL_VALUE},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
        ]
    },
}


class EventCreate(BaseModel):
    """An event to raise. `details` are short key/value pairs printed into the e-mail."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: str = Field(min_length=1, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, json_schema_extra=DETAILS_SCHEMA)
    dedupe_key: str | None = Field(None, max_length=MAX_DEDUPE_KEY, pattern=r"^[^\x00-\x1f]*$")


class EventAccepted(BaseModel):
    """The event is recorded. `disposition`: mailed (queued now), coalesced (digest), no_recipients."""

    id: str
    disposition: str
    outbox_id: str | None
    repeats: int

    @classmethod
    def of(cls, recorded: EventRecorded) -> EventAccepted:
        return cls(
            id=recorded.event_id,
            disposition=recorded.disposition,
            outbox_id=recorded.outbox_id,
            repeats=recorded.repeats,
        )


class EventPublic(BaseModel):
    id: str
    type: str
    details: dict[str, Any]
    dedupe_key: str
    source: str
    node: str
    received_at: datetime
    disposition: str
    outbox_id: str | None

    @classmethod
    def of(cls, stored: StoredEvent) -> EventPublic:
        event = stored.event
        return cls(
            id=event.id,
            type=event.event_type,
            details=dict(event.details),
            dedupe_key=event.dedupe_key,
            source=event.source,
            node=event.node,
            received_at=event.received_at,
            disposition=stored.disposition,
            outbox_id=stored.outbox_id,
        )


class EventTypePublic(BaseModel):
    """One event type of the catalog. `type` is what POST /api/v1/events takes as its `type`;
    `name` repeats it for clients written before 0.2, and will be removed in a later version."""

    model_config = ConfigDict(from_attributes=True)

    type: str = Field(validation_alias=AliasChoices("type", "name"))
    name: str = Field(deprecated=True, description="The same as `type`; kept for older clients.")
    title: str
    severity: str
    summary: str
    action: str
    fields: dict[str, str]
    builtin: bool


class TemplateFailurePublic(BaseModel):
    """A custom template that failed; the built-in one rendered that part instead."""

    model_config = ConfigDict(from_attributes=True)

    template: str
    error: str


class PreviewPublic(BaseModel):
    """A `RenderedMail`: the subject and both parts, and any custom template that failed."""

    model_config = ConfigDict(from_attributes=True)

    subject: str
    text: str
    html: str
    template_failures: list[TemplateFailurePublic] = []


class RecipientReplyPublic(BaseModel):
    """The relay's last refusal of one recipient (RCPT TO): `code` is null when it gave none."""

    model_config = ConfigDict(from_attributes=True)

    code: int | None
    text: str


class RecipientOutcomePublic(BaseModel):
    """One recipient: `state` sent, pending or dead (refused for good), and its own last refusal."""

    model_config = ConfigDict(from_attributes=True)

    address: str
    state: Literal["sent", "pending", "dead"]
    reply: RecipientReplyPublic | None


class MessagePublic(BaseModel):
    """An outbox message without its bodies (see `MessageDetail`). Built from an `OutboxMessage`.

    `last_error` is the message's last failure as a whole; `recipient_outcomes` says what became of
    each recipient, with the relay's reply to that recipient alone."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    event_type: str
    source: str
    status: str
    recipients: list[str]
    recipient_outcomes: list[RecipientOutcomePublic]
    subject: str
    message_id: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    last_category: str
    created_at: datetime
    sent_at: datetime | None
    dead_at: datetime | None = Field(description="when it became dead; null while it is not dead")
    expires_at: datetime
    transport: str = Field(
        description='which transport sent it: "primary" or "fallback"; "" until sent', default=""
    )


class MessageDetail(MessagePublic):
    text: str
    html: str
    raw: str | None


class HourOutcomesPublic(BaseModel):
    """One UTC hour of the Delivery tab's chart: messages queued in it that were sent or retried,
    and messages that became dead in it."""

    model_config = ConfigDict(from_attributes=True)

    hour: datetime
    sent: int
    retried: int = Field(description="needed more than one attempt, whatever the end")
    dead: int


class MessagePage(BaseModel):
    messages: list[MessagePublic]
    counts: dict[str, int]
