"""The deposit tracer: "my deposit has not arrived", answered from a transaction hash.

Given a hash (and, when known, the network, the asset and the trader), the tracer asks the
nodes of the candidate networks for the transaction, then checks what it found against the
registry and the exchange's records, one piece of evidence per question a technician would
ask:

    found        where the transaction is (or that no configured network knows it)
    reorg        whether a block that held it was replaced (the deposit was dropped)
    recipient    whether it paid one of this trader's deposit addresses (on this network)
    token        whether the token contract is the one the registry lists on this network
    memo         whether the memo/tag the address needs is there and right
    minimum      whether the amount reaches the minimum deposit
    deposits     whether deposits of the asset on the network are open
    confirmations  how many blocks are on top, against the number required to credit
    credited     whether the exchange's deposit records show it credited

The first problem, in the order of ``VERDICT_ORDER``, becomes the verdict; the verdict
decides the plain-language explanation and the next step (wait about N blocks, about M
minutes; open a recovery ticket with these fields; nothing to do). Every message is an
English msgid translated into the asker's language.

Clients are kept per endpoint (an httpx client costs milliseconds to build, a verdict must
take less than 100 ms), and an endpoint's chain is verified at most once a minute.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from hashdesk.accounts.models import AccountTransfer, DepositAddress, Trader, TransferKind
from hashdesk.accounts.queries import (
    find_deposit_addresses,
    find_transfers_by_tx,
    get_trader_by_external_id,
)
from hashdesk.assets.formats import TX_HASH_FORMATS, Problem, check_tx_hash
from hashdesk.assets.index import explorer_url
from hashdesk.assets.models import AssetNetwork, Network, NetworkStatus
from hashdesk.assets.queries import (
    find_listing,
    find_listing_elsewhere,
    get_network,
    networks_by_slug,
)
from hashdesk.chains.actions import do_remember_sighting
from hashdesk.chains.queries import find_sightings
from hashdesk.chains.rpc import (
    ChainClient,
    ChainTransaction,
    RpcError,
    Transfer,
    TxState,
    client_for,
    supported_families,
)
from hashdesk.core.auth import decode_exchange_token
from hashdesk.core.clock import utcnow
from hashdesk.core.errors import DomainError, InvalidInput
from hashdesk.core.i18n import N_, gettext_for, match_locale

if TYPE_CHECKING:
    from hashdesk.runtime import Runtime

TRACE_TIMEOUT_SECONDS = 4.0
VERIFY_EVERY_SECONDS = 60.0
MAX_CLIENTS = 256
MAX_PARALLEL = 8
PORTAL_NEW_REQUEST = "/portal/new"  # tickets' request form, filled in from its query string


class Verdict(enum.StrEnum):
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"  # no node of any candidate network could be asked
    FAILED = "failed"  # mined but reverted: nothing moved
    DROPPED = "dropped"  # a reorg took it out of the chain
    NO_TRANSFER = "no_transfer"  # the transaction moves no coin or token
    WRONG_NETWORK = "wrong_network"
    WRONG_ADDRESS = "wrong_address"
    WRONG_TOKEN = "wrong_token"  # noqa: S105 - a verdict, not a password
    MEMO_MISSING = "memo_missing"
    MEMO_WRONG = "memo_wrong"
    BELOW_MINIMUM = "below_minimum"
    PENDING = "pending"  # waiting in the mempool
    CONFIRMING = "confirming"
    DEPOSITS_SUSPENDED = "deposits_suspended"
    NOT_CREDITED = "not_credited"  # everything holds on chain, yet the records lack it
    CREDITED = "credited"


# When several problems hold, the first one here is the verdict: the reason the deposit
# cannot be credited as it is comes before the ones that only make it wait.
VERDICT_ORDER = (
    Verdict.DROPPED, Verdict.FAILED, Verdict.NO_TRANSFER, Verdict.WRONG_NETWORK,
    Verdict.WRONG_ADDRESS, Verdict.WRONG_TOKEN, Verdict.MEMO_MISSING, Verdict.MEMO_WRONG,
    Verdict.BELOW_MINIMUM, Verdict.PENDING, Verdict.CONFIRMING, Verdict.DEPOSITS_SUSPENDED,
    Verdict.NOT_CREDITED,
)  # fmt: skip


class Outcome(enum.StrEnum):
    OK = "ok"
    PROBLEM = "problem"
    WAITING = "waiting"
    UNKNOWN = "unknown"


class NextAction(enum.StrEnum):
    WAIT = "wait"
    RECOVERY_TICKET = "recovery_ticket"
    NOTHING = "nothing"
    CHECK_HASH = "check_hash"
    TRY_LATER = "try_later"


EXPLANATIONS: dict[Verdict, str] = {
    Verdict.NOT_FOUND: N_("We could not find transaction {tx_hash} on {searched}."),
    Verdict.UNAVAILABLE: N_("We could not reach the nodes of {searched} to look for transaction {tx_hash}."),
    Verdict.FAILED: N_("The transaction was included in block {block} on {network}, but it failed: nothing was transferred, only the network fee was spent."),
    Verdict.DROPPED: N_("The transaction was in block {block} on {network}, but a chain reorganisation replaced that block and the transaction is no longer on the chain."),
    Verdict.NO_TRANSFER: N_("The transaction on {network} does not transfer any coin or token."),
    Verdict.WRONG_NETWORK: N_("The transaction on {network} paid an address that is your deposit address on {expected_network}, not on {network}."),
    Verdict.WRONG_ADDRESS: N_("The transaction on {network} paid {recipient}, which is not your deposit address."),
    Verdict.WRONG_TOKEN: N_("The transaction on {network} sent {sent}, which is not the asset this deposit address accepts ({expected})."),
    Verdict.MEMO_MISSING: N_("The deposit on {network} arrived without the {memo_name} your deposit address needs, so we cannot tell whose it is."),
    Verdict.MEMO_WRONG: N_("The deposit on {network} carries the {memo_name} {memo}, not the one of your deposit address."),
    Verdict.BELOW_MINIMUM: N_("You sent {amount} {asset}, below the minimum deposit of {minimum} {asset} on {network}."),
    Verdict.PENDING: N_("The transaction is waiting in the mempool of {network}: it is not in a block yet."),
    Verdict.CONFIRMING: N_("Your deposit of {amount} {asset} on {network} has {confirmations} of the {required} confirmations needed."),
    Verdict.DEPOSITS_SUSPENDED: N_("Deposits of {asset} on {network} are suspended for now ({reason}); your deposit of {amount} {asset} is safe on the chain."),
    Verdict.NOT_CREDITED: N_("Your deposit of {amount} {asset} on {network} has all {required} confirmations, but it is not credited in our records yet."),
    Verdict.CREDITED: N_("Your deposit of {amount} {asset} on {network} was credited to your account."),
}  # fmt: skip

NEXT_STEPS: dict[NextAction, str] = {
    NextAction.WAIT: N_("Please wait about {blocks} more blocks (about {minutes} minutes); it will be credited then without you doing anything."),
    NextAction.RECOVERY_TICKET: N_("Open a deposit recovery request: we have filled in the details for you."),
    NextAction.NOTHING: N_("There is nothing more to do."),
    NextAction.CHECK_HASH: N_("Check that you copied the whole hash from the wallet you sent from, and the network; a transaction sent a moment ago can take a minute to appear."),
    NextAction.TRY_LATER: N_("Please try again in a few minutes."),
}  # fmt: skip

# Verdicts whose next step is fixed; the others depend on the evidence (``_next_action``).
FIXED_NEXT = {
    Verdict.NOT_FOUND: NextAction.CHECK_HASH, Verdict.UNAVAILABLE: NextAction.TRY_LATER,
    Verdict.FAILED: NextAction.NOTHING, Verdict.DROPPED: NextAction.NOTHING,
    Verdict.NO_TRANSFER: NextAction.NOTHING, Verdict.WRONG_NETWORK: NextAction.RECOVERY_TICKET,
    Verdict.WRONG_TOKEN: NextAction.RECOVERY_TICKET, Verdict.MEMO_MISSING: NextAction.RECOVERY_TICKET,
    Verdict.MEMO_WRONG: NextAction.RECOVERY_TICKET, Verdict.BELOW_MINIMUM: NextAction.RECOVERY_TICKET,
    Verdict.PENDING: NextAction.WAIT, Verdict.CONFIRMING: NextAction.WAIT,
    Verdict.NOT_CREDITED: NextAction.RECOVERY_TICKET, Verdict.CREDITED: NextAction.NOTHING,
}  # fmt: skip


# --- the answer -------------------------------------------------------------------------------


class Evidence(BaseModel):
    check: str
    outcome: Outcome
    message: str
    data: dict[str, Any] = {}


class TicketDraft(BaseModel):
    """A deposit recovery request, filled in (``tickets`` category ``deposit``); ``url`` opens
    the portal's request form with all of it typed in, for the trader to read and send."""

    category: str = "deposit"
    subject: str
    description: str
    fields: dict[str, str]
    url: str


