"""A small threaded TCP proxy between the service and MariaDB that can misbehave on demand.

In the spirit of PostgREST's ``run_pgproxy``: the tests point the service at the proxy and then
make the network fail in the ways a real one does, instead of mocking the driver:

- ``pause()``: stop forwarding in both directions, sockets stay open (a stall); ``resume()``
  delivers everything that was held back, so the stall clears by itself.
- ``blackhole()``: connections are accepted and never answered, existing ones hang (packets
  dropped); ``resume()`` resets everything that was swallowed, the way it times out for real.
- ``reset()``: close every current connection abruptly (RST), keep listening.
- ``refuse()``: stop listening, so connects are refused until ``resume()`` listens again on
  the same port; connections already made live on (``refuse()`` then ``reset()`` is a server
  that went down).
- ``on_client_bytes(pattern, action)``: arm a one-shot trigger on the next client packet that
  contains ``pattern`` (for example the COMMIT statement): ``"pause"`` holds it and pauses the
  proxy, ``"pause-after"`` delivers it and then pauses the proxy (the statement runs on the
  server, nothing more gets through, not even a KILL), ``"stall"`` delivers it and then freezes
  that one connection both ways while the others flow, ``"drop"`` swallows it and resets the
  connection (the server never sees it), ``"lose-reply"`` delivers it and resets the connection
  instead of delivering the answer (the server acted, the client never hears). Several triggers
  may be armed at once; each fires on its own packet.

One thread per connection moves bytes both ways with ``select``; only that thread touches its
sockets, others ask it to stop through a flag, so no file descriptor is closed under a ``select``.
Everything is bounded: at most ``MAX_LINKS`` connections, and ``close()`` joins every thread.
"""
from __future__ import annotations

import select
import socket
import struct
import threading

POLL_S = 0.05  # how soon a link notices a stop; data and mode changes never wait on it
MAX_LINKS = 128
CHUNK = 65536

PASS, PAUSED, BLACKHOLE = "pass", "paused", "blackhole"


