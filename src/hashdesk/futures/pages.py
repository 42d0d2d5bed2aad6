"""The futures pages: the traders' liquidation calculator (``/futures/calculator``, public),
their margin alerts (``/portal/futures``), and the agents' position and price checks
(``/console/futures``, staff of any role) with the positions at risk (staff who answer
traders: ``queries.RISK_PERMISSION``), which refresh when the event stream announces a margin
call or a positions push.

Both are plain forms that work without JavaScript. The arithmetic and the reading of files are
the library's (``check_liquidation``, ``explain_files``, ``check_fill_files``,
``check_liquidation_files``): a route here parses the form, calls one of them and renders the
answer, or turns the error into a message next to the input at fault.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from hashdesk.core.auth import Principal, PrincipalKind
from hashdesk.core.errors import DomainError, InvalidInput, PermissionDenied
from hashdesk.core.i18n import N_, gettext_for
from hashdesk.futures.actions import EXHAUSTED, LEVEL_LABELS
from hashdesk.futures.actions import SIDE_LABELS as POSITION_SIDE_LABELS
from hashdesk.futures.calculator import check_liquidation
from hashdesk.futures.explainer import Chart, Explanation, explain_files
from hashdesk.futures.margin import Contract, MarginMode, Position, Side, plain
from hashdesk.futures.prices import (
    CheckSettings,
    FillCheck,
    LiquidationCheck,
    check_fill_files,
    check_liquidation_files,
)
from hashdesk.futures.queries import (
    RISK_PERMISSION,
    access_positions_at_risk,
    list_positions_at_risk,
    list_trader_alerts,
    list_trader_positions,
)
from hashdesk.futures.records import Sentence, format_time, render_sentences, shown
from hashdesk.futures.schedules import tier_tables
from hashdesk.futures.schemas import LiquidationQuote, LiquidationRequest
from hashdesk.futures.tiers import Tier, TierTable, load_tier_tables
from hashdesk.web.deps import (
    CsrfChecked,
    CurrentPrincipal,
    DbSession,
    MaybePrincipal,
    get_runtime,
    read_form,
)
from hashdesk.web.forms import Posted
from hashdesk.web.pages import page_locale, redirect, render_page

router = APIRouter(include_in_schema=False)

CALCULATOR = "/futures/calculator"
CONSOLE = "/console/futures"
RISK_FRAGMENT = CONSOLE + "/risk"
PORTAL = "/portal/futures"
PORTAL_FRAGMENT = "/portal/fragments/futures"
RISK_ROWS = 50
REQUEST_FIELDS = tuple(LiquidationRequest.model_fields)
MAX_MARKET_FILES = 4  # the form parser takes at most six files: fill + log + four venues
MAX_SKEW_MS = 60_000

# What a refused value gets, by pydantic's error type: short, translatable, no jargon.
_PROBLEMS = {
    "missing": N_("Enter a value."),
    "enum": N_("Choose one of the options."),
    "greater_than": N_("Enter a number above {gt}."),
    "greater_than_equal": N_("Enter a number of at least {ge}."),
    "less_than": N_("Enter a number below {lt}."),
    "value_error": N_("Enter a number, such as 20000 or 0.005."),
}
_INVALID = N_("This value is not valid.")

VENUE_LABELS = {"": N_("Default (the exact formula, as Binance)"), "binance": "Binance",
                "bybit": "Bybit", "coinex": N_("CoinEx (linear only)")}  # fmt: skip
CONTRACT_LABELS = {"linear": N_("USDT-margined (linear)"),
                   "inverse": N_("Coin-margined (inverse)")}  # fmt: skip
SIDE_LABELS = {"long": N_("Long"), "short": N_("Short")}
MODE_LABELS = {"isolated": N_("Isolated"), "cross": N_("Cross (nothing else in the account)")}
VERDICT_LABELS = {
    "consistent": N_("Consistent with the market"),
    "slippage": N_("Explained by slippage"),
    "fast_market": N_("Explained by a fast market"),
    "anomaly": N_("Anomaly: escalate to engineering"),
    "not_found": N_("Not found in the server log"),
    "ambiguous": N_("Several trades in the log match"),
    "no_market_data": N_("No market data for that moment"),
    "confirmed": N_("Confirmed: the mark price was there"),
    "not_reached": N_("Not reached: escalate to engineering"),
    "no_mark_data": N_("No mark price for that moment"),
}
VERDICT_TONE = {"consistent": "success", "confirmed": "success", "slippage": "info",
                "fast_market": "info", "anomaly": "error", "not_reached": "error"}  # fmt: skip
EVENT_LABELS = {"add_margin": N_("Margin added"), "remove_margin": N_("Margin removed"),
                "funding": N_("Funding"), "fee": N_("Fee"),
                "liquidation": N_("Liquidation")}  # fmt: skip

LONG_SUMMARY = N_(
    "This long is liquidated if the mark price falls to {liquidation}, {percent} below the "
    "entry price; its margin would be gone at {bankruptcy}."
)
SHORT_SUMMARY = N_(
    "This short is liquidated if the mark price rises to {liquidation}, {percent} above the "
    "entry price; its margin would be gone at {bankruptcy}."
)
PAST_SUMMARY = N_(
    "The margin does not cover the maintenance margin: the liquidation price {liquidation} is "
    "beyond the entry price, so the position would be liquidated at once."
)
UNREACHABLE_SUMMARY = N_(
    "No positive price liquidates this position: its margin covers any move of the mark price."
)


def fig(value: Decimal | None, digits: int = 10) -> str:
    """A figure as shown on a page (the exact value goes in ``data-exact``)."""
    return "—" if value is None else shown(value, digits)


def exact(value: Decimal | None) -> str:
    return "" if value is None else plain(value)


# --- the calculator --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def demo_tables() -> Mapping[str, TierTable]:
    return load_tier_tables()


@dataclass(frozen=True)
class TierPick:
    """The tier the helper looked up: which table, which tier, at what notional."""

    symbol: str
    number: int
    tier: Tier
    notional: Decimal


@dataclass
class CalculatorForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    quote: LiquidationQuote | None = None
    request: LiquidationRequest | None = None
    pick: TierPick | None = None


def _problem(item: Mapping[str, Any], gettext: Callable[[str], str]) -> str:
    template = _PROBLEMS.get(str(item["type"]), _INVALID)
    context = {key: str(value) for key, value in (item.get("ctx") or {}).items()}
    return Sentence(template, context).render(gettext)


def validation_errors(error: ValidationError, gettext: Callable[[str], str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in error.errors(include_url=False):
        key = str(item["loc"][0]) if item["loc"] else "form"
        found.setdefault(key, _problem(item, gettext))
    return found


def _filled(values: Mapping[str, str]) -> dict[str, str]:
    return {name: values[name].strip() for name in REQUEST_FIELDS if values.get(name, "").strip()}


def _tier_request(values: dict[str, str], symbol: str) -> tuple[LiquidationRequest, TierPick]:
    """The request with the maintenance terms of the demo table's tier at the entry notional
    (what the venue would apply to a position just opened); ``values`` shows them."""
    table = demo_tables().get(symbol)
    if table is None:
        raise _field_error("tier_symbol", N_("Choose one of the options."))
    payload = _filled(values) | {"maintenance_margin_rate": "0", "maintenance_amount": "0"}
    if table.contract is Contract.INVERSE and "contract_size" not in payload:
        payload["contract_size"] = plain(table.contract_size)
    request = LiquidationRequest.model_validate(payload)
    if request.contract is not table.contract:
        raise _field_error("tier_symbol", N_("This tier table is for the other kind of contract."))
    size = request.contract_size if table.contract is Contract.INVERSE else None
    position = Position(request.contract, request.side, request.entry_price, request.quantity,
                        size or Decimal(1))  # fmt: skip
    notional = position.entry_notional
    if request.leverage is not None:
        table.check_leverage(notional, request.leverage)
    tier = table.tier_for(notional)
    terms = {"maintenance_margin_rate": tier.maintenance_margin_rate,
             "maintenance_amount": tier.maintenance_amount}  # fmt: skip
    values.update({name: plain(value) for name, value in terms.items()})
    if size is not None:
        values["contract_size"] = plain(size)
    pick = TierPick(symbol, table.tiers.index(tier) + 1, tier, notional)
    return request.model_copy(update=terms), pick


def _field_error(name: str, message: str) -> InvalidInput:
    return InvalidInput(message, field=name)


def run_calculator(values: dict[str, str], gettext: Callable[[str], str]) -> CalculatorForm:
    form = CalculatorForm(values)
    symbol = values.get("tier_symbol", "").strip()
    try:
        if symbol:
            form.request, form.pick = _tier_request(values, symbol)
        else:
            form.request = LiquidationRequest.model_validate(_filled(values))
        form.quote = check_liquidation(form.request)
    except ValidationError as error:
        form.errors = validation_errors(error, gettext)
    except DomainError as error:
        key = error.field if error.field in (*REQUEST_FIELDS, "tier_symbol") else "form"
        form.errors = {key or "form": error.render(gettext)}
    return form


def summary(request: LiquidationRequest, quote: LiquidationQuote) -> Sentence:
    """One plain-language line about the four figures."""
    liquidation, entry = quote.liquidation_price, request.entry_price
    if liquidation is None:
        return Sentence(UNREACHABLE_SUMMARY, {})
    moves_away = (entry - liquidation) * request.side.sign > 0
    if not moves_away:
        return Sentence(PAST_SUMMARY, {"liquidation": fig(liquidation)})
    percent = abs(liquidation - entry) / entry * 100
    params = {"liquidation": fig(liquidation), "percent": fig(percent, 3) + "%",
              "bankruptcy": fig(quote.bankruptcy_price)}  # fmt: skip
    return Sentence(LONG_SUMMARY if request.side is Side.LONG else SHORT_SUMMARY, params)


def _calculator_context(form: CalculatorForm, gettext: Callable[[str], str]) -> dict[str, Any]:
    line = summary(form.request, form.quote) if form.request and form.quote else None
    return {
        "values": form.values, "errors": form.errors, "quote": form.quote, "pick": form.pick,
        "request_model": form.request, "summary": line.render(gettext) if line else "",
        "tables": demo_tables(), "fig": fig, "exact": exact, "CONTRACT_LABELS": CONTRACT_LABELS,
        "SIDE_LABELS": SIDE_LABELS, "MODE_LABELS": MODE_LABELS, "VENUE_LABELS": VENUE_LABELS,
    }  # fmt: skip


DEFAULT_VALUES = {"contract": Contract.LINEAR.value, "side": Side.LONG.value,
                  "mode": MarginMode.ISOLATED.value, "maintenance_amount": "0"}  # fmt: skip


@router.get(CALCULATOR, response_class=HTMLResponse)
def calculator_page(request: Request, principal: MaybePrincipal) -> Response:
    gettext = gettext_for(page_locale(request, principal)).gettext
    context = _calculator_context(CalculatorForm(dict(DEFAULT_VALUES)), gettext)
    return render_page(request, "futures/calculator.html", context, principal=principal)


@router.post(CALCULATOR, response_class=HTMLResponse, dependencies=[CsrfChecked])
def calculator_answer(request: Request, principal: MaybePrincipal, form: Posted) -> Response:
    gettext = gettext_for(page_locale(request, principal)).gettext
    values = {name: value for name, value in form.values.items() if name != "csrf_token"}
    answer = run_calculator(values, gettext)
    status = 422 if answer.errors else 200
    return render_page(request, "futures/calculator.html", _calculator_context(answer, gettext),
                       principal=principal, status_code=status)  # fmt: skip


# --- the agents' page: uploads ---------------------------------------------------------------


@dataclass(frozen=True)
class FileUpload:
    field: str
    filename: str
    content: bytes


@dataclass(frozen=True)
class PostedFiles:
    values: dict[str, str]
    files: list[FileUpload]
    limit: int

    def named(self, name: str) -> list[FileUpload]:
        return [upload for upload in self.files if upload.field == name]


async def posted_files(request: Request) -> PostedFiles:
    """The form's text values and its files, each read up to one byte past the size limit
    (enough to refuse it by name without holding more)."""
    form = await read_form(request)
    limit = get_runtime(request).settings.max_upload_bytes
    values: dict[str, str] = {}
    files: list[FileUpload] = []
    for name, value in form.multi_items():
        if isinstance(value, str):
            values[name] = value
        elif isinstance(value, UploadFile) and value.filename:
            files.append(FileUpload(name, value.filename, await value.read(limit + 1)))
    return PostedFiles(values, files, limit)


Files = Annotated[PostedFiles, Depends(posted_files)]


class UploadProblem(Exception):
    """An upload refused before the library reads it; ``field`` is the form input."""

    def __init__(self, field: str, message: str, **params: str) -> None:
        super().__init__(message)
        self.field, self.message, self.params = field, message, params


def _safe_name(filename: str, fallback: str) -> str:
    """The file's own name (the library's errors quote it), without any folder or oddity."""
    base = re.sub(r"[^\w .-]", "_", filename.replace("\\", "/").rsplit("/", 1)[-1])
    base = base.lstrip(".")[:100]
    return base or fallback


class Workspace:
    """The uploads of one request, saved under their own names in a folder of their own."""

    def __init__(self, folder: Path, posted: PostedFiles) -> None:
        self.folder, self.posted = folder, posted
        self.inputs_by_name: dict[str, str] = {}

    def save(self, upload: FileUpload, fallback: str) -> Path:
        if len(upload.content) > self.posted.limit:
            raise UploadProblem(upload.field, N_("{file} is larger than {size} MB."),
                                file=upload.filename,
                                size=str(self.posted.limit // 1048576 or 1))  # fmt: skip
        target = self.folder / str(len(self.inputs_by_name)) / _safe_name(upload.filename, fallback)
        target.parent.mkdir()
        target.write_bytes(upload.content)
        self.inputs_by_name.setdefault(target.name, upload.field)
        return target

    def one(self, name: str, fallback: str, required: bool = True) -> Path | None:
        uploads = self.posted.named(name)
        if not uploads:
            if required:
                raise UploadProblem(name, N_("Choose a file."))
            return None
        return self.save(uploads[0], fallback)

    def required(self, name: str, fallback: str) -> Path:
        path = self.one(name, fallback)
        assert path is not None
        return path

    def several(self, name: str, fallback: str) -> list[Path]:
        uploads = self.posted.named(name)
        if not uploads:
            raise UploadProblem(name, N_("Choose at least one file."))
        if len(uploads) > MAX_MARKET_FILES:
            raise UploadProblem(name, N_("At most {count} files."), count=str(MAX_MARKET_FILES))
        return [self.save(upload, fallback) for upload in uploads]

    def input_for(self, error: DomainError, default: str) -> str:
        """The form input whose file the library's error names."""
        named = error.params.get("file")
        if isinstance(named, str) and named in self.inputs_by_name:
            return self.inputs_by_name[named]
        where = (error.field or "").split(":", 1)[0]
        return where if where in self.inputs_by_name.values() else default


