"""The ZeroMQ control server: CURVE ROUTER for requests, CURVE PUB for room state."""

from __future__ import annotations

import contextlib
import errno
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import structlog
import zmq
import zmq.auth

from recorder.clock import Clock
from recorder.config import ControlConfig
from recorder.control.auth import AllowlistAuthenticator
from recorder.control.keyfile import load_key_file
from recorder.control.monitor import ConnectionMonitor
from recorder.control.protocol import (
    ErrorCode,
    Request,
    encode,
    error_reply,
    ok_reply,
    parse_request,
    request_id_of,
)
from recorder.control.ratelimit import LogThrottle, RateLimiter
from recorder.control.reserve import DescriptorReserve
from recorder.errors import ConfigError, ProtocolError

log = structlog.get_logger()

STATE_TOPIC = b"state"
_REPLAY_CACHE = 1024
_MAX_BATCH = 64  # requests per poll(), so that a flood never starves the daemon's timers and heartbeat
CURVE_OVERHEAD = 33
"""Bytes CURVE adds to each frame (command name 8, nonce 8, MAC 16, flags 1). ZMQ_MAXMSGSIZE counts
the encrypted frame, so the socket limit is `max_message_bytes` plus this: the configured limit is
then exactly the request's JSON."""
HANDSHAKE_TIMEOUT_MS = 2000
"""A connection that has not completed its CURVE handshake by then is closed (ZMQ_HANDSHAKE_IVL;
libzmq's default is 30 s), so silent or stalled connections cannot hold descriptors for long."""
LISTEN_BACKLOG = 100
"""Connections waiting to be accepted, per socket (ZMQ_BACKLOG; libzmq's default, set here because the
reserve depends on it): while a trigger runs, a flood can take at most this many (+1 each) of the
descriptors the reserve frees."""
RESERVE_DESCRIPTORS = 256
"""Held for the trigger path: the two backlogs (2 x 101) plus ample room for the incident file, its
directory and the audit log."""
_REBIND_WAIT_S = 0.5  # libzmq closes a listener asynchronously; how long to retry binding its port


class RequestHandler(Protocol):
    def handle(self, client: str, request: Request) -> dict[str, Any]:
        """Carry out a request; return the status fields of the reply. Raises ProtocolError."""
        ...

    def status(self) -> dict[str, Any]: ...


def load_server_keys(secret_key_file: Path) -> tuple[bytes, bytes]:
    """(public, secret) Z85 keys from a zmq.auth secret key file. Raises ConfigError."""
    try:
        public, secret = load_key_file(secret_key_file)
    except (OSError, ValueError) as error:
        raise ConfigError(f"control.server_secret_key: cannot load {secret_key_file}: {error}") from None
    if not secret:
        raise ConfigError(f"control.server_secret_key: {secret_key_file} holds no secret key")
    return public, secret


def open_sockets(
    context: zmq.Context[Any], config: ControlConfig, keys: tuple[bytes, bytes]
) -> tuple[zmq.Socket[Any], zmq.Socket[Any]]:
    """Bind the ROUTER and PUB as CURVE servers. Call only after the authenticator has started:
    without a running ZAP handler CURVE accepts any client."""
    public, secret = keys
    sockets: list[zmq.Socket[Any]] = []
    for kind, endpoint in ((zmq.ROUTER, config.endpoint), (zmq.PUB, config.state_endpoint)):
        sock = context.socket(kind)
        sock.curve_server = True
        sock.curve_publickey = public
        sock.curve_secretkey = secret
        sock.linger = 0
        sock.handshake_ivl = HANDSHAKE_TIMEOUT_MS
        sock.backlog = LISTEN_BACKLOG
        if kind == zmq.ROUTER:
            sock.maxmsgsize = config.max_message_bytes + CURVE_OVERHEAD
            sock.router_mandatory = False
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as error:
            sock.close()
            for opened in sockets:
                opened.close()
            raise ConfigError(f"cannot bind {endpoint}: {error}") from None
        sockets.append(sock)
    return sockets[0], sockets[1]