class NextStep(BaseModel):
    action: NextAction
    message: str
    blocks: int | None = None
    minutes: int | None = None
    ticket: TicketDraft | None = None


class NodeProblem(BaseModel):
    network: str
    code: str
    message: str


class TraceResult(BaseModel):
    tx_hash: str
    verdict: Verdict
    network: str | None = None
    asset: str | None = None
    amount: str | None = None
    recipient: str | None = None
    confirmations: int | None = None
    required_confirmations: int | None = None
    explorer_url: str | None = None
    searched: list[str]
    evidence: list[Evidence]
    explanation: str
    next_step: NextStep
    node_problems: list[NodeProblem] = []
    locale: str


@dataclass(frozen=True)
class TraceRequest:
    tx_hash: str
    network: str | None = None
    asset: str | None = None
    trader_id: int | None = None
    locale: str | None = None
    # network slug -> endpoint for this call only (``--rpc NAME=URL``)
    rpc: dict[str, str] = field(default_factory=dict)


# --- clients and chain checks, kept per process ---------------------------------------------------

_lock = threading.Lock()
_clients: OrderedDict[tuple[str, str, str, int | None, float], ChainClient] = OrderedDict()
_verified: dict[tuple[str, str, str, int | None, float], float] = {}
_pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL, thread_name_prefix="tracer")