def _skew(values: Mapping[str, str]) -> CheckSettings:
    text = values.get("skew_ms", "").strip()
    if not text:
        return CheckSettings()
    if not text.isdigit() or int(text) > MAX_SKEW_MS:
        raise UploadProblem("skew_ms", N_("Enter whole milliseconds from 0 to {maximum}."),
                            maximum=str(MAX_SKEW_MS))  # fmt: skip
    return CheckSettings(skew_ms=int(text))


# --- the agents' page: the three tools -------------------------------------------------------


def _explain(work: Workspace) -> Explanation:
    position = work.required("position", "position.json")
    marks = work.required("marks", "marks.csv")
    changes = work.one("changes", "changes.csv", required=False)
    return explain_files(position, marks, changes)


def _fill(work: Workspace) -> FillCheck:
    settings = _skew(work.posted.values)
    fill, log = work.required("fill", "fill.json"), work.required("log", "trades.csv")
    return check_fill_files(fill, log, work.several("markets", "market.csv"), settings)


def _liquidation(work: Workspace) -> LiquidationCheck:
    settings = _skew(work.posted.values)
    spec = work.required("liquidation", "liquidation.json")
    return check_liquidation_files(spec, work.required("liq_marks", "marks.csv"), (), settings)


TOOLS: dict[str, tuple[Callable[[Workspace], Any], str]] = {
    "explain": (_explain, "position"),
    "fill": (_fill, "fill"),
    "liquidation": (_liquidation, "liquidation"),
}


