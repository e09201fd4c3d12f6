"""The control server in this process, over real CURVE sockets on loopback, with a stand-in room."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from panic_button.client import ClientKeys, curve_socket
from recorder.clock import ManualClock
from recorder.config import ControlConfig
from recorder.control import server as server_module
from recorder.control.auth import AllowlistAuthenticator
from recorder.control.protocol import Request
from recorder.control.server import ControlServer, open_sockets
from recorder.demo import free_tcp_port


class _Room:
    """Answers every request with a fixed status (the server, not the room, is under test)."""

    def handle(self, client: str, request: Request) -> dict[str, Any]:
        return self.status()

    def status(self) -> dict[str, Any]:
        return {"room": "test", "state": "idle"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ControlServer, zmq.Socket[Any]]]:
    context: zmq.Context[Any] = zmq.Context()
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    auth = AllowlistAuthenticator(context, {client_public: "button"})
    auth.start()
    config = ControlConfig(
        endpoint=f"tcp://127.0.0.1:{free_tcp_port()}",
        state_endpoint=f"tcp://127.0.0.1:{free_tcp_port()}",
        server_secret_key=tmp_path / "unused",
        authorized_clients=tmp_path,
    )
    router, publisher = open_sockets(context, config, (server_public, server_secret))
    server = ControlServer(router, publisher, auth, _Room(), ManualClock(), config)
    client = curve_socket(context, zmq.DEALER, ClientKeys(client_public, client_secret, server_public))
    client.connect(config.endpoint)
    yield server, client
    client.close(linger=0)
    server.close()
    router.close(linger=0)
    publisher.close(linger=0)
    auth.stop()
    context.term()


def _exchange(server: ControlServer, client: zmq.Socket[Any], body: bytes) -> dict[str, Any]:
    client.send(body)
    for _ in range(40):
        server.poll(50)
        if client.poll(0):
            reply: dict[str, Any] = json.loads(client.recv())
            return reply
    raise AssertionError("no reply within 2 s")


def test_a_bug_in_request_parsing_is_answered_and_the_server_goes_on(
    served: tuple[ControlServer, zmq.Socket[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, client = served

    def broken(raw: bytes) -> Request:
        raise RuntimeError("a bug")

    monkeypatch.setattr(server_module, "parse_request", broken)
    reply = _exchange(server, client, b'{"v": 1, "id": "a", "type": "status"}')
    assert reply["error"]["code"] == "internal_error"
    monkeypatch.undo()
    assert _exchange(server, client, b'{"v": 1, "id": "b", "type": "status"}')["ok"]
