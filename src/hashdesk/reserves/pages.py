"""The proof-of-reserves pages.

- ``/hc/{locale}/proof-of-reserves`` (public): a trader drops their proof file and their own
  browser verifies it (``static/verify.js``).
- ``/console/reserves`` (staff who answer traders): an agent finds a trader's proof in the
  latest build (``settings.reserves_dir``) and walks them through it: the leaf, each step of
  the path, the root against the published one, the verifier's steps, and a message to send
  with the links to the public page and the how-to article. Every lookup is audited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from hashdesk.core.auth import Permission, Principal
from hashdesk.core.errors import NotFound, PermissionDenied
from hashdesk.core.i18n import LOCALES, N_, gettext_for
from hashdesk.reserves import actions
from hashdesk.reserves.errors import NoPublishedBuild, ProofNotFound
from hashdesk.reserves.queries import TraderProof, access_trader_proof, get_latest_build
from hashdesk.web.deps import DbSession, MaybePrincipal, RuntimeDep
from hashdesk.web.pages import page_locale, redirect, render_page

router = APIRouter(include_in_schema=False)
SCRIPT = Path(__file__).resolve().parent / "static" / "verify.js"
_ROOT = re.compile(r"(0x)?[0-9a-fA-F]{64}")
CONSOLE = "/console/reserves"
HOW_TO_ARTICLE = 28  # the help-center article "How to verify proof of reserves"


def published_root(request: Request) -> str:
    """The root to compare with: ``?root=`` (a link from the exchange's announcement), else the
    root of the latest build in ``settings.reserves_dir`` when the deployment has one."""
    candidate = request.query_params.get("root", "")
    if _ROOT.fullmatch(candidate):
        return candidate
    try:
        return get_latest_build(request.app.state.runtime.settings.reserves_dir).root_hash
    except NoPublishedBuild:
        return ""


@router.get("/hc/{locale}/proof-of-reserves", response_class=HTMLResponse)
def verify_page(request: Request, locale: str, principal: MaybePrincipal) -> HTMLResponse:
    if locale not in LOCALES:
        raise NotFound("No such page.")
    request.state.locale, request.state.locale_explicit = locale, True
    context = {"locale": locale, "published_root": published_root(request)}
    return render_page(request, "reserves/verify.html", context, principal=principal)


@router.get("/reserves/verify.js")
def verify_script() -> FileResponse:
    return FileResponse(
        SCRIPT, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"}
    )


# --- the agents' page --------------------------------------------------------------------------

GREETING = N_("Hello {name},")
GREETING_NO_NAME = N_("Hello,")
MESSAGE = N_(
    "You can check for yourself that your balances are included in our proof of reserves "
    "(snapshot {snapshot}). Your own browser does the check; your file is not uploaded.\n\n"
    "1. Open {verify_url}\n"
    "2. Drop your proof file on the page (download it from your account, or use the file "
    "attached to this message).\n"
    "3. The page recomputes every step from your balances up to the root, which must be the "
    "root we published:\n{root}\n\n"
    "Your balances in this proof: {balances}\n\n"
    "How to verify, step by step: {article_url}"
)


def trader_message(found: TraderProof, locale: str, public_url: str) -> str:
    """What the agent sends the trader, in the trader's language when HashDesk knows it."""
    gettext = gettext_for(locale).gettext
    base = public_url.rstrip("/")
    name = found.trader.name if found.trader else ""
    greeting = gettext(GREETING).format(name=name) if name else gettext(GREETING_NO_NAME)
    balances = found.walk.balances if found.walk else found.proof.get("balances", {})
    body = gettext(MESSAGE).format(
        snapshot=found.build.snapshot_time or found.build.built_at,
        verify_url=f"{base}/hc/{locale}/proof-of-reserves?{urlencode({'root': found.published_root})}",
        root=found.published_root,
        balances=", ".join(f"{symbol} {amount}" for symbol, amount in balances.items()),
        article_url=f"{base}/hc/{locale}/articles/{HOW_TO_ARTICLE}",
    )
    return f"{greeting}\n\n{body}"


def _message_locale(found: TraderProof, page: str) -> str:
    language = found.trader.language if found.trader else ""
    return language if language in LOCALES else page


def _may_look_up(principal: Principal | None) -> bool:
    return principal is not None and principal.is_agent


def _login() -> Response:
    return redirect(f"/console/login?{urlencode({'next': CONSOLE})}")


def _lookup(
    session: DbSession,
    principal: Principal,
    runtime: RuntimeDep,
    account: str,
    root: str,
    gettext: Callable[[str], str],
) -> tuple[TraderProof | None, str]:
    """The proof, or the error to show; both audited (a failed lookup too: the agent asked for
    a trader's balances)."""
    try:
        found = access_trader_proof(
            session, principal, runtime.settings.reserves_dir, account, root
        )
    except (ProofNotFound, NoPublishedBuild) as error:
        from hashdesk.accounts.queries import get_trader_by_external_id

        trader = get_trader_by_external_id(session, account.strip()) if account.strip() else None
        actions.do_record_failed_lookup(session, principal, account.strip(), trader.id if trader else None, error.code)  # fmt: skip
        return None, error.render(gettext)
    actions.do_record_proof_view(session, principal, found)
    return found, ""


def _build_summary(runtime: RuntimeDep, gettext: Callable[[str], str]) -> tuple[Any, str]:
    try:
        return get_latest_build(runtime.settings.reserves_dir), ""
    except NoPublishedBuild as error:
        return None, error.render(gettext)


@router.get(CONSOLE, response_class=HTMLResponse)
def console_page(
    request: Request,
    principal: MaybePrincipal,
    session: DbSession,
    runtime: RuntimeDep,
    account: str = "",
    root: str = "",
) -> Response:
    if principal is None or not _may_look_up(principal):
        return _login()
    principal.require(Permission.REPLY)
    locale = page_locale(request, principal)
    gettext = gettext_for(locale).gettext
    found, error = (
        _lookup(session, principal, runtime, account, root, gettext) if account else (None, "")
    )
    build, build_error = (found.build, "") if found else _build_summary(runtime, gettext)
    context = {
        "account": account.strip(), "root": root.strip(), "found": found, "error": error,
        "build": build, "build_error": build_error, "CONSOLE": CONSOLE,
        "message": trader_message(found, _message_locale(found, locale), runtime.settings.public_url) if found else "",
        "message_locale": _message_locale(found, locale) if found else locale,
    }  # fmt: skip
    status = 404 if account and found is None else 200
    return render_page(request, "reserves/console.html", context, principal=principal,
                       status_code=status)  # fmt: skip


@router.get(CONSOLE + "/proof")
def proof_download(
    principal: MaybePrincipal, session: DbSession, runtime: RuntimeDep, account: str = ""
) -> Response:
    """The trader's proof file, for the agent to attach to the message (audited as a view)."""
    if principal is None or not _may_look_up(principal):
        raise PermissionDenied("This needs a staff sign-in.")
    found, error = _lookup(session, principal, runtime, account, "", gettext_for("en").gettext)
    if found is None:
        return Response(error, status_code=404, media_type="text/plain; charset=utf-8")
    name = f"proof-of-reserves-{found.build.root_hash[:12]}.json"
    return Response(
        json.dumps(found.proof, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