def _client(network: Network, endpoint: str, timeout: float) -> ChainClient:
    """A verified client for ``endpoint``; raises ``RpcError`` (wrong chain included)."""
    key = (network.slug, network.family, endpoint, network.chain_id, timeout)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = client_for(network.family, endpoint, network=network.slug,
                                chain_id=network.chain_id, timeout=timeout)  # fmt: skip
            _clients[key] = client
            if len(_clients) > MAX_CLIENTS:
                old_key, old = _clients.popitem(last=False)
                _verified.pop(old_key, None)
                old.close()
        verified_at = _verified.get(key)
    if verified_at is None or time.monotonic() - verified_at > VERIFY_EVERY_SECONDS:
        client.verify_chain()
        with _lock:
            _verified[key] = time.monotonic()
    return client


def reset() -> None:
    """Closes every kept client (tests; a process whose nodes were all replaced)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
        _verified.clear()


# --- looking for the transaction ------------------------------------------------------------------


@dataclass
class Probe:
    """What one network's node said about the transaction."""

    network: Network
    transaction: ChainTransaction | None = None
    head_height: int | None = None
    # A block the transaction was in (records or an earlier trace) now holds another hash.
    replaced: tuple[int, str, str | None] | None = None
    error: RpcError | None = None


def _endpoints(network: Network, overrides: dict[str, str]) -> list[str]:
    if network.slug in overrides:
        return [overrides[network.slug]]
    return [str(url) for url in network.rpc_endpoints]


def _probe(network: Network, endpoints: list[str], tx_hash: str,
           seen_at: list[tuple[int, str]], timeout: float) -> Probe:  # fmt: skip
    """Asks the network's endpoints in turn until one answers."""
    probe = Probe(network)
    for endpoint in endpoints:
        try:
            client = _client(network, endpoint, timeout)
            probe.transaction = client.transaction(tx_hash)
            probe.head_height = client.head_height()
            if probe.transaction is None or probe.transaction.state is TxState.PENDING:
                probe.replaced = _replaced_block(client, seen_at)
            probe.error = None
            return probe
        except RpcError as error:
            probe.error = error
    return probe


def _replaced_block(
    client: ChainClient, seen_at: list[tuple[int, str]]
) -> tuple[int, str, str | None] | None:
    for height, old_hash in seen_at:
        now = client.block_hash(height)
        if now is None or now.lower() != old_hash.lower():
            return height, old_hash, now
    return None


# --- the tracer ---------------------------------------------------------------------------------


@dataclass
class Found:
    """The transfer being judged and what the registry and the records say about it."""

    network: Network
    transaction: ChainTransaction
    head_height: int
    transfer: Transfer | None = None
    deposit_address: DepositAddress | None = None
    listing: AssetNetwork | None = None
    asset_symbol: str | None = None
    amount: Decimal | None = None
    problems: set[Verdict] = field(default_factory=set)


