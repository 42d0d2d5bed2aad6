"""Guided diagnostics: flows written as data (``flows/*.yaml``), run by this one interpreter.

A flow is a set of steps and terminal outcomes::

    id: deposit_not_arrived          # stable name (URLs, the conversation's reason)
    title: My deposit has not arrived
    category: deposit                # ticket category of a hand-off from this flow
    triggers: [[deposit, arrived], [depósit*, llega*], [充值, 到账]]  # term sets: a question
                                     # holding all terms of one set suggests the flow
    start: network
    steps:
      network:
        question: Which network did you send it on?
        input: network               # choice | text | tx-hash | network | asset | check
        next: asset                  # where to go when no branch matches
      tx_hash:
        input: tx-hash
        network_from: network        # validate against the network answered in that step
      status:
        input: choice
        choices: [{value: processing, label: It says processing}, ...]
        branches: [{values: [processing], goto: wait}, {pattern: "^-?10\\d\\d$", goto: x}]
      trace:
        input: check                 # no question: a registered check decides the branch
        check: deposit_trace
    outcomes:
      wait:   {kind: message, text: "..."}
      guide:  {kind: article, query: "search words for the article to show"}
      ticket: {kind: ticket, category: deposit, department: security, priority: high,
               subject: "...", fields: {network: "{network}"}, note: "..."}

Every ``question``, ``label``, ``title``, ``text``, ``subject`` and ``note`` is an English
msgid, translated when shown (``extract_flow_messages`` feeds them to Babel); ``{name}``
placeholders take the answers given so far.

Checks are the extension point for code that must look something up (the deposit tracer,
the asset registry): ``register_check`` binds a name to a function of the answers that
returns a branch value, or a ``CheckResult`` whose answers the outcome can quote.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from hashdesk.assets.queries import (
    FIXED_NETWORK_CHOICES,
    NetworkChoices,
    any_tx_hash,
    unknown_network,
)
from hashdesk.core.i18n import N_

FLOWS_DIR = Path(__file__).resolve().parent / "flows"
MAX_TEXT = 500


class FlowError(ValueError):
    """A flow file that does not hold together (named file and place)."""


class InputKind(enum.StrEnum):
    CHOICE = "choice"
    TEXT = "text"
    TX_HASH = "tx-hash"
    NETWORK = "network"
    ASSET = "asset"
    CHECK = "check"


class OutcomeKind(enum.StrEnum):
    ARTICLE = "article"
    TICKET = "ticket"
    MESSAGE = "message"


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Branch:
    goto: str
    values: tuple[str, ...] = ()
    pattern: str | None = None

    def matches(self, value: str) -> bool:
        if self.values and value.lower() in (v.lower() for v in self.values):
            return True
        return (
            self.pattern is not None and re.search(self.pattern, value, re.IGNORECASE) is not None
        )


@dataclass(frozen=True)
class Step:
    id: str
    input: InputKind
    question: str = ""
    choices: tuple[Choice, ...] = ()
    branches: tuple[Branch, ...] = ()
    next: str | None = None
    network_from: str | None = None
    pattern: str | None = None
    error: str | None = None
    check: str | None = None

    def route(self, value: str) -> str | None:
        for branch in self.branches:
            if branch.matches(value):
                return branch.goto
        return self.next


@dataclass(frozen=True)
class Terminal:
    id: str
    kind: OutcomeKind
    text: str = ""
    query: str = ""
    category: str | None = None
    department: str | None = None
    priority: str | None = None
    subject: str = ""
    note: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Flow:
    id: str
    title: str
    category: str
    start: str
    steps: dict[str, Step]
    outcomes: dict[str, Terminal]
    triggers: tuple[frozenset[str], ...] = ()
    source: str = ""

    def node(self, name: str) -> Step | Terminal:
        return self.steps[name] if name in self.steps else self.outcomes[name]


# --- what the interpreter hands back ----------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """Ask ``step.question``; the conversation's flow state is ``state``."""

    step: Step
    state: dict[str, Any]


