"""Test doubles for the assistant's collaborators that cannot be the real thing in a unit
test: a search index whose hits (and scores) the test writes down, and a language detector
that recognises a few languages by their words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FakeHit:
    article_id: int
    locale: str
    title: str
    url: str
    snippet: str
    score: float
    semantic: float
    lexical: float


def hit(article_id: int, title: str, semantic: float, score: float | None = None,
        lexical: float = 0.5, locale: str = "en") -> FakeHit:  # fmt: skip
    return FakeHit(article_id, locale, title, f"/hc/{locale}/articles/{article_id}-x", "",
                   semantic if score is None else score, semantic, lexical)  # fmt: skip


@dataclass
class ScriptedSearcher:
    """Answers each known query with the hits written for it (best first), else nothing;
    remembers what it was asked."""

    answers: dict[str, list[FakeHit]] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def search(self, query: str, locale: str, *, limit: int = 10,
               include_internal: bool = False) -> Sequence[FakeHit]:  # fmt: skip
        self.asked.append((query, locale))
        return self.answers.get(query, [])[:limit]


SPANISH = {"cómo", "como", "mi", "la", "el", "contraseña", "retiro", "depósito", "qué", "por"}


def word_language(text: str) -> tuple[str, float]:
    words = set(text.lower().replace("?", " ").replace("¿", " ").split())
    if len(words & SPANISH) >= 2:
        return "es", 0.95
    return "en", 0.9


# --- a small, realistic help center --------------------------------------------------------------

CORPUS: dict[str, tuple[str, str, str]] = {
    # key: (section, title, body)
    "withdraw": (
        "wallet/withdrawals",
        "How to withdraw crypto",
        "Open **Wallet**, choose the coin and select **Withdraw**.\n\n"
        "Paste the address, pick the same network the receiving platform uses and enter "
        "the amount. Check the address twice: transfers on the chain cannot be reversed.\n\n"
        "Confirm with your 2FA code. Most withdrawals are sent within 30 minutes.",
    ),
    "deposit": (
        "wallet/deposits",
        "How to deposit crypto",
        "Open **Wallet** and select **Deposit**, then choose the coin and the network.\n\n"
        "Copy the deposit address (and the memo or tag, if one is shown) into the wallet you "
        "send from. The deposit is credited after the network confirms it.",
    ),
    "fees": (
        "wallet/withdrawals",
        "Withdrawal fees and minimum amounts",
        "Each network has its own withdrawal fee, shown before you confirm.\n\n"
        "TRON and BNB Smart Chain are usually the cheapest networks for USDT.",
    ),
    "anti_phishing": (
        "security/phishing",
        "Set up an anti-phishing code",
        "An anti-phishing code is a word you choose that appears in every genuine "
        "email we send.\n\nGo to **Security** > **Anti-phishing code**, enter a code "
        "and confirm with 2FA.",
    ),
    "phishing_report": (
        "security/phishing",
        "Report a phishing website or message",
        "If a site, email or message pretends to be us, do not enter your "
        "password or codes.\n\nSend the link to our security team from "
        "**Support** > **Report phishing**.",
    ),
    "password": (
        "account/sign-in",
        "Reset a forgotten password",
        "On the sign-in page choose **Forgot password**, enter your email and follow the "
        "link we send.\n\nFor your safety, withdrawals are paused for 24 hours after a "
        "password reset.",
    ),
    "rate_limit": (
        "api/limits",
        "API rate limits",
        "Each endpoint has a request weight; your IP may use 6,000 weight per minute.\n\n"
        "Over the limit the API answers 429; keep going and your IP is banned (418).",
    ),
    "liquidation": (
        "futures/margin",
        "How is the liquidation price calculated?",
        "A position is liquidated when the mark price reaches the liquidation price, "
        "where your margin falls to the maintenance margin.",
    ),
}
SPANISH_TRANSLATIONS: dict[str, tuple[str, str]] = {
    "password": ("Restablecer una contraseña olvidada",
                 "En la página de inicio de sesión elige **¿Olvidaste tu contraseña?**, escribe tu "
                 "correo y sigue el enlace que te enviamos.\n\nPor tu seguridad, los retiros se "
                 "pausan durante 24 horas después de restablecer la contraseña."),
}  # fmt: skip


def make_corpus(session: Any) -> dict[str, int]:
    """The corpus as published articles (through the help center's actions); key → id."""
    from hashdesk.accounts.queries import agent_principal
    from hashdesk.core.auth import Role
    from hashdesk.helpcenter.actions import check_create_article, check_save_translation
    from hashdesk.helpcenter.models import ArticleStatus
    from hashdesk.helpcenter.schemas import ArticleCreate, TranslationSave
    from tests.conftest import make_agent

    editor = agent_principal(make_agent(session, Role.LEAD, email="editor@desk.example.com"))
    ids = {}
    for key, (section, title, body) in CORPUS.items():
        data = ArticleCreate(section=section, title=title, body=body,
                             status=ArticleStatus.PUBLISHED, locale="en")  # fmt: skip
        ids[key] = check_create_article(session, editor, data).id
    for key, (title, body) in SPANISH_TRANSLATIONS.items():
        check_save_translation(session, editor, ids[key], "es",
                               TranslationSave(title=title, body=body, status=ArticleStatus.PUBLISHED))  # fmt: skip
    session.commit()
    return ids


def article_hit(ids: dict[str, int], key: str, semantic: float, locale: str = "en",
                lexical: float = 0.5, score: float | None = None) -> FakeHit:  # fmt: skip
    title = SPANISH_TRANSLATIONS[key][0] if locale == "es" else CORPUS[key][1]
    return FakeHit(ids[key], locale, title, f"/hc/{locale}/articles/{ids[key]}", "",
                   semantic if score is None else score, semantic, lexical)  # fmt: skip
