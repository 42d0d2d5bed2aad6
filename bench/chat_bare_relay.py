"""A bare Starlette WebSocket relay, the yardstick of ``bench/chat_load.py``: two sockets of one
pair (``/ws/{pair}/{side}``) forward each text frame to the other, nothing else.

    .venv/bin/uvicorn bench.chat_bare_relay:app --port 8100
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

_peers: dict[tuple[str, str], WebSocket] = {}


async def relay(websocket: WebSocket) -> None:
    pair, side = websocket.path_params["pair"], websocket.path_params["side"]
    other = "b" if side == "a" else "a"
    await websocket.accept()
    _peers[(pair, side)] = websocket
    try:
        while True:
            text = await websocket.receive_text()
            peer = _peers.get((pair, other))
            if peer is not None:
                await peer.send_text(text)
    except WebSocketDisconnect:
        pass
    finally:
        _peers.pop((pair, side), None)


app = Starlette(routes=[WebSocketRoute("/ws/{pair}/{side}", relay)])
