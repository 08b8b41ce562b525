"""THE local HTTP server of the tests: the verified downloads, the Hub and ImageNet fetches and the browser
tests talk to 127.0.0.1 only, on a free port, never to the internet."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import threading
from collections.abc import Iterator

__all__ = ["QuietHandler", "closed_port_url", "serve"]


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that writes no request log (subclass it for a test server's own answers)."""

    def log_message(self, *args) -> None:
        pass


class _QuietFiles(QuietHandler, http.server.SimpleHTTPRequestHandler):
    pass


@contextlib.contextmanager
def serve(folder: str | os.PathLike | None = None, *, handler: type | None = None) -> Iterator[str]:
    """Serve the files of ``folder``, or answer with ``handler`` (a request handler class), on 127.0.0.1 at a
    free port in a thread; yields the base URL (``http://127.0.0.1:PORT``, no trailing slash)."""
    if (folder is None) == (handler is None):
        raise ValueError("give a folder or a handler")
    if handler is None:
        handler = functools.partial(_QuietFiles, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def closed_port_url(path: str = "") -> str:
    """A URL on 127.0.0.1 where nothing listens (a port just freed): connecting is refused at once."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}{path}"
