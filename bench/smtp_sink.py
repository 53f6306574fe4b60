"""A local SMTP server that accepts every message and counts it: the benchmarks'
mail sink, run in a process of its own (``python bench/smtp_sink.py``).

It speaks enough ESMTP for Django's SMTP backend (EHLO/HELO, MAIL, RCPT, DATA,
RSET, NOOP, QUIT), serves any number of connections at once (asyncio), and
remembers each message's Subject, which in the benchmarks names one order, so
losses and duplicates show. A second port takes control commands, one per line:
``RESET`` forgets everything, ``COUNT`` answers the number of messages,
``STATS`` one JSON line (``{"messages": n, "bytes": n, "subjects": {subject:
count}}``).

It prints ``<smtp port> <control port>`` on its first line of output once it
listens. ``--send N --port P --message FILE`` is the other end, to measure the
sink alone: it sends N copies of a message, one SMTP connection each (as
Django's SMTP backend does for one message), and prints its start and end time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path


def _subject(message: bytes) -> str:
    """The Subject header (unfolded, still RFC 2047-encoded if it was)."""
    head = message.split(b"\r\n\r\n", 1)[0]
    for line in head.replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ").split(b"\r\n"):
        if line[:8].lower() == b"subject:":
            return line[8:].strip().decode("utf-8", "replace")
    return ""


class Sink:
    """What the sink has received since the last reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.subjects: Counter[str] = Counter()

    def add(self, data: bytes) -> None:
        self.messages += 1
        self.bytes += len(data)
        self.subjects[_subject(data)] += 1

    def stats(self) -> dict:
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "subjects": dict(self.subjects),
        }


async def smtp_session(
    sink: Sink, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    def reply(text: str) -> None:
        writer.write(text.encode() + b"\r\n")

    reply("220 localhost bench sink ESMTP")
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                reply("250-localhost\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SMTPUTF8")
            elif verb == b"DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                await writer.drain()
                data = await reader.readuntil(b"\r\n.\r\n")
                sink.add(data[:-5].replace(b"\r\n..", b"\r\n."))
                reply("250 2.0.0 Queued")
            elif verb == b"QUIT":
                reply("221 Bye")
                await writer.drain()
                return
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                reply("250 OK")
            else:
                reply("502 Command not implemented")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def control_session(
    sink: Sink, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while line := await reader.readline():
            command = line.strip().upper()
            if command == b"RESET":
                sink.reset()
                writer.write(b"OK\n")
            elif command == b"COUNT":
                writer.write(b"%d\n" % sink.messages)
            elif command == b"STATS":
                writer.write(json.dumps(sink.stats()).encode() + b"\n")
            else:
                writer.write(b"ERROR unknown command\n")
            await writer.drain()
    except ConnectionError:
        return
    finally:
        writer.close()


async def serve(host: str, port: int, control_port: int) -> None:
    sink = Sink()
    smtp = await asyncio.start_server(
        lambda r, w: smtp_session(sink, r, w), host, port, backlog=1024, limit=2**24
    )
    control = await asyncio.start_server(
        lambda r, w: control_session(sink, r, w), host, control_port
    )
    print(
        smtp.sockets[0].getsockname()[1],
        control.sockets[0].getsockname()[1],
        flush=True,
    )
    async with smtp, control:
        await asyncio.gather(smtp.serve_forever(), control.serve_forever())


def send_copies(host: str, port: int, count: int, path: str, tag: str) -> None:
    """Send ``count`` copies of the message in ``path``, each with its own
    subject and connection; print ``{"start": t, "end": t}`` (epoch seconds)."""
    import smtplib
    import time

    data = Path(path).read_bytes()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.startswith(b"Subject:")]
    start = time.time()
    for index in range(count):
        subject = b"Subject: sink test #%s-%d" % (tag.encode(), index)
        message = b"\r\n".join([*lines, subject]) + b"\r\n\r\n" + body
        with smtplib.SMTP(host, port) as client:
            client.sendmail("shop@example.com", ["customer@example.com"], message)
    print(json.dumps({"start": start, "end": time.time()}), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="SMTP port (0: any)")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--send", type=int, help="send this many messages instead")
    parser.add_argument("--message", help="the message file --send sends (CRLF)")
    parser.add_argument("--tag", default="S", help="--send: subject prefix")
    args = parser.parse_args(argv)
    if args.send is not None:
        send_copies(args.host, args.port, args.send, args.message, args.tag)
        return
    try:
        asyncio.run(serve(args.host, args.port, args.control_port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
