"""A small help center, written as an exchange's would be, for the search tests."""

from __future__ import annotations

from hashdesk.helpcenter.actions import slugify
from hashdesk.helpcenter.search import SearchDocument

# (article id, locale, title, body, tags, internal)
ARTICLES: list[tuple[int, str, str, str, tuple[str, ...], bool]] = [
    (1, "en", "Set up two-factor authentication (2FA)",
     "Two-factor authentication protects your account with a second step at sign-in.\n\n"
     "## Steps\n\n1. Install an authenticator app such as **Google Authenticator**.\n"
     "2. Open **Security** and select *Enable 2FA*.\n3. Scan the QR code and enter the "
     "six-digit code.\n\nKeep the backup key somewhere safe and offline.",
     ("security", "2fa"), False),
    (2, "en", "Reset your authenticator after losing your phone",
     "If you lost or replaced your phone and can no longer open the authenticator app, you "
     "can request a reset. For your safety we ask for identity verification with a selfie "
     "before we remove the old authenticator. Withdrawals are paused for 24 hours after a "
     "reset.", ("security", "2fa", "recovery"), False),
    (3, "en", "Deposits that need a memo or destination tag",
     "Some networks (XRP, XLM, EOS, TON) send every deposit to one shared address and tell "
     "accounts apart by a memo or destination tag. If you forget the tag, your deposit does "
     "not reach your account automatically: submit a recovery request with the transaction "
     "hash.", ("deposit", "memo"), False),
    (4, "en", "Withdraw crypto to an external wallet",
     "Open **Assets**, choose the coin and select [Withdraw](/hc/en/articles/4). Paste the "
     "address, pick the same network as the receiving wallet and check the fee. Confirm with "
     "your 2FA code. Large withdrawals may need an email confirmation too.",
     ("withdrawal",), False),
    (5, "en", "Why is my withdrawal pending?",
     "A withdrawal stays pending while it waits for a risk review, while the network is "
     "congested, or when the wallet for that network is under maintenance. You can follow "
     "the status in your withdrawal history; most reviews finish within an hour.",
     ("withdrawal",), False),
    (6, "en", "Complete identity verification (KYC)",
     "Identity verification unlocks higher limits. Upload a government-issued ID document "
     "and take a selfie. Reviews usually take less than a day; we email you the result.",
     ("kyc", "verification"), False),
    (7, "en", "How liquidation works in futures",
     "When your margin balance falls below the maintenance margin, the position is "
     "liquidated at the liquidation price. Add margin or reduce leverage to move the "
     "liquidation price away from the mark price.", ("futures",), False),
    (8, "en", "Create and manage API keys",
     "API keys let your programs trade on your behalf. Give each key only the permissions "
     "it needs and restrict it to your server's IP addresses with the IP whitelist. Never "
     "enable withdrawal permission for a trading bot.", ("api",), False),
    (9, "en", "Recover a deposit sent on the wrong network",
     "If you sent coins over a network we do not support for that asset, the funds may "
     "still be recoverable. Open a request with the transaction hash, the network you used "
     "and the amount.", ("deposit",), False),
    (10, "en", "Handling 2FA reset escalations",
     "Internal procedure: verify the selfie against the KYC record, check recent login "
     "locations, then approve the reset in the admin tool. Never read codes to a caller.",
     ("2fa",), True),
    (4, "es", "Retirar criptomonedas a una billetera externa",
     "Abre **Activos**, elige la moneda y selecciona Retirar. Pega la dirección, elige la "
     "misma red que la billetera de destino y revisa la comisión. Confirma con tu código "
     "2FA.", ("retiro",), False),
    (1, "es", "Configurar la autenticación de dos factores (2FA)",
     "La autenticación de dos factores protege tu cuenta. Instala una aplicación de "
     "autenticación, abre Seguridad y escanea el código QR.", ("seguridad",), False),
    (4, "de", "Krypto auf eine externe Wallet auszahlen",
     "Öffne **Vermögen**, wähle die Münze und dann Auszahlen. Füge die Adresse ein, wähle "
     "dasselbe Netzwerk wie die Ziel-Wallet und prüfe die Gebühr.", ("auszahlung",), False),
    (4, "zh-Hans", "提现加密货币到外部钱包",
     "打开资产，选择币种并点击提现。粘贴地址，选择与接收钱包相同的网络，并确认手续费。",
     ("提现",), False),
    (3, "zh-Hans", "需要标签或备注的充值",
     "部分网络（XRP、XLM、EOS）使用共享地址，并通过备注或标签区分账户。忘记填写标签时，请提交找回申请。",
     ("充值",), False),
]  # fmt: skip


def documents() -> list[SearchDocument]:
    return [
        SearchDocument(article_id=article_id, locale=locale, title=title, slug=slugify(title),
                       body=body, tags=tags, internal=internal)
        for article_id, locale, title, body, tags, internal in ARTICLES
    ]  # fmt: skip
