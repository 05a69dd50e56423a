"""A TCP proxy in front of a live server that can lose one answer: it forwards everything both ways,
and when armed with a request line prefix it lets that request reach the server, waits for the
server's answer, and closes the client's connection instead of passing the answer on — a connection
dropped after the server did the work, as a flaky network or a restarted proxy does it."""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.serve.live import free_port


class DroppingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.armed: bytes | None = None
        self.dropped = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def drop_answer_to(self, request_prefix: str) -> None:
        """Lose the answer to the next request whose request line starts with `request_prefix`."""
        self.armed = request_prefix.encode()

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(self.upstream)
            state = {"drop": False}
            threading.Thread(target=self._requests, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client, state), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]) -> None:
        try:
            while data := client.recv(65536):
                with self._lock:
                    if self.armed is not None and data.startswith(self.armed):
                        state["drop"], self.armed = True, None
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(upstream)

    def _answers(self, upstream: socket.socket, client: socket.socket, state: dict[str, bool]) -> None:
        try:
            while data := upstream.recv(65536):
                if state["drop"]:  # the server answered: lose it and hang up on the client
                    with self._lock:
                        self.dropped += 1
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