class Tracer:
    def __init__(self, session: Session, timeout: float = TRACE_TIMEOUT_SECONDS) -> None:
        self.session = session
        self.timeout = timeout
        self._sightings: dict[str, tuple[int, str]] = {}

    # -- entry point --

    def trace(self, request: TraceRequest) -> TraceResult:
        tx_hash = request.tx_hash.strip()
        trader = self._trader(request.trader_id)
        locale = match_locale(request.locale) or (trader.language if trader else None) or "en"
        candidates = self._candidates(tx_hash, request.network, request.rpc)
        tx_hash = _normal_hash(tx_hash, candidates)
        records = [r for r in find_transfers_by_tx(self.session, tx_hash)
                   if r.kind == TransferKind.DEPOSIT.value]  # fmt: skip
        self._sightings = find_sightings(self.session, tx_hash)
        probes = self._probe_all(candidates, tx_hash, records, request.rpc)
        report = Report(tx_hash, locale, [n.slug for n in candidates], probes)
        found = next((p for p in probes if p.transaction is not None), None)
        if found is not None and found.transaction is not None and found.head_height is not None:
            return self._judge(report, found, trader, request.asset, records)
        return self._not_found(report, records)

    def _trader(self, trader_id: int | None) -> Trader | None:
        if trader_id is None:
            return None
        trader = self.session.get(Trader, trader_id)
        if trader is None:
            raise InvalidInput("No trader {trader_id}.", field="trader", trader_id=trader_id)
        return trader

    def _candidates(self, tx_hash: str, slug: str | None, rpc: dict[str, str]) -> list[Network]:
        """The networks to ask: the one named, or every network with an RPC endpoint whose
        hashes look like this one. A malformed hash or unknown network is refused here."""
        networks = networks_by_slug(self.session)
        for name in rpc:
            if name not in networks:
                raise InvalidInput("Unknown network {network} in --rpc.", field="rpc", network=name)
        if slug is not None:
            network = networks.get(slug.strip().lower())
            if network is None:
                raise InvalidInput("Unknown network {network}.", field="network", network=slug)
            problem = _hash_problem(network, tx_hash)
            if problem is not None:
                raise InvalidInput(problem.message, field="tx_hash", **problem.params)
            return [network]
        accepted = [n for n in networks.values() if _hash_problem(n, tx_hash) is None]
        problem = None if accepted else check_tx_hash(None, tx_hash)
        if problem is not None:
            raise InvalidInput(problem.message, field="tx_hash", **problem.params)
        families = supported_families()
        return [n for n in accepted if n.family in families and _endpoints(n, rpc)]

    def _probe_all(self, candidates: list[Network], tx_hash: str, records: list[AccountTransfer],
                   rpc: dict[str, str]) -> list[Probe]:  # fmt: skip
        def seen_at(network: Network) -> list[tuple[int, str]]:
            marks = [(r.block_height, r.block_hash) for r in records
                     if r.network == network.slug and r.block_height is not None and r.block_hash]  # fmt: skip
            # The block an earlier trace (on any node of HashDesk) found it in: a transaction
            # that vanished from that height after a reorg is "dropped", not "never existed".
            sighting = self._sightings.get(network.slug)
            found = [(int(h), str(b)) for h, b in marks if h is not None and b is not None]
            return found + ([sighting] if sighting else [])

        jobs = [(n, _endpoints(n, rpc), seen_at(n)) for n in candidates]
        if len(jobs) == 1:
            network, endpoints, marks = jobs[0]
            return [_probe(network, endpoints, tx_hash, marks, self.timeout)]
        futures = [_pool.submit(_probe, n, e, tx_hash, m, self.timeout) for n, e, m in jobs]
        return [future.result() for future in futures]

    # -- not found --

    def _not_found(self, report: Report, records: list[AccountTransfer]) -> TraceResult:
        dropped = next((p for p in report.probes if p.replaced is not None), None)
        if dropped is not None and dropped.replaced is not None:
            height, old_hash, new_hash = dropped.replaced
            report.add("reorg", Outcome.PROBLEM,
                       N_("Block {height} on {network} was {old_hash}; it is now {new_hash}."),
                       height=height, network=dropped.network.name, old_hash=old_hash,
                       new_hash=new_hash or "-")  # fmt: skip
            report.network = dropped.network
            return report.finish(Verdict.DROPPED, block=height, network=dropped.network.name)
        answered = [p for p in report.probes if p.error is None]
        searched = ", ".join(p.network.name for p in report.probes) or "-"
        if not answered:
            if report.probes:
                report.add("found", Outcome.UNKNOWN, N_("No node of {searched} answered."),
                           searched=searched)  # fmt: skip
            else:
                report.add("found", Outcome.UNKNOWN,
                           N_("No network with an RPC endpoint takes a hash like this one."))  # fmt: skip
            self._add_records(report, records)
            return report.finish(Verdict.UNAVAILABLE, searched=searched)
        report.add("found", Outcome.PROBLEM, N_("Not found on {searched}."),
                   searched=", ".join(p.network.name for p in answered) or "-")  # fmt: skip
        self._add_records(report, records)
        return report.finish(Verdict.NOT_FOUND, searched=searched)

    def _add_records(self, report: Report, records: list[AccountTransfer]) -> None:
        if records:
            report.add("credited", Outcome.UNKNOWN,
                       N_("Our records list this transaction as a deposit of {amount} {asset} on {network}."),
                       amount=_plain(records[0].amount), asset=records[0].asset,
                       network=records[0].network)  # fmt: skip

    # -- found --

    def _judge(self, report: Report, probe: Probe, trader: Trader | None, asset: str | None,
               records: list[AccountTransfer]) -> TraceResult:  # fmt: skip
        assert probe.transaction is not None and probe.head_height is not None
        found = Found(probe.network, probe.transaction, probe.head_height)
        report.network = found.network
        tx = found.transaction
        seen = (tx.block_height, tx.block_hash)
        if (
            tx.block_height is not None
            and tx.block_hash is not None
            and (self._sightings.get(found.network.slug) != seen)
        ):
            do_remember_sighting(self.session, found.network.slug, report.tx_hash,
                                 tx.block_height, tx.block_hash, utcnow())  # fmt: skip
        self._check_found(report, found, probe)
        if tx.state is TxState.FAILED:
            return report.finish(Verdict.FAILED, block=tx.block_height, network=found.network.name)
        self._choose_transfer(found, trader, asset)
        if found.transfer is None:
            report.add("recipient", Outcome.PROBLEM, N_("The transaction moves no coin or token."))
            return report.finish(Verdict.NO_TRANSFER, network=found.network.name)
        self._check_recipient(report, found, trader)
        self._check_token(report, found, asset)
        self._check_memo(report, found)
        self._check_minimum(report, found)
        self._check_deposits_open(report, found)
        self._check_confirmations(report, found)
        self._check_records(report, found, records)
        return self._decide(report, found)

    def _check_found(self, report: Report, found: Found, probe: Probe) -> None:
        tx = found.transaction
        if tx.state is TxState.PENDING:
            report.add("found", Outcome.WAITING, N_("Found on {network}, waiting in the mempool."),
                       network=found.network.name)  # fmt: skip
            if probe.replaced is not None or tx.orphaned_block_hash:
                height = probe.replaced[0] if probe.replaced else None
                report.add("reorg", Outcome.WAITING,
                           N_("A reorganisation took it out of block {height}; it waits to be included again."),
                           height=height if height is not None else "?")  # fmt: skip
            return
        report.add("found", Outcome.OK, N_("Found on {network} in block {block}."),
                   network=found.network.name, block=tx.block_height)  # fmt: skip
        if tx.state is TxState.FAILED:
            report.add("found", Outcome.PROBLEM, N_("The transaction failed (reverted)."))

    def _choose_transfer(self, found: Found, trader: Trader | None, asset: str | None) -> None:
        """The transfer to judge: one paying an exchange deposit address (this trader's,
        on this network, first), else the one of the asset asked about, else the first."""
        transfers = list(found.transaction.transfers)
        if not transfers:
            return
        ranked: list[tuple[int, int, Transfer, DepositAddress | None]] = []
        for position, transfer in enumerate(transfers):
            for row in find_deposit_addresses(self.session, transfer.recipient):
                mine = trader is None or row.trader_id == trader.id
                here = row.network == found.network.slug
                ranked.append((0 if mine and here else 1 if mine else 2, position, transfer, row))
        if ranked:
            _, _, found.transfer, found.deposit_address = min(ranked, key=lambda r: (r[0], r[1]))
            return
        wanted = self._listing_symbol_matches(found, transfers, asset)
        found.transfer = wanted or transfers[0]

    def _listing_symbol_matches(self, found: Found, transfers: list[Transfer],
                                asset: str | None) -> Transfer | None:  # fmt: skip
        if asset is None:
            return None
        for transfer in transfers:
            listing = find_listing(self.session, found.network, transfer.contract)
            if listing is not None and listing.asset.symbol.lower() == asset.lower():
                return transfer
        return None

    def _check_recipient(self, report: Report, found: Found, trader: Trader | None) -> None:
        transfer, row = found.transfer, found.deposit_address
        assert transfer is not None
        # The recipient on the network's explorer, for the agent to check by eye.
        link = explorer_url(found.network.explorer_address_url, "address", transfer.recipient)
        params = {"recipient": transfer.recipient, "network": found.network.name,
                  "explorer_url": link}  # fmt: skip
        if row is None:
            report.add("recipient", Outcome.PROBLEM,
                       N_("The recipient {recipient} is not a deposit address of this exchange."),
                       **params)  # fmt: skip
            found.problems.add(Verdict.WRONG_ADDRESS)
        elif trader is not None and row.trader_id != trader.id:
            report.paid_other_trader = True
            report.add("recipient", Outcome.PROBLEM,
                       N_("The recipient {recipient} is a deposit address of this exchange, but not one of yours."),
                       **params)  # fmt: skip
            found.problems.add(Verdict.WRONG_ADDRESS)
        elif row.network != found.network.slug:
            expected = get_network(self.session, row.network)
            report.expected_network = expected.name if expected else row.network
            report.add("recipient", Outcome.PROBLEM,
                       N_("The recipient {recipient} is a deposit address on {expected_network}, but the transaction was sent on {network}."),
                       expected_network=report.expected_network, **params)  # fmt: skip
            found.problems.add(Verdict.WRONG_NETWORK)
        else:
            report.add("recipient", Outcome.OK,
                       N_("The recipient {recipient} is a deposit address on {network}."),
                       trader_id=row.trader_id, **params)  # fmt: skip

    def _check_token(self, report: Report, found: Found, asset: str | None) -> None:
        transfer = found.transfer
        assert transfer is not None
        listing = find_listing(self.session, found.network, transfer.contract)
        sent = transfer.contract or found.network.native_asset
        if listing is None:
            self._unlisted_token(report, found, sent)
            return
        found.listing, found.asset_symbol = listing, listing.asset.symbol
        found.amount = _units(transfer.amount, listing.decimals)
        expected = (found.deposit_address.asset if found.deposit_address else None) or asset
        if expected is not None and expected.lower() != listing.asset.symbol.lower():
            report.expected_asset = expected
            report.add("token", Outcome.PROBLEM,
                       N_("It sent {asset}, but {expected} was expected."),
                       asset=listing.asset.symbol, expected=expected)  # fmt: skip
            found.problems.add(Verdict.WRONG_TOKEN)
            return
        if transfer.contract is None:
            report.add("token", Outcome.OK, N_("It sent {asset}, the native coin of {network}."),
                       asset=listing.asset.symbol, network=found.network.name)  # fmt: skip
        else:
            report.add("token", Outcome.OK,
                       N_("The token contract {contract} is {asset} on {network}, as in our registry."),
                       contract=transfer.contract, asset=listing.asset.symbol,
                       network=found.network.name)  # fmt: skip

    def _unlisted_token(self, report: Report, found: Found, sent: str) -> None:
        transfer = found.transfer
        assert transfer is not None
        elsewhere = (
            find_listing_elsewhere(self.session, found.network, transfer.contract)
            if transfer.contract
            else None
        )
        if elsewhere is not None:
            found.asset_symbol = elsewhere.asset.symbol
            report.expected_network = elsewhere.network.name
            report.add("token", Outcome.PROBLEM,
                       N_("The token contract {contract} is {asset} on {expected_network}, not on {network}."),
                       contract=sent, asset=elsewhere.asset.symbol,
                       expected_network=elsewhere.network.name, network=found.network.name)  # fmt: skip
            found.problems.add(Verdict.WRONG_NETWORK)
            return
        report.expected_asset = found.deposit_address.asset if found.deposit_address else None
        report.add("token", Outcome.PROBLEM,
                   N_("The token contract {contract} is not an asset we accept on {network}."),
                   contract=sent, network=found.network.name)  # fmt: skip
        found.problems.add(Verdict.WRONG_TOKEN)

    def _check_memo(self, report: Report, found: Found) -> None:
        transfer, network = found.transfer, found.network
        assert transfer is not None
        required = network.memo_required
        if found.listing is not None and found.listing.memo_required is not None:
            required = found.listing.memo_required
        expected = found.deposit_address.memo if found.deposit_address else ""
        if not required and not expected:
            return
        name = network.memo_name or "memo"
        report.memo_name = name
        if not transfer.memo:
            report.add("memo", Outcome.PROBLEM, N_("The {memo_name} is missing."), memo_name=name)
            found.problems.add(Verdict.MEMO_MISSING)
        elif expected and transfer.memo != expected:
            report.memo = transfer.memo
            report.add("memo", Outcome.PROBLEM,
                       N_("The {memo_name} is {memo}; the deposit address needs {expected}."),
                       memo_name=name, memo=transfer.memo, expected=expected)  # fmt: skip
            found.problems.add(Verdict.MEMO_WRONG)
        else:
            report.add("memo", Outcome.OK, N_("The {memo_name} {memo} is right."),
                       memo_name=name, memo=transfer.memo)  # fmt: skip

    def _check_minimum(self, report: Report, found: Found) -> None:
        if found.listing is None or found.amount is None:
            return
        minimum = found.listing.min_deposit
        params = {"amount": _plain(found.amount), "minimum": _plain(minimum),
                  "asset": found.asset_symbol}  # fmt: skip
        if found.amount < minimum:
            report.add("minimum", Outcome.PROBLEM,
                       N_("{amount} {asset} is below the minimum deposit of {minimum} {asset}."),
                       **params)  # fmt: skip
            found.problems.add(Verdict.BELOW_MINIMUM)
        else:
            report.add("minimum", Outcome.OK,
                       N_("{amount} {asset} reaches the minimum deposit of {minimum} {asset}."),
                       **params)  # fmt: skip

    def _check_deposits_open(self, report: Report, found: Found) -> None:
        network, listing = found.network, found.listing
        reason: str | None = None
        if network.status != NetworkStatus.ACTIVE.value:
            reason = network.status_reason or network.status
        elif listing is not None and not listing.deposit_enabled:
            reason = listing.deposit_disabled_reason or "-"
        if reason is None:
            return
        report.reason = reason
        report.add("deposits", Outcome.WAITING,
                   N_("Deposits of {asset} on {network} are suspended: {reason}."),
                   asset=found.asset_symbol or network.native_asset, network=network.name,
                   reason=reason)  # fmt: skip
        found.problems.add(Verdict.DEPOSITS_SUSPENDED)

    def _check_confirmations(self, report: Report, found: Found) -> None:
        tx, network = found.transaction, found.network
        required = network.confirmations_credit
        confirmations = tx.confirmations(found.head_height)
        report.confirmations, report.required = confirmations, required
        if tx.state is TxState.PENDING:
            found.problems.add(Verdict.PENDING)
            report.remaining = required
            return
        if confirmations < required:
            report.remaining = required - confirmations
            report.add("confirmations", Outcome.WAITING,
                       N_("{confirmations} of {required} confirmations."),
                       confirmations=confirmations, required=required)  # fmt: skip
            found.problems.add(Verdict.CONFIRMING)
        else:
            report.add("confirmations", Outcome.OK,
                       N_("{confirmations} confirmations; {required} are needed."),
                       confirmations=confirmations, required=required)  # fmt: skip

    def _check_records(self, report: Report, found: Found, records: list[AccountTransfer]) -> None:
        here = [r for r in records if r.network == found.network.slug]
        credited = next((r for r in here if r.status == "completed"), None)
        if credited is not None:
            report.credited = True
            report.add("credited", Outcome.OK,
                       N_("Our records show {amount} {asset} credited on {date}."),
                       amount=_plain(credited.amount), asset=credited.asset,
                       date=credited.occurred_at.strftime("%Y-%m-%d %H:%M UTC"))  # fmt: skip
        elif here:
            report.add("credited", Outcome.WAITING,
                       N_("Our records show this deposit as {status}, not credited yet."),
                       status=here[0].status)  # fmt: skip
            found.problems.add(Verdict.NOT_CREDITED)
        else:
            report.add("credited", Outcome.WAITING,
                       N_("This transaction is not in our deposit records yet."))  # fmt: skip
            found.problems.add(Verdict.NOT_CREDITED)

    def _decide(self, report: Report, found: Found) -> TraceResult:
        transfer = found.transfer
        assert transfer is not None
        report.asset = found.asset_symbol
        report.amount = found.amount
        report.recipient = transfer.recipient
        report.memo = report.memo or transfer.memo
        problems = found.problems
        if report.credited:
            # Credited is the last word, unless the chain since took the deposit away.
            problems = problems & {Verdict.DROPPED}
        verdict = next((v for v in VERDICT_ORDER if v in problems), Verdict.CREDITED)
        return report.finish(verdict, network=found.network.name)


