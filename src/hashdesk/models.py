"""Every mapped class, imported once so that ``Base.metadata`` knows all tables
(for Alembic, the migration guard and test set-up)."""

from hashdesk.accounts.models import Agent, Trader
from hashdesk.assets.models import Asset, AssetNetwork, Network
from hashdesk.assistant.models import AssistantConversation, AssistantMessage
from hashdesk.core.audit import AuditEntry
from hashdesk.core.db import Base
from hashdesk.core.idempotency import IdempotencyRecord
from hashdesk.helpcenter.models import (
    Article,
    ArticleTranslation,
    ArticleVersion,
    ArticleVote,
    HelpCategory,
    HelpImage,
    HelpSection,
    ImportedId,
    RelatedArticle,
)
from hashdesk.notify.models import OutboxMessage, WebhookEndpoint
from hashdesk.tickets.models import (
    Attachment,
    Category,
    GuestCode,
    Macro,
    SlaPolicy,
    Ticket,
    TicketEntry,
)

metadata = Base.metadata

__all__ = [
    "Agent",
    "Article",
    "ArticleTranslation",
    "ArticleVersion",
    "ArticleVote",
    "Asset",
    "AssetNetwork",
    "AssistantConversation",
    "AssistantMessage",
    "Attachment",
    "AuditEntry",
    "Category",
    "GuestCode",
    "HelpCategory",
    "HelpImage",
    "HelpSection",
    "IdempotencyRecord",
    "ImportedId",
    "Macro",
    "Network",
    "OutboxMessage",
    "RelatedArticle",
    "SlaPolicy",
    "Ticket",
    "TicketEntry",
    "Trader",
    "WebhookEndpoint",
    "metadata",
]  # fmt: skip
