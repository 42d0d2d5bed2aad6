"""The assistant's working parts for one running process: the help center's search index,
the language detector and the triage classifier, put together once per runtime."""

from __future__ import annotations

from hashdesk.assistant.actions import Tools
from hashdesk.assistant.engine import Engine
from hashdesk.runtime import Runtime

_ATTRIBUTE = "_assistant_tools"


def detect_language(text: str) -> tuple[str, float]:
    from hashdesk.assistant.langid import detect

    detection = detect(text)
    return detection.lang, float(detection.confidence)


def get_tools(runtime: Runtime) -> Tools:
    """The runtime's tools, built on first use (the search index follows the help center
    through the event bus, so one engine per process stays current)."""
    tools: Tools | None = getattr(runtime, _ATTRIBUTE, None)
    if tools is None:
        from hashdesk.helpcenter.search import get_search_index

        tools = Tools(Engine(get_search_index(runtime), detect=detect_language))
        setattr(runtime, _ATTRIBUTE, tools)
    return tools


def complete_tools(runtime: Runtime) -> Tools:
    """Tools over an index built in full before the first answer (vectors included), for
    the command line: the live index computes vectors in the background, and a one-shot
    command would otherwise answer its first questions by words alone."""
    from hashdesk.helpcenter.search import build_index, vector_cache_for

    with runtime.database.session() as session:
        index = build_index(session, vector_cache_for(runtime.settings))
    tools = Tools(Engine(index, detect=detect_language))
    setattr(runtime, _ATTRIBUTE, tools)
    return tools
