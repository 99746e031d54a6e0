"""Serve the dashboard page on 127.0.0.1 (a free port), re-reading the data every period.

Only the loopback interface is bound: the page shows log lines and resource names, and
nothing here authenticates a reader. The page is rebuilt in a background thread; a
reader always gets the last complete page, and a failed refresh keeps the previous page
(the failure is handed to `on_error`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"


class PageServer:
    """An HTTP server for one page that `build()` makes; `refresh()` rebuilds it."""

    def __init__(
        self,
        build: Callable[[], str],
        on_error: Callable[[BaseException], None],
        page: str | None = None,
        port: int = 0,
    ) -> None:
        self.build, self.on_error = build, on_error
        self.page = build() if page is None else page
        self.refreshes = 0
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] not in ("/", "/index.html"):
                    self.send_error(404)
                    return
                body = server.page.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # quiet: the terminal shows the URL and refresh failures only

        self.httpd = ThreadingHTTPServer((HOST, port), Handler)
        self.url = f"http://{HOST}:{self.httpd.server_address[1]}/"

    def refresh(self) -> None:
        try:
            self.page = self.build()
            self.refreshes += 1
        except Exception as exc:  # noqa: BLE001 - any failure keeps the last page; on_error reports it
            self.on_error(exc)

    def serve(self, every_seconds: float) -> None:
        """Serve until stop() or Ctrl-C (KeyboardInterrupt propagates to the caller)."""
        refresher = threading.Thread(target=self._refresh_loop, args=(every_seconds,), daemon=True)
        refresher.start()
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self._stop.set()
            self.httpd.server_close()

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()

    def _refresh_loop(self, every_seconds: float) -> None:
        while not self._stop.wait(every_seconds):
            self.refresh()