def _abort(sock: socket.socket | None) -> None:
    """Close with RST instead of FIN, as a crashed peer or a middlebox would."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _Trigger:
    def __init__(self, pattern: bytes, action: str) -> None:
        self.pattern = pattern
        self.action = action
        self.fired = threading.Event()


class _Link:
    """One client connection and its upstream twin."""

    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server: socket.socket | None = None
        self.stop = False  # set by other threads; the link's own thread closes the sockets
        self.doomed = False  # swallowed by a blackhole: reset on resume, never forwarded
        self.stalled = False  # frozen by a "stall" trigger until resume()
        self.lose_reply = False
        self.held = b""  # client bytes held back by a "pause" trigger
        self.gate = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True, name="fault-proxy-link")

    def _run(self) -> None:
        try:
            if not self._swallowed():
                self.server = self.proxy.connect_upstream()
            self._pump()
        except OSError:
            pass
        finally:
            _abort(self.client)
            _abort(self.server)
            self.proxy.forget(self)

    def _swallowed(self) -> bool:
        """Whether a blackhole has this connection. Decided under the gate: ``resume()`` sweeps
        after passing every gate, so it cannot miss a connection doomed just before."""
        with self.gate:
            if self.proxy.mode == BLACKHOLE:
                self.doomed = True
            return self.doomed

    def _pump(self) -> None:
        while not self.stop and not self.proxy.closing:
            if self._swallowed() or self.proxy.mode != PASS or self.stalled:
                self.proxy.wait_for_change()
                continue
            readable, _, _ = select.select([self.client, self.server], [], [], POLL_S)
            with self.gate:  # pause() waits on this gate: nothing moves once it returns
                if self.proxy.mode != PASS or self.stop or self.stalled:
                    continue
                if self.held:
                    self.server.sendall(self.held)
                    self.held = b""
                for sock in readable:
                    data = sock.recv(CHUNK)
                    if not data:
                        return
                    if sock is self.client:
                        if not self._client_bytes(data):
                            return
                    elif self.lose_reply:
                        return
                    else:
                        self.client.sendall(data)

    def _client_bytes(self, data: bytes) -> bool:
        """Forward (or hold) bytes from the client; False ends the connection."""
        trigger = self.proxy.take_trigger(data)
        if trigger is None:
            self.server.sendall(data)
            return True
        try:
            if trigger.action == "pause":
                self.held = data
                self.proxy.mode = PAUSED  # not _switch: this link holds its own gate
                return True
            if trigger.action == "drop":
                return False
            self.server.sendall(data)  # "pause-after", "stall" and "lose-reply"
            if trigger.action == "pause-after":
                self.proxy.mode = PAUSED
            elif trigger.action == "stall":
                self.stalled = True
            else:
                self.lose_reply = True
            return True
        finally:
            trigger.fired.set()


class FaultProxy:
    """Listens on ``host`` at an ephemeral ``port`` (kept across ``refuse()``/``resume()``)."""

    def __init__(self, upstream: tuple[str, int] | str, host: str = "127.0.0.1") -> None:
        """``upstream`` is ``(host, port)`` or the path of a unix socket."""
        self.upstream = upstream
        self.host = host
        self.port = 0
        self.mode = PASS
        self.closing = False
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._triggers: list[_Trigger] = []

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._listen()
        return self

    def close(self) -> None:
        self.closing = True
        self._stop_listening()
        for link in self._snapshot():
            link.thread.join(2)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- faults -----------------------------------------------------------------------------

    def pause(self) -> None:
        self._switch(PAUSED)

    def blackhole(self) -> None:
        self._switch(BLACKHOLE)

    def reset(self) -> None:
        """Abort every current connection (RST both ways) and wait until they are gone."""
        links = self._snapshot()
        for link in links:
            link.stop = True
        for link in links:
            link.thread.join(2)

    def refuse(self) -> None:
        """Nothing listens on the port any more: new connections are refused."""
        self._stop_listening()

    def resume(self) -> None:
        """Back to normal on the same port: held bytes flow on, stalled connections thaw,
        swallowed connections reset.

        Normal first, then the resets: the other way round, a connection made in between
        would be swallowed after the sweep and hang until its client gives up.
        """
        if self._listener is None:
            self._listen()
        for link in self._snapshot():
            link.stalled = False
        self._switch(PASS)
        doomed = [link for link in self._snapshot() if link.doomed]
        for link in doomed:
            link.stop = True
        for link in doomed:
            link.thread.join(2)

    def on_client_bytes(self, pattern: bytes, action: str) -> threading.Event:
        """Arm a one-shot trigger; the returned event is set once it has fired."""
        if action not in ("pause", "pause-after", "stall", "drop", "lose-reply"):
            raise ValueError(action)
        trigger = _Trigger(pattern, action)
        with self._lock:
            self._triggers.append(trigger)
        return trigger.fired

    # -- internals --------------------------------------------------------------------------

    def _switch(self, mode: str) -> None:
        """Change mode and wait until no connection is still moving bytes under the old one."""
        self.mode = mode
        for link in self._snapshot():
            with link.gate:
                pass
        with self._changed:
            self._changed.notify_all()

    def wait_for_change(self) -> None:
        with self._changed:
            self._changed.wait(POLL_S)

    def take_trigger(self, data: bytes) -> _Trigger | None:
        with self._lock:
            for trigger in self._triggers:
                if trigger.pattern in data:
                    self._triggers.remove(trigger)
                    return trigger
            return None

    def connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(5)
            sock.connect(self.upstream)
        else:
            sock = socket.create_connection(self.upstream, timeout=5)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        return sock

    def forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)

    def _snapshot(self) -> list[_Link]:
        with self._lock:
            return list(self._links)

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True,
                                          name="fault-proxy-accept")
        self._acceptor.start()

    def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        listener.shutdown(socket.SHUT_RDWR)  # wakes the acceptor, which closes the listener
        self._acceptor.join(2)

    def _accept(self, listener: socket.socket) -> None:
        try:
            while self._listener is listener and not self.closing:
                try:
                    client, _ = listener.accept()
                except OSError:  # shut down by _stop_listening
                    return
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                client.settimeout(None)
                link = _Link(self, client)
                with self._lock:
                    if len(self._links) >= MAX_LINKS:
                        _abort(client)
                        continue
                    self._links.add(link)
                link.thread.start()
        finally:
            listener.close()
