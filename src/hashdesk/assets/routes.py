"""Registry API under /api/v1/assets. Staff read (any role); writes need MANAGE_ASSETS and
are audited. Traders and guests get a 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathPart

from hashdesk.assets import actions, queries
from hashdesk.assets.index import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY
from hashdesk.assets.live import live_registry
from hashdesk.assets.schemas import (
    SLUG_PATTERN,
    SYMBOL_PATTERN,
    AssetFields,
    AssetList,
    AssetNetworkFields,
    AssetNetworkPublic,
    AssetPublic,
    LookupResults,
    NetworkFields,
    NetworkPublic,
    NetworkStatusChange,
)
from hashdesk.core.pagination import MAX_PAGE_SIZE, decode_cursor
from hashdesk.web.deps import CurrentAgent, DbSession, RuntimeDep

router = APIRouter(prefix="/api/v1/assets", tags=["assets"])

Slug = Annotated[str, PathPart(max_length=40, pattern=SLUG_PATTERN)]
Symbol = Annotated[str, PathPart(max_length=20, pattern=SYMBOL_PATTERN)]


@router.get("/lookup", response_model=LookupResults)
def lookup(
    agent: CurrentAgent, runtime: RuntimeDep,
    q: Annotated[str, Query(max_length=MAX_QUERY, description="symbol, name, contract, network or address")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:  # fmt: skip
    """Assets and networks matching ``q``, best first: by symbol, name, contract address
    (any case on EVM networks), network (``usdt trc20`` narrows to one), or an address
    (the networks whose address format it fits). Served from memory."""
    results = live_registry(runtime).index().lookup(q, limit)
    # Already a validated model: serialised directly, not validated a second time on the way
    # out (that doubled the time of a lookup whose hits carry many networks).
    return Response(results.model_dump_json(), media_type="application/json")


@router.get("/networks", response_model=list[NetworkPublic])
def networks(session: DbSession, agent: CurrentAgent) -> list[NetworkPublic]:
    queries.require_staff(agent)
    return [queries.network_public(network) for network in queries.list_networks(session)]


@router.get("/networks/{slug}", response_model=NetworkPublic)
def network(slug: Slug, session: DbSession, agent: CurrentAgent) -> NetworkPublic:
    return queries.network_public(queries.access_network(session, agent, slug))


@router.put("/networks/{slug}", response_model=NetworkPublic)
def put_network(
    slug: Slug, data: NetworkFields, session: DbSession, agent: CurrentAgent
) -> NetworkPublic:
    """Create the network or replace its fields (admins)."""
    return queries.network_public(actions.check_put_network(session, agent, slug, data))


@router.put("/networks/{slug}/status", response_model=NetworkPublic)
def put_network_status(
    slug: Slug, data: NetworkStatusChange, session: DbSession, agent: CurrentAgent
) -> NetworkPublic:
    return queries.network_public(actions.check_set_network_status(session, agent, slug, data))


@router.get("", response_model=AssetList)
def assets(
    session: DbSession, agent: CurrentAgent,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> AssetList:  # fmt: skip
    """Every asset with its networks, in pages (``next_cursor``)."""
    queries.require_staff(agent)
    page = queries.list_assets(session, decode_cursor(cursor), limit)
    return AssetList(items=[queries.asset_public(a) for a in page.items],
                     next_cursor=page.next_cursor)  # fmt: skip


@router.get("/{symbol}", response_model=AssetPublic)
def asset(symbol: Symbol, session: DbSession, agent: CurrentAgent) -> AssetPublic:
    return queries.asset_public(queries.access_asset(session, agent, symbol))


@router.put("/{symbol}", response_model=AssetPublic)
def put_asset(
    symbol: Symbol, data: AssetFields, session: DbSession, agent: CurrentAgent
) -> AssetPublic:
    """Create the asset or change its name or demo flag (admins)."""
    return queries.asset_public(actions.check_put_asset(session, agent, symbol, data))


@router.delete("/{symbol}", status_code=204)
def delete_asset(symbol: Symbol, session: DbSession, agent: CurrentAgent) -> None:
    actions.check_remove_asset(session, agent, symbol)


@router.put("/{symbol}/networks/{slug}", response_model=AssetNetworkPublic)
def put_asset_network(
    symbol: Symbol, slug: Slug, data: AssetNetworkFields, session: DbSession, agent: CurrentAgent
) -> AssetNetworkPublic:
    """Add the asset to a network or change its parameters there (admins)."""
    row = actions.check_put_asset_network(session, agent, symbol, slug, data)
    return queries.asset_network_public(row)


@router.delete("/{symbol}/networks/{slug}", status_code=204)
def delete_asset_network(
    symbol: Symbol, slug: Slug, session: DbSession, agent: CurrentAgent
) -> None:
    actions.check_remove_asset_network(session, agent, symbol, slug)
