"""Every mapped class, imported once so that ``Base.metadata`` knows all tables
(for Alembic, the migration guard and test set-up)."""

from hashdesk.accounts.models import AccountTransfer, Agent, DepositAddress, Trader
from hashdesk.assets.models import Asset, AssetNetwork, Network
from hashdesk.assistant.models import AssistantConversation, AssistantMessage
from hashdesk.chains.models import (
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    NetworkHealth,
    Reorg,
    Sighting,
)
from hashdesk.chat.models import (
    AccountManager,
    AgentSkills,
    Chat,
    ChatMessage,
    ChatParticipant,
)
from hashdesk.chat.records import ChatAttachment, ChatHandoff, ChatNote, ChatOutcome
from hashdesk.core.audit import AuditEntry
from hashdesk.core.db import Base
from hashdesk.core.idempotency import IdempotencyRecord
from hashdesk.futures.models import FuturesMark, FuturesPosition, MarginAlert, RiskEntry
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
    "AccountManager",
    "AccountTransfer",
    "Agent",
    "AgentSkills",
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
    "Chat",
    "ChatAttachment",
    "ChatHandoff",
    "ChatMessage",
    "ChatNote",
    "ChatOutcome",
    "ChatParticipant",
    "DepositAddress",
    "FuturesMark",
    "FuturesPosition",
    "GuestCode",
    "HelpCategory",
    "HelpImage",
    "HelpSection",
    "IdempotencyRecord",
    "ImportedId",
    "Incident",
    "IncidentUpdate",
    "Macro",
    "MaintenanceWindow",
    "MarginAlert",
    "Network",
    "NetworkHealth",
    "OutboxMessage",
    "RelatedArticle",
    "Reorg",
    "RiskEntry",
    "Sighting",
    "SlaPolicy",
    "Ticket",
    "TicketEntry",
    "Trader",
    "WebhookEndpoint",
    "metadata",
]  # fmt: skip