def run_tool(
    tool: str, posted: PostedFiles, gettext: Callable[[str], str]
) -> tuple[Any, dict[str, str]]:
    """The tool's result, or the errors keyed by the form input at fault."""
    run, first_input = TOOLS[tool]
    with tempfile.TemporaryDirectory(prefix="hashdesk-futures-") as folder:
        work = Workspace(Path(folder), posted)
        try:
            return run(work), {}
        except UploadProblem as problem:
            return None, {problem.field: Sentence(problem.message, problem.params).render(gettext)}
        except DomainError as error:
            return None, {work.input_for(error, first_input): error.render(gettext)}


# --- the agents' page: the chart ---------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    kind: str
    label: str


@dataclass(frozen=True)
class ChartDrawing:
    """An inline SVG's geometry, in the units of its ``viewBox``."""

    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom
    mark_path: str
    line_paths: tuple[str, ...]
    markers: tuple[Marker, ...]
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]


WIDTH, HEIGHT = 720, 320
PLOT = (80.0, 16.0, 704.0, 280.0)


class _Scale:
    def __init__(self, chart: Chart) -> None:
        times = [p.time_ms for p in chart.points] + [e.time_ms for e in chart.events]
        prices = [p.mark_price for p in chart.points]
        prices += [p.liquidation_price for p in chart.points if p.liquidation_price is not None]
        prices += [e.price for e in chart.events if e.price is not None]
        self.t0, self.t1 = min(times), max(max(times), min(times) + 1)
        low, high = min(prices), max(prices)
        pad = (high - low) * 0.08 or abs(high) * 0.01 or 1.0
        self.p0, self.p1 = low - pad, high + pad

    def x(self, time_ms: int) -> float:
        left, _, right, _ = PLOT
        return round(left + (time_ms - self.t0) / (self.t1 - self.t0) * (right - left), 2)

    def y(self, price: float) -> float:
        _, top, _, bottom = PLOT
        return round(bottom - (price - self.p0) / (self.p1 - self.p0) * (bottom - top), 2)