# --- writing the answer ---------------------------------------------------------------------------


@dataclass
class Report:
    tx_hash: str
    locale: str
    searched: list[str]
    probes: list[Probe]
    evidence: list[Evidence] = field(default_factory=list)
    network: Network | None = None
    expected_network: str | None = None
    expected_asset: str | None = None
    asset: str | None = None
    amount: Decimal | None = None
    recipient: str | None = None
    memo: str | None = None
    memo_name: str | None = None
    reason: str | None = None
    confirmations: int | None = None
    required: int | None = None
    remaining: int | None = None
    credited: bool = False
    # The recipient is a deposit address of this exchange, but another trader's.
    paid_other_trader: bool = False

    def translate(self, message: str, **params: Any) -> str:
        """``message`` in the report's language; a translation with a broken placeholder
        falls back to the English, and a value nobody supplied shows as ``?``."""
        values = _Params(params)
        try:
            return gettext_for(self.locale).gettext(message).format_map(values)
        except (IndexError, ValueError):
            return message.format_map(values)

    def add(self, check: str, outcome: Outcome, message: str, **params: Any) -> None:
        data = {k: v for k, v in params.items() if v is not None}
        self.evidence.append(Evidence(check=check, outcome=outcome,
                                      message=self.translate(message, **params), data=data))  # fmt: skip

    def finish(self, verdict: Verdict, **params: Any) -> TraceResult:
        network = self.network
        values = {
            "tx_hash": self.tx_hash, "searched": ", ".join(self.searched) or "-",
            "amount": _plain(self.amount) if self.amount is not None else "?",
            "asset": self.asset or "?", "recipient": self.recipient or "?",
            "expected_network": self.expected_network or "?",
            "expected": self.expected_asset or "?", "sent": self.asset or "?",
            "memo": self.memo or "", "memo_name": self.memo_name or "memo",
            "minimum": self._minimum(), "confirmations": self.confirmations,
            "required": self.required, "reason": self.reason or "-", **params,
        }  # fmt: skip
        explanation = self.translate(EXPLANATIONS[verdict], **values)
        return TraceResult(
            tx_hash=self.tx_hash, verdict=verdict,
            network=network.slug if network else None, asset=self.asset,
            amount=_plain(self.amount) if self.amount is not None else None,
            recipient=self.recipient, confirmations=self.confirmations,
            required_confirmations=self.required, explorer_url=self._explorer(),
            searched=self.searched, evidence=self.evidence,
            explanation=explanation, next_step=self._next_step(verdict, explanation),
            node_problems=self._node_problems(),
            locale=self.locale,
        )  # fmt: skip

    def _minimum(self) -> str:
        for item in self.evidence:
            if item.check == "minimum":
                return str(item.data.get("minimum", "?"))
        return "?"

    def _explorer(self) -> str | None:
        template = self.network.explorer_tx_url if self.network else None
        return (
            explorer_url(template, "tx", self.tx_hash) if template and "{tx}" in template else None
        )

    def _node_problems(self) -> list[NodeProblem]:
        return [NodeProblem(network=p.network.slug, code=p.error.code, message=str(p.error))
                for p in self.probes if p.error is not None]  # fmt: skip

    def _next_step(self, verdict: Verdict, explanation: str) -> NextStep:
        action = FIXED_NEXT.get(verdict)
        if verdict is Verdict.WRONG_ADDRESS:
            # An address of this exchange (another trader's) can be fixed by staff; an
            # address outside it cannot be reached by anyone here.
            action = NextAction.RECOVERY_TICKET if self.paid_other_trader else NextAction.NOTHING
        if verdict is Verdict.DEPOSITS_SUSPENDED:
            action = NextAction.NOTHING
        assert action is not None
        if action is NextAction.WAIT:
            return self._wait()
        step = NextStep(action=action, message=self.translate(NEXT_STEPS[action]))
        if action is NextAction.RECOVERY_TICKET:
            step.ticket = self._ticket_draft(verdict, explanation)
        if verdict is Verdict.DEPOSITS_SUSPENDED:
            step.message = self.translate(
                N_(
                    "It will be credited automatically once deposits reopen; there is nothing more to do."
                )
            )
        return step

    def _wait(self) -> NextStep:
        blocks = max(1, self.remaining or 1)
        block_time = self.network.block_time_seconds if self.network else 60.0
        minutes = max(1, math.ceil(blocks * block_time / 60))
        return NextStep(action=NextAction.WAIT, blocks=blocks, minutes=minutes,
                        message=self.translate(NEXT_STEPS[NextAction.WAIT], blocks=blocks,
                                               minutes=minutes))  # fmt: skip

    def _ticket_draft(self, verdict: Verdict, explanation: str) -> TicketDraft:
        network = self.network.slug if self.network else ""
        fields = {"network": network, "asset": self.asset or "", "tx_hash": self.tx_hash,
                  "address": self.recipient or "", "memo": self.memo or ""}  # fmt: skip
        subject = self.translate(N_("Deposit recovery: {asset} on {network} ({problem})"),
                                 asset=self.asset or "?", network=network,
                                 problem=verdict.value.replace("_", " "))  # fmt: skip
        filled = {name: value for name, value in fields.items() if value}
        query = {"category": "deposit", "subject": subject, "description": explanation,
                 **{f"fields.{name}": value for name, value in filled.items()}}  # fmt: skip
        return TicketDraft(subject=subject, description=explanation, fields=filled,
                           url=f"{PORTAL_NEW_REQUEST}?{urlencode(query)}")  # fmt: skip


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


