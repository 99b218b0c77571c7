"""Conversations with the script writer: their records and what they cost.

A conversation costs ``conversation_credits`` (10) for its first ``conversation_rounds`` (3) rounds,
charged with the first; each later round ``credits_per_1k_tokens`` (1) per started 1,000 tokens of its
calls; at most ``conversation_credits_max`` (50) in all. Charges are ``script_generation`` ledger rows
whose reference is the conversation. A round is refused (402) before the model is called when the user
cannot pay its least price; a round's price never takes credits that unfinished tasks hold.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from control_api import credits
from control_api.db import Conversation, ConversationMessage, CreditTransaction, CreditType, Script, utcnow
from control_api.settings import ServiceSettings
from control_api.writer.author import Brief, Drafted
from control_api.writer.drafts import describe


def create(session: Session, user_id: int, brief: Brief) -> Conversation:
    conversation = Conversation(user_id=user_id, title=brief.topic[:300], topic=brief.topic, style=brief.style,
                                language=brief.language, target_duration_s=brief.target_duration_s,
                                speakers=[dict(s) for s in brief.speakers])
    session.add(conversation)
    session.flush()
    return conversation


def brief_of(conversation: Conversation) -> Brief:
    return Brief(topic=conversation.topic, style=conversation.style or "casual", language=conversation.language,
                 target_duration_s=conversation.target_duration_s or 300.0,
                 speakers=tuple(conversation.speakers or ()))


def owned(session: Session, user_id: int, conversation_id: uuid.UUID) -> Conversation | None:
    found = session.get(Conversation, conversation_id)
    return found if found is not None and found.user_id == user_id else None


def messages_of(session: Session, conversation_id: uuid.UUID) -> list[ConversationMessage]:
    return list(session.exec(select(ConversationMessage).where(ConversationMessage.conversation_id == conversation_id)
                             .order_by(ConversationMessage.id)).all())


def history(messages: list[ConversationMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages if m.role in ("user", "assistant")]


def current_draft(messages: list[ConversationMessage]) -> ConversationMessage | None:
    return next((m for m in reversed(messages) if m.role == "assistant"), None)


def charged(session: Session, conversation_id: uuid.UUID) -> int:
    total = session.exec(select(sa.func.coalesce(sa.func.sum(CreditTransaction.amount), 0)).where(
        CreditTransaction.type == CreditType.script_generation,
        CreditTransaction.reference_id == str(conversation_id))).one()
    return -int(total)


def rounds_done(messages: list[ConversationMessage]) -> int:
    return sum(1 for m in messages if m.role == "user")


def price(settings: ServiceSettings, round_number: int, tokens: int, charged_so_far: int) -> int:
    """Credits round ``round_number`` (1-based) costs with ``tokens``, within the conversation's cap."""
    if round_number == 1:
        amount = settings.conversation_credits
    elif round_number <= settings.conversation_rounds:
        amount = 0
    else:
        amount = math.ceil(tokens / 1000) * settings.credits_per_1k_tokens
    return max(0, min(amount, settings.conversation_credits_max - charged_so_far))


def check_can_pay(session: Session, user_id: int, settings: ServiceSettings, round_number: int,
                  charged_so_far: int) -> None:
    """``InsufficientCredits`` unless the user can pay the least this round costs (a round past the
    included ones costs at least one 1,000 tokens' price)."""
    least = price(settings, round_number, 1, charged_so_far)
    if least:
        credits.check_balance(session, user_id, least)


def record_round(session: Session, settings: ServiceSettings, conversation: Conversation, request: str,
                 drafted: Drafted) -> int:
    """Store the round (the request, the draft with its check and the calls' usage), charge it, and
    update the conversation's counters. Returns the credits charged."""
    messages = messages_of(session, conversation.id)
    round_number = rounds_done(messages) + 1
    last = drafted.replies[-1]
    details: dict[str, Any] = {**last.metadata(), "prompt_tokens": sum(r.prompt_tokens for r in drafted.replies),
                               "completion_tokens": sum(r.completion_tokens for r in drafted.replies),
                               "cost": round(sum(r.cost for r in drafted.replies), 6),
                               "latency_s": round(sum(r.latency_s for r in drafted.replies), 3),
                               "calls": len(drafted.replies), "repaired": drafted.repaired,
                               "check": describe(drafted.check)}
    session.add(ConversationMessage(conversation_id=conversation.id, role="user", content=request))
    session.add(ConversationMessage(conversation_id=conversation.id, role="assistant", content=drafted.check.script,
                                    details=details))
    user = credits.lock_user(session, conversation.user_id)
    amount = price(settings, round_number, drafted.tokens, charged(session, conversation.id))
    amount = min(amount, user.credit_balance - credits.reserved(session, user.id))
    if amount > 0:
        credits.add(session, user, -amount, CreditType.script_generation,
                    f"script writer, round {round_number}: {conversation.topic}"[:300], reference_id=str(conversation.id))
    conversation.message_count = len(messages) + 2
    conversation.total_tokens += drafted.tokens
    conversation.total_cost = round(conversation.total_cost + details["cost"], 6)
    conversation.updated_at = utcnow()
    session.add(conversation)
    return max(amount, 0)


def finalize(session: Session, conversation: Conversation, draft: ConversationMessage, model: str | None,
             estimated_chars: int | None) -> Script:
    """The conversation's current draft as a stored script (source ``ai_generated``)."""
    check = (draft.details or {}).get("check") or {}
    script = Script(user_id=conversation.user_id, title=conversation.title, content=draft.content,
                    source="ai_generated", conversation_id=conversation.id, estimated_chars=estimated_chars,
                    estimated_duration_s=check.get("estimated_duration_s"),
                    generation_params={"topic": conversation.topic, "style": conversation.style,
                                       "language": conversation.language,
                                       "target_duration_s": conversation.target_duration_s,
                                       "speakers": conversation.speakers, "model": model,
                                       "total_tokens": conversation.total_tokens})
    session.add(script)
    session.flush()
    conversation.script_id, conversation.status, conversation.updated_at = script.id, "completed", utcnow()
    session.add(conversation)
    return script