def _steps(points: Sequence[tuple[float, float]]) -> str:
    """A step line: a price holds until the next one is published."""
    drawn: list[str] = []
    for index, (x, y) in enumerate(points):
        if index:
            drawn.append(f"{x},{points[index - 1][1]}")
        drawn.append(f"{x},{y}")
    return " ".join(drawn)


def _line_segments(chart: Chart, scale: _Scale) -> tuple[str, ...]:
    """The liquidation line, broken where no price reaches it."""
    segments: list[list[tuple[float, float]]] = [[]]
    for point in chart.points:
        if point.liquidation_price is None:
            segments.append([])
        else:
            segments[-1].append((scale.x(point.time_ms), scale.y(point.liquidation_price)))
    return tuple(_steps(segment) for segment in segments if segment)


def draw_chart(chart: Chart, gettext: Callable[[str], str]) -> ChartDrawing | None:
    if not chart.points:
        return None
    scale = _Scale(chart)
    marks = [(scale.x(p.time_ms), scale.y(p.mark_price)) for p in chart.points]
    markers = tuple(
        Marker(scale.x(e.time_ms), scale.y(e.price) if e.price is not None else PLOT[3], e.kind,
               f"{gettext(EVENT_LABELS.get(e.kind, e.kind))} · {format_time(e.time_ms)}"
               + (f" · {fig(Decimal(repr(e.amount)), 8)}" if e.amount is not None else ""))
        for e in chart.events
    )  # fmt: skip
    levels = [scale.p0 + (scale.p1 - scale.p0) * i / 4 for i in range(5)]
    y_ticks = tuple((scale.y(v), fig(Decimal(repr(v)), 6)) for v in levels)
    x_ticks = tuple((scale.x(t), format_time(t)[11:19]) for t in (scale.t0, scale.t1))
    return ChartDrawing(WIDTH, HEIGHT, PLOT, _steps(marks), _line_segments(chart, scale),
                        markers, y_ticks, x_ticks)  # fmt: skip