# --- helpers ------------------------------------------------------------------------------------


def _hash_problem(network: Network, tx_hash: str) -> Problem | None:
    check = TX_HASH_FORMATS.get(network.tx_hash_format)
    return check(tx_hash) if check else check_tx_hash(network.slug, tx_hash)


def _normal_hash(tx_hash: str, candidates: list[Network]) -> str:
    """EVM hashes are hex: one spelling (lowercase) for the records and the sightings."""
    if candidates and all(n.family == "evm" for n in candidates):
        return tx_hash.lower()
    return tx_hash


def _units(amount: int, decimals: int) -> Decimal:
    return Decimal(amount).scaleb(-decimals)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


# --- the trader's context for the assistant's flow ------------------------------------------------


@dataclass(frozen=True)
class TraceScope:
    runtime: Runtime
    trader_id: int | None = None
    # An exchange-signed bearer token (API callers): resolved to a trader only when a trace
    # needs it, so requests that never trace pay nothing for it.
    bearer_token: str | None = None
    locale: str | None = None

    def trader(self, session: Session) -> int | None:
        if self.trader_id is not None or self.bearer_token is None:
            return self.trader_id
        settings = self.runtime.settings
        try:
            claims = decode_exchange_token(self.bearer_token, settings.exchange_jwt_key,
                                           settings.exchange_jwt_issuer)  # fmt: skip
        except DomainError:
            return None
        trader = get_trader_by_external_id(session, str(claims["sub"]))
        return trader.id if trader is not None else None


