"""The control server in this process, over real CURVE sockets on loopback, with a stand-in room."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq
from structlog.testing import capture_logs

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


class _PortTakenWhile:
    """The PUB socket, except that `bind` fails as if the port were taken while `taken` is set."""

    def __init__(self, sock: zmq.Socket[Any]) -> None:
        self._sock = sock
        self.taken = False

    def bind(self, endpoint: str) -> None:
        if self.taken:
            raise zmq.ZMQError(errno.EADDRINUSE)
        self._sock.bind(endpoint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@dataclass
class Served:
    server: ControlServer
    client: zmq.Socket[Any]  # a DEALER with an enrolled key
    subscriber: zmq.Socket[Any]  # a SUB with the same key
    key: bytes  # that key (Z85)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    context: zmq.Context[Any] = zmq.Context()
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    auth = AllowlistAuthenticator(context, {client_public: "button", b"x" * 40: "revoked"})
    auth.start()
    config = ControlConfig(
        endpoint=f"tcp://127.0.0.1:{free_tcp_port()}",
        state_endpoint=f"tcp://127.0.0.1:{free_tcp_port()}",
        server_secret_key=tmp_path / "unused",
        authorized_clients=tmp_path,
    )
    router, publisher = open_sockets(context, config, (server_public, server_secret))
    server = ControlServer(router, _PortTakenWhile(publisher), auth, _Room(), ManualClock(), config)  # type: ignore[arg-type]
    keys = ClientKeys(client_public, client_secret, server_public)
    client = curve_socket(context, zmq.DEALER, keys)
    client.connect(config.endpoint)
    subscriber = curve_socket(context, zmq.SUB, keys)
    subscriber.subscribe(b"state")
    subscriber.connect(config.state_endpoint)
    yield Served(server, client, subscriber, client_public)
    subscriber.close(linger=0)
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
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, client = served.server, served.client

    def broken(raw: bytes) -> Request:
        raise RuntimeError("a bug")

    monkeypatch.setattr(server_module, "parse_request", broken)
    reply = _exchange(server, client, b'{"v": 1, "id": "a", "type": "status"}')
    assert reply["error"]["code"] == "internal_error"
    monkeypatch.undo()
    assert _exchange(server, client, b'{"v": 1, "id": "b", "type": "status"}')["ok"]


def test_a_state_port_taken_during_a_rebind_is_bound_again_at_a_later_heartbeat(
    served: Served,
) -> None:
    server, subscriber = served.server, served.subscriber
    publisher = server._publisher  # the _PortTakenWhile stand-in
    publisher.taken = True
    with capture_logs() as logs:
        server.replace_allowlist({served.key: "button"})  # "revoked" is removed
        server.publish()  # still taken: retried quietly
        publisher.taken = False
        server.publish()  # bound again
    assert [e["event"] for e in logs] == [
        "state_subscribers_disconnected",
        "state_endpoint_bind_failed",
        "state_endpoint_bound",
    ]
    for _ in range(40):  # the subscriber reconnects and hears a heartbeat
        server.publish()
        if subscriber.poll(50):
            assert subscriber.recv_multipart()[0] == b"state"
            return
    raise AssertionError("the subscriber heard nothing after the re-bind")
