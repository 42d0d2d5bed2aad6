"""Domain synonyms, applied to queries (never to the index, so the table can change without
a rebuild): a trader who types "memo" also finds the article titled "destination tag".

Each group lists phrases that mean the same thing to a trader. Groups under ``"*"`` apply in
every locale (exchange jargon is English in most languages: 2FA, KYC, USDT, API key); the
others add the locale's own words. A phrase matches when all its terms are in the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from hashdesk.helpcenter.search.analysis import Term, analyzer_for

SYNONYM_WEIGHT = 0.5  # a synonym counts half as much as a word the trader typed

Group = tuple[str, ...]

SYNONYMS: dict[str, tuple[Group, ...]] = {
    "*": (
        ("2fa", "two-factor authentication", "two factor", "authenticator",
         "google authenticator", "2-step verification", "mfa", "otp"),
        ("tag", "memo", "destination tag", "payment id"),
        ("withdraw", "send out", "withdrawal", "cash out", "transfer out"),
        ("deposit", "top up", "fund account", "transfer in", "receive crypto"),
        ("kyc", "identity verification", "verify identity", "id verification"),
        ("liquidated", "liquidation", "force closed", "margin call"),
        ("api key", "api token", "api secret", "api credentials"),
        ("usdt", "tether"),
        ("usdc", "usd coin"),
        ("btc", "bitcoin"),
        ("eth", "ether", "ethereum"),
        ("bnb", "bnb smart chain", "bsc", "bep20"),
        ("trc20", "tron", "trx"),
        ("erc20", "ethereum network"),
        ("sol", "solana"),
        ("xrp", "ripple"),
        ("wrong network", "wrong chain", "unsupported network"),
        ("txid", "transaction hash", "tx hash", "transaction id"),
        ("password", "passcode", "login password"),
        ("reset", "recover", "restore"),
        ("locked", "frozen", "disabled", "suspended", "blocked"),
        ("phishing", "scam", "fraud", "fake website"),
        ("anti-phishing code", "anti phishing code", "security code in emails"),
        ("sub-account", "sub account", "subaccount"),
        ("fee", "fees", "commission", "charges"),
        ("futures", "perpetual", "perpetual contract", "derivatives"),
        ("funding rate", "funding fee"),
        ("leverage", "margin multiplier"),
        ("stop loss", "sl", "stop-loss order"),
        ("take profit", "tp", "take-profit order"),
        ("p2p", "peer to peer", "otc"),
        ("vip", "vip programme", "vip program", "tier"),
        ("rate limit", "too many requests", "429"),
        ("proof of reserves", "por", "reserves audit", "merkle tree"),
        ("address", "wallet address", "deposit address"),
        ("pending", "stuck", "not arrived", "not received", "delayed"),
        ("confirmations", "block confirmations"),
        ("whitelist", "allowlist", "address book"),
        ("sms", "text message", "phone verification"),
        ("email", "e-mail", "mail"),
        ("delete account", "close account", "deactivate account"),
        ("airdrop", "token distribution"),
        ("staking", "earn", "savings"),
        ("spot", "spot trading", "buy and sell"),
        ("limit order", "limit price"),
        ("market order", "instant buy"),
        ("seed phrase", "recovery phrase", "mnemonic"),
        ("login", "log in", "sign in", "signin"),
        ("sign up", "register", "registration", "create account"),
    ),
    "es": (
        ("retirar", "retiro", "sacar", "enviar fondos"),
        ("depositar", "ingresar", "recargar"),
        ("verificación de identidad", "kyc", "verificar identidad"),
        ("contraseña", "clave", "password"),
        ("etiqueta", "memo", "tag"),
        ("comisión", "tarifa", "fee"),
        ("liquidado", "liquidación"),
        ("autenticador", "2fa", "doble factor"),
    ),
    "pt": (
        ("sacar", "saque", "retirada", "levantamento"),
        ("depositar", "depósito"),
        ("senha", "palavra-passe"),
        ("autenticador", "2fa", "dois fatores"),
    ),
    "de": (
        ("auszahlung", "abheben", "auszahlen", "withdrawal"),
        ("einzahlung", "einzahlen", "aufladen"),
        ("passwort", "kennwort"),
        ("zwei-faktor-authentifizierung", "2fa", "authenticator"),
        ("gebühr", "gebühren", "kosten"),
        ("identitätsprüfung", "kyc", "verifizierung"),
    ),
    "fr": (
        ("retrait", "retirer", "envoyer des fonds"),
        ("dépôt", "déposer", "recharger"),
        ("mot de passe", "code secret"),
        ("authentification à deux facteurs", "2fa", "double authentification"),
        ("frais", "commission"),
    ),
    "it": (
        ("prelievo", "prelevare"),
        ("deposito", "depositare", "ricarica"),
        ("autenticazione a due fattori", "2fa"),
    ),
    "ru": (
        ("вывод", "вывести", "снять", "снятие"),
        ("пополнение", "депозит", "пополнить", "ввод"),
        ("пароль", "код доступа"),
        ("двухфакторная аутентификация", "2fa", "аутентификатор", "гугл аутентификатор"),
        ("комиссия", "сбор"),
        ("верификация", "kyc", "подтверждение личности"),
        ("ликвидация", "ликвидировали", "принудительное закрытие"),
    ),
    "uk": (
        ("виведення", "вивести", "зняти"),
        ("поповнення", "депозит", "поповнити"),
        ("пароль", "код доступу"),
    ),
    "tr": (
        ("para çekme", "çekim", "çekmek"),
        ("para yatırma", "yatırma", "yatırmak"),
        ("şifre", "parola"),
        ("iki faktörlü doğrulama", "2fa", "authenticator"),
    ),
    "zh-Hans": (
        ("提现", "提币", "取款", "withdraw"),
        ("充值", "充币", "存款", "deposit"),
        ("谷歌验证", "谷歌验证器", "2fa", "双重验证"),
        ("标签", "备注", "memo", "tag"),
        ("身份认证", "实名认证", "kyc"),
        ("强平", "爆仓", "强制平仓"),
        ("手续费", "费用"),
    ),
    "zh-Hant": (
        ("提現", "提幣", "取款", "withdraw"),
        ("充值", "充幣", "存款", "deposit"),
        ("谷歌驗證", "2fa", "雙重驗證"),
        ("身份認證", "實名認證", "kyc"),
    ),
    "ja": (
        ("出金", "引き出し", "送金"),
        ("入金", "預け入れ"),
        ("二段階認証", "2fa", "認証アプリ"),
        ("本人確認", "kyc"),
        ("ロスカット", "強制決済", "清算"),
    ),
    "ko": (
        ("출금", "인출"),
        ("입금", "충전"),
        ("2단계 인증", "2fa", "otp"),
        ("본인인증", "kyc", "신원 인증"),
    ),
    "vi": (
        ("rút tiền", "rút", "withdraw"),
        ("nạp tiền", "nạp", "deposit"),
        ("mật khẩu", "password"),
    ),
    "id": (
        ("penarikan", "tarik", "withdraw"),
        ("setoran", "deposit", "isi saldo"),
        ("kata sandi", "password"),
    ),
    "ar": (
        ("سحب", "إرسال", "withdraw"),
        ("إيداع", "شحن", "deposit"),
        ("كلمة المرور", "كلمة السر"),
        ("التحقق بخطوتين", "2fa", "المصادقة الثنائية"),
    ),
    "fa": (
        ("برداشت", "انتقال", "withdraw"),
        ("واریز", "شارژ", "deposit"),
        ("رمز عبور", "گذرواژه"),
    ),
    "th": (
        ("ถอน", "ถอนเงิน", "withdraw"),
        ("ฝาก", "ฝากเงิน", "deposit"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class _AnalysedGroup:
    phrases: tuple[frozenset[str], ...]


@cache
def _groups(locale: str) -> tuple[_AnalysedGroup, ...]:
    analyzer = analyzer_for(locale)
    groups = (*SYNONYMS["*"], *SYNONYMS.get(locale, ()))
    analysed = []
    for group in groups:
        phrases = tuple(frozenset(analyzer.terms(phrase)) for phrase in group)
        analysed.append(_AnalysedGroup(tuple(phrase for phrase in phrases if phrase)))
    return tuple(analysed)


def expand(locale: str, terms: list[Term]) -> list[Term]:
    """``terms`` plus the terms of every synonym of a phrase the query contains, at
    ``SYNONYM_WEIGHT`` (a term the trader typed keeps its own weight)."""
    present = {term.text for term in terms}
    added: dict[str, Term] = {}
    for group in _groups(locale):
        if not any(phrase <= present for phrase in group.phrases):
            continue
        for phrase in group.phrases:
            for text in phrase - present:
                added.setdefault(text, Term(text, "", SYNONYM_WEIGHT / len(phrase)))
    return [*terms, *added.values()]
