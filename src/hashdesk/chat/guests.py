"""A guest's email address, proven: a six-digit code mailed through the notify outbox.

A guest types any address to chat, and may chat without proving it: proving it is offered,
not asked. Until the address is proven, nothing is sent to it (the transcript would
otherwise go to whoever's address was typed) and it opens nothing. Once proven:

- the transcript may be emailed to it;
- the guest gets a ``guest_token`` (signed, ``GUEST_TOKEN_DAYS`` long): a later ``hello``
  with the address and that token is that guest again, and ``welcome`` lists their open
  chats with the keys to resume them, from any tab or device they kept the token on.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hashdesk.chat import actions
from hashdesk.chat.models import OPEN_STATUSES, Chat, GuestVerification
from hashdesk.chat.queries import guest_chat_key
from hashdesk.core.auth import Principal, PrincipalKind
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import Conflict, InvalidInput, RateLimited
from hashdesk.core.i18n import N_
from hashdesk.core.ids import new_numeric_code
from hashdesk.notify.actions import do_enqueue_email

CODE_MINUTES = 15
CODE_ATTEMPTS = 5
CODES_PER_WINDOW = 3  # codes mailed to one address per CODE_MINUTES
GUEST_TOKEN_DAYS = 30


def _hash_code(email: str, code: str) -> str:
    return hashlib.sha256(f"chat-guest:{email}:{code}".encode()).hexdigest()


def _guest_email(principal: Principal, chat: Chat) -> str:
    if principal.kind is not PrincipalKind.GUEST or not chat.guest_email:
        raise Conflict("Only a guest's address needs proving; a trader's comes from the "
                       "exchange.")  # fmt: skip
    return chat.guest_email.lower()


def check_request_code(session: Session, principal: Principal, chat: Chat) -> str:
    """Mail a code to the chat's guest address, in the chat's language; the address."""
    email = _guest_email(principal, chat)
    since = utcnow() - timedelta(minutes=CODE_MINUTES)
    recent = session.scalar(select(func.count()).where(
        GuestVerification.email == email, GuestVerification.created_at >= since))  # fmt: skip
    if (recent or 0) >= CODES_PER_WINDOW:
        raise RateLimited("Too many codes for this address; try again in {retry_after} "
                          "seconds.", retry_after=CODE_MINUTES * 60)  # fmt: skip
    return do_send_code(session, email, chat.language)


def do_send_code(session: Session, email: str, language: str) -> str:
    code = new_numeric_code()
    session.add(GuestVerification(email=email, code_hash=_hash_code(email, code),
                                  expires_at=utcnow() + timedelta(minutes=CODE_MINUTES)))  # fmt: skip
    do_enqueue_email(session, to=email, template="chat_guest_code", locale=language,
                     context={"code": code, "minutes": CODE_MINUTES},
                     anti_phishing_code=None)  # fmt: skip
    return email


def _count_attempt(session: Session, verification_id: int) -> bool:
    """Count one try at a code in a transaction of its own, so that the count survives the
    request's rollback; atomic, so parallel guesses cannot slip past the limit."""
    engine = session.get_bind().engine
    with engine.connect() as connection, connection.begin():
        counted = connection.execute(
            update(GuestVerification)
            .where(GuestVerification.id == verification_id,
                   GuestVerification.attempts < CODE_ATTEMPTS)
            .values(attempts=GuestVerification.attempts + 1)
        )  # fmt: skip
    return counted.rowcount == 1


def check_code(session: Session, principal: Principal, chat: Chat, code: str) -> str:
    """Prove the chat's guest address with the latest code mailed to it; the address."""
    email = _guest_email(principal, chat)
    invalid = InvalidInput("The code is wrong or has expired; ask for a new one.", field="code")
    latest = session.scalar(
        select(GuestVerification)
        .where(GuestVerification.email == email, GuestVerification.verified_at.is_(None))
        .order_by(GuestVerification.id.desc())
        .limit(1)
    )
    if latest is None or latest.expires_at < utcnow():
        raise invalid
    if not _count_attempt(session, latest.id):
        raise RateLimited("Too many wrong codes; ask for a new one.", retry_after=60)
    if not hmac.compare_digest(latest.code_hash, _hash_code(email, code.strip())):
        raise invalid
    latest.verified_at = utcnow()
    if chat.status in OPEN_STATUSES:  # the agent sees it too: this address is the guest's
        actions.system_message(session, chat, N_("Email address confirmed."))
    return email


def is_verified(session: Session, email: str) -> bool:
    query = select(GuestVerification.id).where(
        GuestVerification.email == email.lower(), GuestVerification.verified_at.is_not(None)
    )
    return session.scalar(query.limit(1)) is not None


# --- coming back as a proven address -----------------------------------------------------------


def _signature(secret: str, email: str, expires: int) -> str:
    message = f"chat-guest-identity:{email.lower()}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


def guest_token(secret: str, email: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + GUEST_TOKEN_DAYS * 86400)
    return f"{expires}.{_signature(secret, email, expires)}"


def token_is_valid(secret: str, email: str, token: str, now: float | None = None) -> bool:
    expires_text, _, signature = token.partition(".")
    if not expires_text.isdigit() or int(expires_text) < (now or time.time()):
        return False
    return hmac.compare_digest(signature, _signature(secret, email, int(expires_text)))


def open_chat_frames(session: Session, email: str, secret: str) -> list[dict[str, object]]:
    """The open chats of a proven guest address, each with the key that resumes it."""
    query = (select(Chat).where(Chat.guest_email == email.lower(),
                                Chat.status.in_([s.value for s in OPEN_STATUSES]))
             .order_by(Chat.id))  # fmt: skip
    return [actions.chat_frame(chat, key=guest_chat_key(secret, chat.id, email))
            for chat in session.scalars(query)]  # fmt: skip
