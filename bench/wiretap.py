"""A loopback TCP proxy that timestamps the websocket frames passing through it, for timing a real
browser at the wire.

Chromium's own frame events (DevTools ``Network.webSocketFrameReceived``) are stamped when the
page's main thread gets to each message, i.e. after React has rendered the ones before it; on a
2-core machine that adds the browser's rendering to every step. Between the browser and the server,
the proxy sees each frame when its last byte arrives, which is what the replay client measures too.
Plain HTTP (the page's assets) is passed through untouched.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

from bench.loadenv import free_port


class Wiretap:
    """``with Wiretap(upstream_port) as tap:`` browse ``tap.url``; ``tap.frames`` holds
    ``(direction, perf_counter seconds, payload)`` for each complete websocket message."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.frames: list[tuple[str, float, bytes]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Wiretap:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        os.sched_setaffinity(0, os.sched_getaffinity(os.getpid()) | set(range(os.cpu_count() or 1)))
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pump(reader, up_writer, "out"), self._pump(up_reader, writer, "in"),
                             return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str) -> None:
        """Copy bytes; once a websocket upgrade's headers have passed, cut the stream into frames."""
        buffer = b""
        upgraded = False
        message = b""
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                now = time.perf_counter()
                buffer += data
                if not upgraded:
                    head, sep, rest = buffer.partition(b"\r\n\r\n")
                    if not sep:
                        continue
                    if b"websocket" not in head.lower():  # plain HTTP: pass through, stop looking
                        buffer = b""
                        upgraded = None  # type: ignore[assignment]
                        continue
                    upgraded, buffer = True, rest
                if upgraded is None:
                    buffer = b""
                    continue
                while (frame := _frame(buffer)) is not None:
                    fin, opcode, payload, used = frame
                    buffer = buffer[used:]
                    if opcode in (0, 1, 2):
                        message += payload
                        if fin:
                            self.frames.append((direction, now, message))
                            message = b""
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


def _frame(buf: bytes) -> tuple[bool, int, bytes, int] | None:
    """One complete websocket frame at the start of ``buf``: (fin, opcode, unmasked payload, bytes used)."""
    if len(buf) < 2:
        return None
    fin, opcode = bool(buf[0] & 0x80), buf[0] & 0x0F
    masked, length = bool(buf[1] & 0x80), buf[1] & 0x7F
    pos = 2
    if length == 126:
        if len(buf) < 4:
            return None
        length, pos = int.from_bytes(buf[2:4], "big"), 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, pos = int.from_bytes(buf[2:10], "big"), 10
    key = b""
    if masked:
        if len(buf) < pos + 4:
            return None
        key, pos = buf[pos:pos + 4], pos + 4
    if len(buf) < pos + length:
        return None
    payload = buf[pos:pos + length]
    if masked:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return fin, opcode, payload, pos + length
