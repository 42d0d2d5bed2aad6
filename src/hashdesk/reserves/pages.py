"""The proof-of-reserves page of the help center: ``/hc/{locale}/proof-of-reserves``, where a
trader drops their proof file and their own browser verifies it (``static/verify.js``)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from hashdesk.core.errors import NotFound
from hashdesk.core.i18n import LOCALES
from hashdesk.web.deps import MaybePrincipal
from hashdesk.web.pages import render_page

router = APIRouter(include_in_schema=False)
SCRIPT = Path(__file__).resolve().parent / "static" / "verify.js"
_ROOT = re.compile(r"(0x)?[0-9a-fA-F]{64}")


def published_root(request: Request) -> str:
    """The root to compare with: ``?root=`` (a link from the exchange's announcement), else the
    ``reserves_root`` setting when the deployment has one."""
    candidate = request.query_params.get("root") or getattr(
        request.app.state.runtime.settings, "reserves_root", ""
    )
    return candidate if isinstance(candidate, str) and _ROOT.fullmatch(candidate) else ""


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
