"""Serve the explorer on a local address (a threaded WSGI server that stops on request)."""
from __future__ import annotations

import logging
import threading

from werkzeug.serving import BaseWSGIServer, make_server

from .app import create_app
from .backend import Backend


def make_explorer_server(host: str = "127.0.0.1", port: int = 8050, backend: Backend | None = None,
                         max_samples: int | None = None) -> BaseWSGIServer:
    """A server for the explorer app (``port=0``: a free port; ``server.server_port`` tells which)."""
    if backend is None:
        backend = Backend() if max_samples is None else Backend(max_samples=max_samples)
    app = create_app(backend)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    return make_server(host, port, app.server, threaded=True)


class BackgroundServer:
    """The explorer served from a thread (for tests and benchmarks); ``stop()`` ends it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, backend: Backend | None = None):
        self.server = make_explorer_server(host, port, backend)
        self.url = f"http://{host}:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)

    def __enter__(self) -> "BackgroundServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