@dataclass(frozen=True)
class Finish:
    terminal: Terminal
    answers: dict[str, str]


@dataclass(frozen=True)
class Rejected:
    """The input does not fit the step: a translatable message and its parameters."""

    step: Step
    message: str
    params: dict[str, object] = field(default_factory=dict)


Turn = Ask | Finish | Rejected


# --- checks: the extension point --------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """A check's branch value, with what it found: ``answers`` become ``{name}`` placeholders
    of the outcome's text, subject, fields and note (the deposit tracer's explanation)."""

    branch: str
    answers: dict[str, str] = field(default_factory=dict)


Check = Callable[[dict[str, str]], str | CheckResult]
_CHECKS: dict[str, Check] = {}


def register_check(name: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        _CHECKS[name] = function
        return function

    return register


def get_check(name: str) -> Check | None:
    return _CHECKS.get(name)


@register_check("deposit_trace")
def deposit_trace_today(answers: dict[str, str]) -> CheckResult:
    """The deposit tracer decides: ``credited``, ``explained`` (its explanation and next step
    say it all), ``recovery`` (a request filled in from its evidence), ``not_found``, or
    ``untraced`` when it cannot tell (the flow then asks how long ago it was sent)."""
    from hashdesk.chains.tracer import trace_for_flow  # the tracer pulls in the chain clients

    branch, found = trace_for_flow(answers)
    return CheckResult(branch, found)


# --- validating one input ---------------------------------------------------------------------

ASSET = re.compile(r"^[A-Za-z0-9]{2,12}$")


def normalise_network(raw: str, networks: NetworkChoices = FIXED_NETWORK_CHOICES) -> str | None:
    """The slug of the network ``raw`` names (slug, alias or name, in any case)."""
    found = networks.resolve(raw)
    return found.slug if found else None


def _choice_value(step: Step, raw: str) -> str | None:
    """A choice by value, by label or by its number in the list."""
    wanted = raw.strip().lower()
    for position, choice in enumerate(step.choices, start=1):
        if wanted in (choice.value.lower(), choice.label.lower(), str(position)):
            return choice.value
    return None


def validate(
    step: Step, raw: str, answers: dict[str, str],
    networks: NetworkChoices = FIXED_NETWORK_CHOICES,
) -> str | Rejected:  # fmt: skip
    """The value to record for ``raw``, or why it is refused; ``networks`` are those a
    trader may name (the asset registry's, as ``assets.queries.network_choices`` reads them)."""
    value = raw.strip()
    if not value:
        return Rejected(step, N_("Please answer the question to continue."))
    if len(value) > MAX_TEXT:
        return Rejected(
            step, N_("Keep the answer under {maximum} characters."), {"maximum": MAX_TEXT}
        )
    if step.input is InputKind.CHOICE:
        chosen = _choice_value(step, value)
        return chosen if chosen else Rejected(step, N_("Choose one of the options."))
    if step.input is InputKind.NETWORK:
        network = normalise_network(value, networks)
        if network is None:
            message, values = unknown_network(networks, value)
            return Rejected(step, message, dict(values))
        return network
    if step.input is InputKind.ASSET:
        if not ASSET.match(value):
            return Rejected(step, N_("Write the coin or token's ticker, such as USDT or BTC."))
        return value.upper()
    if step.input is InputKind.TX_HASH:
        on = networks.by_slug.get(answers.get(step.network_from, "")) if step.network_from else None
        problem = (on.tx_hash if on else any_tx_hash)(value)
        return Rejected(step, problem.message, dict(problem.params)) if problem else value
    if step.pattern and not re.search(step.pattern, value, re.IGNORECASE):
        return Rejected(step, step.error or N_("That answer does not fit the question."))
    return value


# --- running a flow ---------------------------------------------------------------------------

MAX_AUTOMATIC_STEPS = 20  # a loop of checks in a broken file must not hang a request


def start(
    flow: Flow, given: dict[str, str] | None = None,
    networks: NetworkChoices = FIXED_NETWORK_CHOICES,
) -> Turn:  # fmt: skip
    """The flow's first question, or further on: ``given`` (``given_in`` the trader's first
    message) answers the steps that would ask for what it already says."""
    return _arrive(flow, flow.start, {}, dict(given or {}), networks)


def advance(
    flow: Flow, state: dict[str, Any], raw: str, networks: NetworkChoices = FIXED_NETWORK_CHOICES
) -> Turn:
    """Record the answer to the step ``state`` waits on and move to the next question or end."""
    step = flow.steps[str(state["step"])]
    answers = {str(k): str(v) for k, v in dict(state.get("answers", {})).items()}
    value = validate(step, raw, answers, networks)
    if isinstance(value, Rejected):
        return value
    answers[step.id] = value
    given = {str(k): str(v) for k, v in dict(state.get("given", {})).items()}
    return _arrive(flow, _next(flow, step, value), answers, given, networks)


def _next(flow: Flow, step: Step, value: str) -> str:
    target = step.route(value)
    if target is None:
        raise FlowError(f"{flow.source}: step {step.id} has nowhere to go for {value!r}")
    return target


def _arrive(
    flow: Flow, name: str, answers: dict[str, str], given: dict[str, str],
    networks: NetworkChoices,
) -> Turn:  # fmt: skip
    for _ in range(MAX_AUTOMATIC_STEPS):
        node = flow.node(name)
        if isinstance(node, Terminal):
            return Finish(node, answers)
        if node.input is not InputKind.CHECK:
            # Each given value answers one step at most: a second network question is asked.
            said = given.pop(node.input.value, None)
            value = validate(node, said, answers, networks) if said else None
            if value is None or isinstance(value, Rejected):
                state = {"step": node.id, "answers": answers}
                return Ask(node, {**state, "given": given} if given else state)
            answers = {**answers, node.id: value}
            name = _next(flow, node, value)
            continue
        check = get_check(str(node.check))
        if check is None:
            raise FlowError(f"{flow.source}: no check named {node.check!r} is registered")
        result = check(answers)
        found = result if isinstance(result, CheckResult) else CheckResult(result)
        answers = {**answers, **found.answers, node.id: found.branch}
        target = node.route(found.branch)
        if target is None:
            raise FlowError(
                f"{flow.source}: check {node.id} returned {found.branch!r}, which has no branch"
            )
        name = target
    raise FlowError(f"{flow.source}: more than {MAX_AUTOMATIC_STEPS} checks in a row")


# Network spellings that are also everyday words: in a free sentence they are the word
# ("the base fee", "near 100 USDT", "one deposit", "etc."), so they name no network there.
# Also in the other languages traders write in: "ton dépôt" (your deposit), "nova conta"
# (new account), "in linea" (online), "sei" (you are), and Aurora, a given name. Tickers
# ("SOL", "SUI", "ADA", Turkish for island) need no entry: the registry lists them.
ORDINARY_WORDS = frozenset({
    "base", "blast", "core", "dash", "dot", "etc", "flow", "mode", "near", "nova", "one", "op",
    "opera", "scroll", "sonic", "ton", "mantle", "thor", "sei", "linea", "aurora",
})  # fmt: skip
_TICKER = re.compile(r"(?<![\w$])\$?([A-Z][A-Z0-9]{1,9})(?!\w)")
_HASH_LIKE = re.compile(r"(?<!\w)(?:0x)?[0-9A-Za-z]{40,100}(?!\w)")


def given_in(
    text: str, networks: NetworkChoices, is_asset: Callable[[str], bool]
) -> dict[str, str]:
    """What a trader's first message already says that a flow would ask: the one network it
    names (not by a ticker: "ETH" is the coin), the one ticker in capitals the registry lists
    (``is_asset``), the one string that has a known transaction-hash format. Two of a kind
    say nothing: the flow asks."""
    given: dict[str, str] = {}
    # "ETH" in a sentence is the coin far more often than the network (and "base" the word).
    network = networks.mentioned_in(
        text, lambda spelling: spelling in ORDINARY_WORDS or is_asset(spelling.upper())
    )
    if network is not None:
        given[InputKind.NETWORK.value] = network.slug
    tickers = {t for t in dict.fromkeys(_TICKER.findall(text)) if is_asset(t)}
    if len(tickers) == 1:
        given[InputKind.ASSET.value] = tickers.pop()
    hashes = {h for h in _HASH_LIKE.findall(text) if any_tx_hash(h) is None}
    if len(hashes) == 1:
        given[InputKind.TX_HASH.value] = hashes.pop()
    return given


def fill(template: str, answers: dict[str, str]) -> str:
    """``template`` with ``{answer}`` placeholders filled; unknown names stay as written."""
    return re.sub(r"\{(\w+)\}", lambda m: answers.get(m.group(1), m.group(0)), template)


# Scripts written without spaces between words (Thai, kana, CJK ideographs, Hangul, whose
# words carry particles): their trigger terms are looked for anywhere in the question.
_UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = re.compile(rf"[{_UNSPACED}]+|[^\W{_UNSPACED}]+")


def _holds(term: str, text: str, words: set[str]) -> bool:
    """Whether the question holds one trigger term: ``withdraw*`` is a word prefix (for
    inflected languages), a plain word is a whole word, and a term in an unspaced script or
    with a space or joiner inside is a piece of the text."""
    if term.endswith("*"):
        return any(word.startswith(term[:-1]) for word in words)
    if _WORD.fullmatch(term) and not re.search(f"[{_UNSPACED}]", term):
        return term in words
    return term in text


def suggest(flows: dict[str, Flow], question: str) -> Flow | None:
    """The flow one of whose trigger term sets the question holds entirely (first wins)."""
    text = question.lower()
    words = set(_WORD.findall(text))
    for flow in flows.values():
        if any(all(_holds(term, text, words) for term in trigger) for trigger in flow.triggers):
            return flow
    return None


# --- reading flow files -----------------------------------------------------------------------


def _text(raw: dict[str, Any], key: str, where: str, required: bool = False) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise FlowError(f"{where}: {key} must be {'a non-empty' if required else 'a'} string")
    return value


def _branches(raw: Any, where: str) -> tuple[Branch, ...]:
    if not isinstance(raw, list):
        raise FlowError(f"{where}: branches must be a list")
    branches = []
    for item in raw:
        if not isinstance(item, dict) or "goto" not in item:
            raise FlowError(f"{where}: each branch needs goto")
        values = tuple(str(v) for v in item.get("values", []))
        pattern = item.get("pattern")
        if pattern is not None:
            try:
                re.compile(str(pattern))
            except re.error as error:
                raise FlowError(f"{where}: bad pattern {pattern!r}: {error}") from error
        branches.append(
            Branch(str(item["goto"]), values, None if pattern is None else str(pattern))
        )
    return tuple(branches)


def _step(name: str, raw: Any, where: str) -> Step:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: a step is a mapping")
    try:
        kind = InputKind(str(raw.get("input")))
    except ValueError as error:
        known = ", ".join(k.value for k in InputKind)
        raise FlowError(f"{where}: input must be one of {known}") from error
    choices = tuple(Choice(str(c["value"]), str(c["label"])) for c in raw.get("choices", []))
    if kind is InputKind.CHOICE and not choices:
        raise FlowError(f"{where}: a choice step needs choices")
    if kind is InputKind.CHECK and not raw.get("check"):
        raise FlowError(f"{where}: a check step names its check")
    question = _text(raw, "question", where, required=kind is not InputKind.CHECK)
    return Step(name, kind, question, choices, _branches(raw.get("branches", []), where),
                raw.get("next"), raw.get("network_from"), raw.get("pattern"), raw.get("error"),
                raw.get("check"))  # fmt: skip


def _terminal(name: str, raw: Any, where: str) -> Terminal:
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: an outcome is a mapping")
    try:
        kind = OutcomeKind(str(raw.get("kind")))
    except ValueError as error:
        raise FlowError(f"{where}: kind must be article, ticket or message") from error
    required = {OutcomeKind.ARTICLE: "query", OutcomeKind.MESSAGE: "text",
                OutcomeKind.TICKET: "subject"}[kind]  # fmt: skip
    _text(raw, required, where, required=True)
    fields = {str(k): str(v) for k, v in dict(raw.get("fields", {})).items()}
    return Terminal(name, kind, _text(raw, "text", where), _text(raw, "query", where),
                    raw.get("category"), raw.get("department"), raw.get("priority"),
                    _text(raw, "subject", where), _text(raw, "note", where), fields)  # fmt: skip


def _check_links(flow: Flow) -> None:
    names = set(flow.steps) | set(flow.outcomes)
    if flow.start not in flow.steps:
        raise FlowError(f"{flow.source}: start {flow.start!r} is not a step")
    for step in flow.steps.values():
        targets = [b.goto for b in step.branches] + ([step.next] if step.next else [])
        if not targets:
            raise FlowError(f"{flow.source}: step {step.id} leads nowhere")
        for target in targets:
            if target not in names:
                raise FlowError(f"{flow.source}: step {step.id} goes to unknown {target!r}")
        if step.network_from and step.network_from not in flow.steps:
            raise FlowError(
                f"{flow.source}: step {step.id} reads unknown step {step.network_from!r}"
            )


def parse_flow(raw: Any, source: str) -> Flow:
    if not isinstance(raw, dict):
        raise FlowError(f"{source}: a flow file holds one mapping")
    for key in ("id", "title", "category", "start", "steps", "outcomes"):
        if key not in raw:
            raise FlowError(f"{source}: {key} is missing")
    if set(raw["steps"]) & set(raw["outcomes"]):
        raise FlowError(f"{source}: a step and an outcome share a name")
    flow = Flow(
        id=str(raw["id"]),
        title=_text(raw, "title", source, required=True),
        category=str(raw["category"]),
        start=str(raw["start"]),
        steps={str(k): _step(str(k), v, f"{source}: step {k}") for k, v in raw["steps"].items()},
        outcomes={
            str(k): _terminal(str(k), v, f"{source}: outcome {k}")
            for k, v in raw["outcomes"].items()
        },
        triggers=_triggers(raw.get("triggers", []), source),
        source=source,
    )
    _check_links(flow)
    return flow


def _triggers(raw: Any, where: str) -> tuple[frozenset[str], ...]:
    if not isinstance(raw, list) or not all(isinstance(t, list) and t for t in raw):
        raise FlowError(f"{where}: triggers must be a list of non-empty term lists")
    for trigger in raw:
        for term in trigger:
            # YAML reads a bare no/yes/on/off as a boolean and 1021 as a number
            if not isinstance(term, str | int) or isinstance(term, bool):
                raise FlowError(f"{where}: trigger term {term!r} is not text (quote it)")
    return tuple(frozenset(str(term).lower() for term in trigger) for trigger in raw)


def load_flows(folder: Path = FLOWS_DIR) -> dict[str, Flow]:
    flows: dict[str, Flow] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise FlowError(f"{path.name}: not valid YAML: {error}") from error
        flow = parse_flow(raw, path.name)
        if flow.id in flows:
            raise FlowError(f"{path.name}: flow id {flow.id!r} is used twice")
        flows[flow.id] = flow
    return flows


@cache
def shipped_flows() -> dict[str, Flow]:
    """The flows in the package, read once per process."""
    return load_flows(FLOWS_DIR)


# --- translation: the texts of flow files are msgids ------------------------------------------

TRANSLATABLE_KEYS = frozenset({"title", "question", "label", "text", "subject", "note", "error"})


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TRANSLATABLE_KEYS and isinstance(value, str):
                # Only placeholders (a check's words, translated already): nothing to translate.
                if re.sub(r"\{\w+\}", "", value).strip():
                    yield value
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def extract_flow_messages(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """A Babel extraction method for flow files (map ``assistant/flows/*.yaml`` to it)."""
    raw = yaml.safe_load(fileobj.read())
    for text in _strings(raw):
        yield 0, "_", text, []