_scope: ContextVar[TraceScope | None] = ContextVar("hashdesk_trace_scope", default=None)


@contextmanager
def trace_scope(runtime: Runtime, trader_id: int | None = None, locale: str | None = None,
                bearer_token: str | None = None) -> Iterator[None]:  # fmt: skip
    token = _scope.set(TraceScope(runtime, trader_id, bearer_token, locale))
    try:
        yield
    finally:
        _scope.reset(token)


class TraceScopeMiddleware:
    """Makes the request's runtime, signed-in trader (session cookie or bearer token) and
    locale known to the assistant's deposit check, whose interface (answers in, branch out)
    has no room for them. Installed inside the session and locale middlewares."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope.get("app")
        runtime = getattr(getattr(app, "state", None), "runtime", None)
        if scope["type"] != "http" or runtime is None:
            await self.app(scope, receive, send)
            return
        who = dict((scope.get("session") or {}).get("who") or {})
        trader_id = who.get("id") if who.get("kind") == "trader" else None
        authorization = Headers(scope=scope).get("authorization", "")
        bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        locale = scope.get("state", {}).get("locale")
        with trace_scope(runtime, trader_id if isinstance(trader_id, int) else None, locale,
                         bearer or None):  # fmt: skip
            await self.app(scope, receive, send)


FLOW_BRANCHES = {Verdict.CREDITED: "credited", Verdict.NOT_FOUND: "not_found",
                 Verdict.UNAVAILABLE: "untraced"}  # fmt: skip


def trace_for_flow(answers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The assistant's ``deposit_trace`` check: the flow's branch and what the outcome may
    quote (``trace_explanation``, ``trace_next_step``, and the recovery request's subject and
    fields as ``trace_subject``, ``trace_network``, ...), all in the trader's language.

    Branches: ``credited``; ``not_found``; ``recovery`` when the next step is a recovery
    request; ``explained`` when the explanation and next step say it all (wait N blocks,
    nothing to do); ``untraced`` when nothing could be asked (no runtime in scope, no node
    reachable, input the tracer refuses): the flow then asks how long ago it was sent."""
    scope = _scope.get()
    tx_hash = answers.get("tx_hash", "").strip()
    if scope is None or not tx_hash:
        return "untraced", {}
    try:
        with scope.runtime.database.transaction() as session:
            request = TraceRequest(tx_hash=tx_hash, network=answers.get("network") or None,
                                   asset=answers.get("asset") or None,
                                   trader_id=scope.trader(session), locale=scope.locale)  # fmt: skip
            result = Tracer(session).trace(request)
    except InvalidInput:
        return "untraced", {}
    found = {"trace_explanation": result.explanation, "trace_next_step": result.next_step.message}
    ticket = result.next_step.ticket
    if ticket is not None:
        found["trace_subject"] = ticket.subject
        found |= {f"trace_{name}": value for name, value in ticket.fields.items()}
        return "recovery", found
    return FLOW_BRANCHES.get(result.verdict, "explained"), found
