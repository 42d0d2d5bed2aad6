"""Chat test helpers: a socket speaking the protocol, and the people on either end."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.testclient import WebSocketTestSession

from hashdesk.accounts.models import Agent, Trader
from hashdesk.config import Settings
from tests.conftest import exchange_token, login_agent

WS_PATH = "/api/v1/chat/ws"
MAX_FRAMES_SKIPPED = 50
_client_ids = itertools.count(1)

Frame = dict[str, Any]


class Socket:
    """One chat WebSocket: send frames, and read until the frame a test waits for."""

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self.seen: list[Frame] = []  # every frame received, in order
        self.pending: list[Frame] = []  # received, not yet taken by an expect()

    def send(self, **frame: Any) -> None:
        self.ws.send_text(json.dumps(frame))

    def send_raw(self, text: str) -> None:
        self.ws.send_text(text)

    def expect(self, frame_type: str, **fields: Any) -> Frame:
        """The first frame of ``frame_type`` whose fields match, received now or earlier
        (frames that arrive while waiting for another are kept for later). Fails, rather
        than hangs, after MAX_FRAMES_SKIPPED other frames."""
        for index, frame in enumerate(self.pending):
            if _matches(frame, frame_type, fields):
                return self.pending.pop(index)
        for _ in range(MAX_FRAMES_SKIPPED):
            frame = self.ws.receive_json()
            self.seen.append(frame)
            if _matches(frame, frame_type, fields):
                return frame
            self.pending.append(frame)
        raise AssertionError(f"no {frame_type} {fields}; saw {self.seen[-MAX_FRAMES_SKIPPED:]}")

    def say(self, chat: int, text: str, client_id: str | None = None) -> Frame:
        """Send a message and return its ack."""
        client_id = client_id or f"c{next(_client_ids)}"
        self.send(type="message", chat=chat, text=text, client_id=client_id)
        return self.expect("ack", client_id=client_id)

    def messages(self) -> list[Frame]:
        return [frame for frame in self.seen if frame.get("type") == "message"]


def _matches(frame: Frame, frame_type: str, fields: dict[str, Any]) -> bool:
    return frame.get("type") == frame_type and all(frame.get(k) == v for k, v in fields.items())


@contextmanager
def socket(client: TestClient, **headers: str) -> Iterator[Socket]:
    with client.websocket_connect(WS_PATH, headers=headers) as ws:
        yield Socket(ws)


@contextmanager
def trader_socket(client: TestClient, settings: Settings, trader: Trader) -> Iterator[Socket]:
    with socket(client) as sock:
        sock.send(type="hello", token=exchange_token(settings, trader.external_id))
        sock.expect("welcome")
        yield sock


@contextmanager
def agent_socket(client: TestClient, agent: Agent, *, online: bool = True) -> Iterator[Socket]:
    """The console's socket: signed in by the session cookie, then online."""
    login_agent(client, agent)
    with socket(client) as sock:
        sock.send(type="hello")
        sock.expect("welcome")
        if online:
            sock.send(type="presence", status="online")
            sock.expect("presence")
        yield sock


def start_accepted_chat(trader_sock: Socket, agent_sock: Socket, text: str) -> int:
    """A trader starts a chat and the agent accepts the offer: the chat's id."""
    trader_sock.send(type="start", text=text)
    chat = int(trader_sock.expect("chat")["chat"])
    agent_sock.expect("offer", chat=chat)
    agent_sock.send(type="accept", chat=chat)
    trader_sock.expect("chat", chat=chat, status="active")
    return chat


def set_languages(session: Session, agent: Agent, *languages: str) -> None:
    agent.languages = list(languages)
    session.merge(agent)
    session.commit()