# --- the agents' page: routes ----------------------------------------------------------------


def _is_staff(principal: Principal | None) -> bool:
    return principal is not None and principal.is_agent


def _login() -> Response:
    return redirect(f"/console/login?{urlencode({'next': CONSOLE})}")


def _risk_context(request: Request, session: Session, principal: Principal) -> dict[str, Any]:
    """The positions at risk, for staff whose role may see them (others: none, no query)."""
    allowed = principal.can(RISK_PERMISSION)
    settings = get_runtime(request).settings
    rows = (list_positions_at_risk(session, tier_tables(settings.futures_tier_file), RISK_ROWS)
            if allowed else [])  # fmt: skip
    return {"risk_allowed": allowed, "at_risk": rows, "LEVEL_LABELS": LEVEL_LABELS,
            "POSITION_SIDE_LABELS": POSITION_SIDE_LABELS, "fig": fig, "exact": exact,
            "format_time": format_time,
            "thresholds": (Decimal(repr(settings.margin_warning_ratio)),
                           Decimal(repr(settings.margin_critical_ratio)))}  # fmt: skip


def _console_context(request: Request, principal: Principal, tool: str = "",
                     result: Any = None, errors: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    locale = page_locale(request, principal)
    gettext = gettext_for(locale).gettext
    sentences = render_sentences(result.sentences, locale) if result is not None else []
    chart = draw_chart(result.chart, gettext) if isinstance(result, Explanation) else None
    return {
        "tool": tool, "result": result, "errors": errors or {}, "sentences": sentences,
        "chart": chart, "fig": fig, "exact": exact, "format_time": format_time,
        "VERDICT_LABELS": VERDICT_LABELS, "VERDICT_TONE": VERDICT_TONE,
        "EVENT_LABELS": EVENT_LABELS, "max_market_files": MAX_MARKET_FILES,
        "max_mb": get_runtime(request).settings.max_upload_bytes // 1048576,
    }  # fmt: skip


@router.get(CONSOLE, response_class=HTMLResponse)
def console_page(request: Request, principal: MaybePrincipal, session: DbSession) -> Response:
    if principal is None or not _is_staff(principal):
        return _login()
    context = _console_context(request, principal) | _risk_context(request, session, principal)
    return render_page(request, "futures/console.html", context, principal=principal)


@router.get(RISK_FRAGMENT, response_class=HTMLResponse)
def console_risk(request: Request, principal: CurrentPrincipal, session: DbSession) -> Response:
    """The live part of the positions at risk (re-fetched on ``futures.*`` events)."""
    access_positions_at_risk(principal)
    context = _risk_context(request, session, principal)
    return render_page(request, "futures/_risk.html", context, principal=principal)


# --- the trader's margin alerts --------------------------------------------------------------


def _portal_context(session: Session, principal: Principal) -> dict[str, Any]:
    return {"alerts": list_trader_alerts(session, principal.id),
            "positions": list_trader_positions(session, principal.id),
            "LEVEL_LABELS": LEVEL_LABELS, "POSITION_SIDE_LABELS": POSITION_SIDE_LABELS,
            "EXHAUSTED": EXHAUSTED, "fig": fig, "exact": exact}  # fmt: skip


@router.get(PORTAL, response_class=HTMLResponse)
def portal_alerts(request: Request, principal: MaybePrincipal, session: DbSession) -> Response:
    if principal is None or principal.kind is not PrincipalKind.TRADER:
        return redirect("/portal/sign-in")
    return render_page(request, "futures/portal.html", _portal_context(session, principal),
                       principal=principal)  # fmt: skip


@router.get(PORTAL_FRAGMENT, response_class=HTMLResponse)
def portal_alerts_fragment(
    request: Request, principal: CurrentPrincipal, session: DbSession
) -> Response:
    if principal.kind is not PrincipalKind.TRADER:
        raise PermissionDenied("Only traders have margin alerts.")
    return render_page(request, "futures/_portal_alerts.html",
                       _portal_context(session, principal), principal=principal)  # fmt: skip


@router.post(CONSOLE + "/{tool}", response_class=HTMLResponse)
def console_check(request: Request, tool: str, principal: MaybePrincipal, files: Files) -> Response:
    if principal is None or not _is_staff(principal):
        return _login()
    if tool not in TOOLS:
        return redirect(CONSOLE)
    gettext = gettext_for(page_locale(request, principal)).gettext
    result, errors = run_tool(tool, files, gettext)
    context = _console_context(request, principal, tool, result, errors)
    return render_page(request, "futures/console.html", context, principal=principal,
                       status_code=422 if errors else 200)  # fmt: skip
