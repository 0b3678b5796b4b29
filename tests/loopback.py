"""Real HTTP servers on 127.0.0.1 for the download tests: honest, dropping and padding.

Every server is bounded: a socket timeout per request, shut down when the
``with`` block ends.
"""
import contextlib
import functools
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REQUEST_TIMEOUT_SECONDS = 10


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves a folder as it is (``Content-Length`` included), without logging."""
    timeout = REQUEST_TIMEOUT_SECONDS

    def log_message(self, format, *args):
        pass


class DroppingHandler(QuietHandler):
    """Announces a file's full ``Content-Length``, sends half of it, then closes the connection."""

    def do_GET(self):
        content = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content[:len(content) // 2])
        self.close_connection = True


class PaddingHandler(QuietHandler):
    """Sends a file followed by 1 MiB of zeros, with no ``Content-Length`` (the close ends the body)."""

    def do_GET(self):
        content = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(content + bytes(1 << 20))
        self.close_connection = True


class RedirectingHandler(QuietHandler):
    """Answers ``/moved/<path>`` with a 302 to ``/<path>`` (a body announcing its own length), serves the rest."""

    def do_GET(self):
        if not self.path.startswith("/moved/"):
            return super().do_GET()
        body = b"moved"
        self.send_response(302)
        self.send_header("Location", self.path.removeprefix("/moved"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    """A client that hangs up early (a browser dropping a request it no longer needs) is not an error."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(folder, handler=QuietHandler):
    """Serve ``folder`` on 127.0.0.1 with ``handler``; yields the base URL (no trailing slash)."""
    server = _Server(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=REQUEST_TIMEOUT_SECONDS)


class StallingHandler(QuietHandler):
    """Sends half of a file, then stalls until ``release`` is set (at most the request timeout)."""
    release = threading.Event()

    def do_GET(self):
        content = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content[:len(content) // 2])
        self.wfile.flush()
        self.release.wait(REQUEST_TIMEOUT_SECONDS)
        self.close_connection = True
