"""The chat socket (``/api/v1/chat/ws``), the widget script and the widget's session. The
protocol is in docs/chat-protocol.md; the socket's work is in ``gateway``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import Response

from hashdesk.chat.gateway import ChatConnection
from hashdesk.chat.jobs import routing_sweeper
from hashdesk.chat.widget import WIDGET_CSS, render_widget
from hashdesk.web.deps import csrf_token

router = APIRouter(prefix="/api/v1/chat", tags=["chat"], lifespan=routing_sweeper)


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket) -> None:
    await ChatConnection(websocket, websocket.app.state.runtime).run()


@router.get("/widget.js", response_class=Response)
def widget_script(
    request: Request, locale: Annotated[str | None, Query(max_length=16)] = None
) -> Response:
    """The widget, with its strings in ``locale`` (default English); it talks back to the
    address it was loaded from."""
    base = str(request.base_url)
    return Response(render_widget(locale, base), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


@router.get("/widget.css", response_class=Response)
def widget_style() -> Response:
    return Response(WIDGET_CSS.read_bytes(), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


@router.get("/widget-session")
def widget_session(request: Request) -> dict[str, str]:
    """The CSRF token of this browser's session, for the widget's assistant requests."""
    return {"csrf_token": csrf_token(request)}