class ControlServer:
    """Serves requests one at a time on the control thread (the daemon's main thread).

    `monitor` watches the ROUTER's connections; when none is given, one is attached to `router` here
    (the only socket this constructor opens: an inproc pair that belongs to the router). `reserve`
    holds descriptors for requests that open files; by default RESERVE_DESCRIPTORS are taken here.
    Call `close()` before closing the router.
    """

    def __init__(
        self,
        router: zmq.Socket[Any],
        publisher: zmq.Socket[Any],
        auth: AllowlistAuthenticator,
        handler: RequestHandler,
        clock: Clock,
        config: ControlConfig,
        *,
        monitor: ConnectionMonitor | None = None,
        reserve: DescriptorReserve | None = None,
    ) -> None:
        self._router = router
        self._publisher = publisher
        self._auth = auth
        self._handler = handler
        self._clock = clock
        self._limiter = RateLimiter(config.rate_limit_per_s, burst=max(5.0, config.rate_limit_per_s))
        self._replies: OrderedDict[tuple[bytes, str], bytes] = OrderedDict()
        self._poller = zmq.Poller()
        self._poller.register(router, zmq.POLLIN)
        self._state_seq = 0
        self._monitor = monitor or ConnectionMonitor.watch(router)
        self._reserve = reserve or DescriptorReserve(RESERVE_DESCRIPTORS)
        self._state_endpoint = config.state_endpoint
        self._publisher_bound = True
        self._log_throttle = LogThrottle(limit=20, window_s=10.0)
        self.refused = {"not_enrolled": 0, "rate_limited": 0, "malformed": 0}

    def poll(self, timeout_ms: int) -> int:
        """Handle the requests that arrive within `timeout_ms`, at most `_MAX_BATCH` of them; returns
        how many were handled. ZeroMQ's ROUTER reads its peers round-robin, so a flooding client gets
        one turn per round like any other."""
        handled = 0
        if not self._reserve.full:
            self._reserve.refill()
        if not self._poller.poll(timeout_ms):
            return 0
        while handled < _MAX_BATCH:
            try:
                frames = self._router.recv_multipart(copy=False, flags=zmq.NOBLOCK)
            except zmq.Again:
                break
            self._serve(frames)
            handled += 1
        return handled

    def counters(self) -> dict[str, int]:
        """Refusals and connection events since start (also in every `status` reply)."""
        return {**self._monitor.counts(), "unknown_key": self._auth.refused, **self.refused}

    def close(self) -> None:
        """Stop the connection monitor. Call on the control thread, before closing the router."""
        with contextlib.suppress(zmq.ZMQError):  # a closed router has stopped its monitor already
            self._router.disable_monitor()
        self._monitor.close()
        self._reserve.close()

    def replace_allowlist(self, names: dict[bytes, str]) -> None:
        """Install a re-read allowlist (SIGHUP). If a key was removed, every subscriber is disconnected
        (the PUB socket is unbound and bound again), so each one reconnects through ZAP and a revoked
        key stops receiving state at once; requests are refused per message anyway (`not_enrolled`)."""
        revoked = self._auth.replace(names)
        if not revoked:
            return
        if self._publisher_bound:  # else a failed re-bind left nobody connected
            self._publisher.unbind(self._publisher.getsockopt_string(zmq.LAST_ENDPOINT))
            self._publisher_bound = False
        log.info("state_subscribers_disconnected", revoked=revoked)
        self._bind_publisher(wait_s=_REBIND_WAIT_S)

    def publish(self) -> None:
        """Send the room state (on every change, and as the heartbeat)."""
        if not self._publisher_bound:
            self._bind_publisher(wait_s=0.0)
        self._state_seq += 1
        message = {"v": 1, "seq": self._state_seq, "time": self._clock.wall_time(), **self._handler.status()}
        self._publisher.send_multipart([STATE_TOPIC, encode(message)])

    def _bind_publisher(self, wait_s: float) -> None:
        """Bind the PUB socket again, retrying for `wait_s` while the old listener is still closing;
        if the port stays taken (logged once), `publish()` tries again at every heartbeat."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self._publisher.bind(self._state_endpoint)
            except zmq.ZMQError as error:
                if error.errno == errno.EADDRINUSE and time.monotonic() < deadline:
                    time.sleep(0.002)
                    continue
                if wait_s:  # the first attempt; later ones retry quietly
                    log.error("state_endpoint_bind_failed", endpoint=self._state_endpoint, error=str(error))
                return
            if not wait_s:
                log.info("state_endpoint_bound", endpoint=self._state_endpoint)
            self._publisher_bound = True
            return

    def _serve(self, frames: list[zmq.Frame]) -> None:
        key = str(frames[-1].get("User-Id")).encode()  # set by CURVE: the authenticated Z85 public key
        peer = str(frames[-1].get("Peer-Address"))
        self._router.send_multipart(self.answer(key, peer, [f.bytes for f in frames]))

    def answer(self, key: bytes, peer: str, frames: list[bytes]) -> list[bytes]:
        """The frames to send back for one message received from `key` (its envelope, then the reply).
        Never raises: a bug while handling it is answered `internal_error`. (The fuzzer calls this.)"""
        envelope, parts = _split_envelope(frames)
        try:
            reply = self._reply_for(key, peer, parts)
        except Exception:  # one message's bug must not take the room's alarm down
            log.exception("request_failed", peer=peer)
            reply = self._error(None, ErrorCode.INTERNAL, "internal error; see the daemon's log")
        return [*envelope, reply]

    def _reply_for(self, key: bytes, peer: str, parts: list[bytes]) -> bytes:
        raw = parts[0] if len(parts) == 1 else b""
        name = self._auth.name_of(key)
        if name is None:
            self._refuse("not_enrolled", "client_refused", peer=peer, key=key.decode())
            return self._error(request_id_of(raw), ErrorCode.NOT_ENROLLED, "this client is not enrolled")
        if not self._limiter.allow(key, self._clock.monotonic_ns()):
            self._refuse("rate_limited", "client_rate_limited", client=name, peer=peer)
            return self._error(request_id_of(raw), ErrorCode.RATE_LIMITED, "too many requests")
        if len(parts) != 1:
            self._refuse("malformed", "request_rejected", client=name, peer=peer, code="too_many_frames")
            return self._error(None, ErrorCode.TOO_MANY_FRAMES, "a request is one frame of JSON")
        try:
            request = parse_request(raw)
        except ProtocolError as error:
            self._refuse(
                "malformed", "request_rejected", client=name, peer=peer, code=error.code, detail=error.message
            )
            return self._error(request_id_of(raw), ErrorCode(error.code), error.message)
        cached = self._replies.get((key, request.id))
        if cached is not None:
            log.info("request_replayed", client=name, request_id=request.id, type=request.type)
            return cached
        reply = self._execute(name, request)
        self._remember((key, request.id), reply)
        return reply

    def _refuse(self, counter: str, event: str, **fields: Any) -> None:
        """Count a refused request; log it unless this thread already logged many lately."""
        self.refused[counter] += 1
        suppressed = self._log_throttle.allow(self._clock.monotonic_ns())
        if suppressed is not None:
            log.warning(event, reason=counter, total=self.refused[counter], suppressed=suppressed, **fields)

    def _execute(self, name: str, request: Request) -> bytes:
        log.info("request_received", client=name, request_id=request.id, type=request.type)
        # Requests that change the room may open files: free the reserved descriptors for them.
        spare = contextlib.nullcontext() if request.type == "status" else self._reserve.released()
        try:
            with spare:
                status = self._handler.handle(name, request)
            if request.type == "status":
                status = {**status, "counters": self.counters()}
            return encode(ok_reply(request.id, status))
        except ProtocolError as error:
            return self._error(request.id, ErrorCode(error.code), error.message)
        except Exception:  # a bug must not take the room's alarm down
            log.exception("request_failed", client=name, request_id=request.id)
            return self._error(request.id, ErrorCode.INTERNAL, "internal error; see the daemon's log")

    def _error(self, request_id: str | None, code: ErrorCode, message: str) -> bytes:
        return encode(error_reply(request_id, code, message, self._handler.status()))

    def _remember(self, key: tuple[bytes, str], reply: bytes) -> None:
        self._replies[key] = reply
        while len(self._replies) > _REPLAY_CACHE:
            self._replies.popitem(last=False)


def _split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(envelope, request frames) of a message from the ROUTER: the envelope is the peer's routing id,
    plus the empty delimiter frame a REQ client sends before its request."""
    if len(frames) > 2 and frames[1] == b"":
        return frames[:2], frames[2:]
    return frames[:1], frames[1:]
