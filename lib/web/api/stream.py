"""A blocking writer (the store's export, which writes into a binary file) as an async byte stream, with
memory flat whatever the size: the export runs in a thread of its own and blocks while ``QUEUED``
chunks wait for the client; a client that goes away stops the export at its next write."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import IO, Any

QUEUED = 4  # chunks in flight between the export and the socket (the COPY path writes ~1 MB at a time)
_DONE = object()


class ClientGone(Exception):
    """The client stopped reading: the export is abandoned."""


class _Pipe:
    """The file the export writes into: each write becomes a chunk for the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
        self._loop, self._queue = loop, queue
        self._room = threading.Semaphore(QUEUED)
        self.gone = threading.Event()

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        while not self._room.acquire(timeout=1.0):
            if self.gone.is_set():
                raise ClientGone()
        if self.gone.is_set():
            raise ClientGone()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, bytes(data))
        return len(data)

    def taken(self) -> None:
        self._room.release()

    def finish(self, outcome: Any) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (_DONE, outcome))


async def start(export: Callable[[IO[bytes]], Any]) -> tuple[bytes, AsyncIterator[bytes], Callable[[], Any]]:
    """Run ``export(file)`` in a thread; wait for its first chunk (so a refusal before any byte, such as
    no free export slot, raises here and can still be answered with a status).  Returns the first chunk,
    the rest as an async iterator, and a function giving the export's result once the iterator is done."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    pipe = _Pipe(loop, queue)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            pipe.finish((True, export(pipe)))  # type: ignore[arg-type]
        except BaseException as err:  # handed to the event loop, re-raised there
            pipe.finish((False, err))

    threading.Thread(target=run, name="api-export", daemon=True).start()

    async def next_chunk() -> bytes | None:
        item = await queue.get()
        if isinstance(item, tuple) and item and item[0] is _DONE:
            ok, value = item[1]
            if not ok:
                raise value
            result["value"] = value
            return None
        pipe.taken()
        return item

    try:
        first = await next_chunk()
    except BaseException:
        pipe.gone.set()
        raise

    async def rest() -> AsyncIterator[bytes]:
        try:
            while first is not None:
                chunk = await next_chunk()
                if chunk is None:
                    return
                yield chunk
        finally:
            pipe.gone.set()
            pipe.taken()  # unblock a writer waiting for room: it sees `gone` and stops

    return first or b"", rest(), lambda: result.get("value")
