"""A scripted SMTP server on 127.0.0.1, so SMTP errors come from a real socket.

Each command gets the reply the test chose (by verb), e.g. ``{"RCPT": "550 No
such user"}``; everything else succeeds. ``greet=False`` never says hello (a
timeout); ``drop_after_greeting=True`` hangs up after it (a disconnect).
"""

from __future__ import annotations

import contextlib
import socket
import threading

DEFAULT_REPLIES = {
    "EHLO": "250-localhost\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME",
    "HELO": "250 localhost",
    "AUTH": "235 2.7.0 Authentication successful",
    "MAIL": "250 2.1.0 OK",
    "RCPT": "250 2.1.5 OK",
    "DATA": "354 End data with <CR><LF>.<CR><LF>",
    "END_DATA": "250 2.0.0 Queued",
    "RSET": "250 OK",
    "NOOP": "250 OK",
    "QUIT": "221 Bye",
}


class ScriptedSMTPServer:
    """Serves connections in a thread until :meth:`stop`."""

    def __init__(
        self,
        replies: dict[str, str] | None = None,
        *,
        greet: bool = True,
        drop_after_greeting: bool = False,
    ):
        self.replies = {**DEFAULT_REPLIES, **(replies or {})}
        self.greet = greet
        self.drop_after_greeting = drop_after_greeting
        self.commands: list[str] = []
        self.messages: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stopped = threading.Event()
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ScriptedSMTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        if self._conn is not None:
            # The client may have left the session open (after an error).
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self._conn = conn
            with conn, contextlib.suppress(OSError):
                self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        if not self.greet:
            self._stopped.wait(10)
            return
        conn.sendall(b"220 localhost ESMTP ready\r\n")
        if self.drop_after_greeting:
            return
        reader = conn.makefile("rb")
        while not self._stopped.is_set():
            line = reader.readline()
            if not line:
                return
            command = line.decode("ascii", "replace").strip()
            self.commands.append(command)
            verb = command.split(" ", 1)[0].upper()
            reply = self.replies.get(verb, "502 Command not implemented")
            conn.sendall(reply.encode() + b"\r\n")
            if verb == "DATA" and reply.startswith("354"):
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = reader.readline()
                    if not chunk:
                        return
                    data += chunk
                self.messages.append(data)
                conn.sendall(self.replies["END_DATA"].encode() + b"\r\n")
            if verb == "QUIT":
                return
