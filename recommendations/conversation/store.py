"""Where a conversation lives between turns: the cache (Redis), one JSON value per conversation,
expiring CONVERSATION_TTL_S after its last turn. Nothing personal outlives that: an expired or
unknown id is simply gone (the API answers 404)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache

from recommendations.conversation.changes import ConversationState

PREFIX = "conversation:"


class ConversationNotFound(LookupError):
    """No conversation with this id: it never existed, or it expired."""


@dataclass
class Conversation:
    id: str
    customer_id: str | None
    k: int
    state: ConversationState = field(default_factory=ConversationState)
    # the shopper's turns and which parser read each: [{"text", "parser"}]
    turns: list[dict[str, str]] = field(default_factory=list)
    # the median price of the last list shown ("cheaper" moves from it)
    median_price: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "k": self.k,
            "state": self.state.as_json(),
            "turns": self.turns,
            "median_price": self.median_price,
        }


def conversation_new(*, customer_id: str | None, k: int) -> Conversation:
    return Conversation(id=str(uuid.uuid4()), customer_id=customer_id, k=k)


def conversation_load(conversation_id: str) -> Conversation:
    data = cache.get(PREFIX + conversation_id)
    if data is None:
        raise ConversationNotFound(conversation_id)
    return Conversation(
        id=conversation_id,
        customer_id=data["customer_id"],
        k=data["k"],
        state=ConversationState.from_json(data["state"]),
        turns=list(data["turns"]),
        median_price=data["median_price"],
    )


def conversation_save(conversation: Conversation) -> None:
    """Store it for CONVERSATION_TTL_S more seconds."""
    cache.set(PREFIX + conversation.id, conversation.as_json(), timeout=settings.CONVERSATION_TTL_S)
