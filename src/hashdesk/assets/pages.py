"""The agents' registry lookup page: ``/console/assets``.

A search box that answers as the agent types (``lookup.js`` fetches the results fragment
``/console/assets/results?q=`` on each pause in typing), and without JavaScript as an
ordinary GET form. Both render ``_results.html`` from the in-memory index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from hashdesk.assets.index import MAX_QUERY, RegistryIndex, explorer_url
from hashdesk.assets.live import live_registry
from hashdesk.core.i18n import N_
from hashdesk.web.deps import MaybePrincipal, RuntimeDep
from hashdesk.web.pages import redirect, render_page

router = APIRouter(include_in_schema=False)

BASE = "/console/assets"
STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"lookup.js": "text/javascript", "lookup.css": "text/css"}
PAGE_LIMIT = 20
MATCHED_BY = {"symbol": N_("symbol"), "name": N_("name"), "contract": N_("contract address"),
              "network": N_("network"), "address": N_("address format")}  # fmt: skip
STATUS_LABELS = {"active": N_("Active"), "maintenance": N_("Maintenance"),
                 "suspended": N_("Suspended")}  # fmt: skip
SearchText = Annotated[str, Query(max_length=MAX_QUERY)]


def _context(index: RegistryIndex, q: str) -> dict[str, Any]:
    results = index.lookup(q, PAGE_LIMIT) if q.strip() else None
    return {"results": results, "search_query": q.strip(), "registry_size": index.size,
            "network_count": len(index.networks), "MATCHED_BY": MATCHED_BY,
            "STATUS_LABELS": STATUS_LABELS, "explorer_url": explorer_url, "BASE": BASE}  # fmt: skip


@router.get(BASE, response_class=HTMLResponse)
def lookup_page(request: Request, principal: MaybePrincipal, runtime: RuntimeDep,
                q: SearchText = "") -> Response:  # fmt: skip
    if principal is None or not principal.is_agent:
        return redirect(f"/console/login?{urlencode({'next': BASE})}")
    index = live_registry(runtime).index()
    return render_page(request, "assets/lookup.html", _context(index, q), principal=principal)


@router.get(f"{BASE}/results", response_class=HTMLResponse)
def results_fragment(request: Request, principal: MaybePrincipal, runtime: RuntimeDep,
                     q: SearchText = "") -> Response:  # fmt: skip
    if principal is None or not principal.is_agent:
        return HTMLResponse("", status_code=403)
    index = live_registry(runtime).index()
    return render_page(request, "assets/_results.html", _context(index, q), principal=principal)


@router.get(f"{BASE}/static/{{name}}")
def static_file(name: str) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return Response((STATIC / name).read_bytes(), media_type=ASSETS[name],
                    headers={"Cache-Control": "public, max-age=3600"})  # fmt: skip
