"""A Streamlit client that speaks the browser's protocol: protobuf ``BackMsg`` up, ``ForwardMsg`` down,
over the ``/_stcore/stream`` websocket. ``bench/load.py`` replays user journeys with it.

What it does the way Streamlit's frontend does (read from the 1.67 sources, and checked against
the frames a real Chromium sends, see ``bench/load.py``'s browser run):

* connect with the ``streamlit`` subprotocol and the request's cookies (the app reads Clerk's
  ``__session`` cookie from ``st.context.cookies``, frozen at connect time); no ``Origin`` header,
  which Streamlit allows, so no XSRF token is needed (it only guards Streamlit's own auth cookie);
* every run is a ``rerun_script`` ``ClientState``: the page (``page_script_hash`` from the
  ``navigation`` message, as a sidebar click sends it), the widget values the client holds, and the
  hashes of the large messages it has cached (the server answers those with ``ref_hash``);
* widget values are kept per widget id, as the frontend's WidgetStateManager keeps them, and
  dropped when the widget is not in a finished run any more; triggers (buttons) are sent once;
* widget ids come from the element protos of the last run (``Element.<type>.id``), found by type
  and label, never computed.

A run ends at ``script_finished``: ``FINISHED_EARLY_FOR_RERUN`` (``st.rerun()``) is not the end,
the run that follows is.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY
EARLY_FOR_RERUN = ForwardMsg.FINISHED_EARLY_FOR_RERUN
ALERT_NAMES = {1: "error", 2: "warning", 3: "info", 4: "success"}
CACHE_RUNS = 2  # runs a cached message is kept unreferenced (the frontend's maxCachedMessageAge)


class ProtocolError(Exception):
    """The server closed the socket, timed out, or sent something a browser would show as broken."""


@dataclass
class Run:
    """One finished script run as the client received it."""

    latency: float  # seconds from sending the BackMsg to the final script_finished
    elements: dict[tuple[int, ...], Element] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)  # every script_finished status, in order
    page_not_found: bool = False
    compile_error: str | None = None
    bytes_received: int = 0
    messages: int = 0

    def of_type(self, kind: str) -> Iterator[tuple[tuple[int, ...], Any]]:
        for path, element in sorted(self.elements.items()):
            if element.WhichOneof("type") == kind:
                yield path, getattr(element, kind)

    def widget(self, kind: str, label: str | None = None, *, startswith: str | None = None,
               first: bool = False) -> Any:
        """The one widget proto of ``kind`` whose label is ``label`` (or starts with ``startswith``); with
        ``first``, the first of several in page order (a pager drawn above and below a table)."""
        found = [w for _, w in self.of_type(kind)
                 if (label is None or w.label == label) and (startswith is None or w.label.startswith(startswith))]
        if first and found:
            return found[0]
        if len(found) != 1:
            raise ProtocolError(f"expected one {kind} labelled {label or startswith!r}, found {len(found)}")
        return found[0]

    def texts(self) -> list[str]:
        """Every visible text of the run: markdown, headings, plain text, metric labels and values, alerts."""
        out = []
        for element in self.elements.values():
            kind = element.WhichOneof("type")
            if kind in ("markdown", "heading", "text"):
                out.append(getattr(element, kind).body)
            elif kind == "metric":
                out += [element.metric.label, element.metric.body]
            elif kind == "alert":
                out.append(element.alert.body)
        return out

    def has_text(self, needle: str) -> bool:
        return any(needle in t for t in self.texts())

    def alerts(self, name: str) -> list[str]:
        return [a.body for _, a in self.of_type("alert") if ALERT_NAMES.get(a.format) == name]

    def exceptions(self) -> list[str]:
        return [f"{e.type}: {e.message}" for _, e in self.of_type("exception")]

    def problems(self, expected_errors: Iterable[str] = ()) -> list[str]:
        """What a user would see as broken: exceptions, st.error with unexpected text, a missing page."""
        out = [f"exception {e}" for e in self.exceptions()]
        out += [f"st.error {body[:120]!r}" for body in self.alerts("error")
                if not any(x in body for x in expected_errors)]
        if self.page_not_found:
            out.append("page not found")
        if self.compile_error:
            out.append(f"compile error {self.compile_error}")
        if self.statuses and self.statuses[-1] != FINISHED:
            out.append(f"script_finished status {self.statuses[-1]}")
        return out


class Session:
    """One browser tab's websocket session with the app."""

    def __init__(self, base_url: str, *, cookies: dict[str, str] | None = None, timeout: float = 120.0) -> None:
        self.ws_url = base_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/_stcore/stream"
        self.cookies = cookies or {}
        self.timeout = timeout
        self.ws: Any = None
        self.pages: dict[str, str] = {}  # page title and url path -> page_script_hash (the navigation message)
        self.page_hash = ""
        self.query_string = ""  # the page's URL query as the app last set it (st.query_params), sent back as a browser does
        self.widgets: dict[str, WidgetState] = {}  # widget id -> the value this client holds
        self._cache: dict[str, tuple[ForwardMsg, int]] = {}  # hash -> (message, run it was last used in)
        self._fragment_run = False
        self._runs = 0
        self.last: Run | None = None
        self.auto_reruns: dict[str, float] = {}  # fragment id -> seconds (st.fragment(run_every=...))

    async def connect(self) -> None:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.ws = await asyncio.wait_for(
            websockets.connect(self.ws_url, subprotocols=["streamlit"], additional_headers=headers,
                               max_size=None, compression=None, open_timeout=self.timeout, ping_interval=None),
            self.timeout)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    # -- widget values, set the way the frontend's WidgetStateManager sets them ------------------

    def set_string(self, widget_id: str, value: str) -> None:
        self.widgets[widget_id] = WidgetState(id=widget_id, string_value=value)

    def set_double(self, widget_id: str, value: float) -> None:
        self.widgets[widget_id] = WidgetState(id=widget_id, double_value=value)

    def set_strings(self, widget_id: str, values: list[str]) -> None:
        state = WidgetState(id=widget_id)
        state.string_array_value.data.extend(values)
        self.widgets[widget_id] = state

    def set_json(self, widget_id: str, value: Any) -> None:
        self.widgets[widget_id] = WidgetState(id=widget_id, string_value=json.dumps(value))

    # -- runs --------------------------------------------------------------------------------

    async def rerun(self, *, page: str | None = None, triggers: Iterable[str] = (), fragment: str = "") -> Run:
        """Send one rerun_script (optionally switching to the page titled, or at url path, ``page``, or rerunning one
        fragment as the frontend's auto-rerun timer does) and read until the final script_finished;
        raises ProtocolError on a closed socket or a timeout."""
        if page is not None:
            if page not in self.pages:
                raise ProtocolError(f"no page {page!r} in the navigation ({sorted(self.pages)})")
            self.page_hash = self.pages[page]
            self.query_string = ""  # a sidebar link opens the screen's bare URL
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_hash
        state.widget_states.widgets.extend(self.widgets.values())
        for trigger in triggers:
            state.widget_states.widgets.append(WidgetState(id=trigger, trigger_value=True))
        state.cached_message_hashes.extend(self._cache)
        state.context_info.timezone = "UTC"
        state.context_info.timezone_offset = 0
        state.context_info.locale = "en-US"
        state.context_info.is_embedded = False
        if fragment:
            state.fragment_id = fragment
            state.is_auto_rerun = True
        self._runs += 1
        run = Run(latency=0.0)
        if fragment and self.last is not None:  # a fragment run replaces only the fragment's elements
            run.elements = dict(self.last.elements)
        self._fragment_run = bool(fragment)
        started = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        deadline = started + self.timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise ProtocolError(f"timeout: no script_finished in {self.timeout:.0f}s")
            try:
                data = await asyncio.wait_for(self.ws.recv(), remaining)
            except TimeoutError:
                raise ProtocolError(f"timeout: no script_finished in {self.timeout:.0f}s") from None
            except websockets.ConnectionClosed as err:
                raise ProtocolError(f"disconnected ({err.rcvd.code if err.rcvd else 'no close frame'})") from None
            run.bytes_received += len(data)
            run.messages += 1
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            if self._handle(fwd, run):
                run.latency = time.perf_counter() - started
                break
        self._forget_stale(run)
        self.last = run
        return run

    def _handle(self, fwd: ForwardMsg, run: Run) -> bool:
        """Apply one message; True at the final script_finished of the run."""
        kind = fwd.WhichOneof("type")
        if kind == "ref_hash":
            cached = self._cache.get(fwd.ref_hash)
            if cached is None:
                raise ProtocolError("the server referred to a message this client never cached")
            original = ForwardMsg()
            original.CopyFrom(cached[0])
            original.metadata.delta_path[:] = fwd.metadata.delta_path
            fwd, kind = original, original.WhichOneof("type")
        if fwd.metadata.cacheable and fwd.hash:
            self._cache[fwd.hash] = (fwd, self._runs)
        if kind == "new_session":
            self.page_hash = fwd.new_session.page_script_hash or self.page_hash
            if not self._fragment_run:  # a new full run (after st.rerun() too): earlier elements are stale
                run.elements.clear()
                self.auto_reruns.clear()  # the frontend drops its timers; the run registers them again
        elif kind == "auto_rerun":
            self.auto_reruns[fwd.auto_rerun.fragment_id] = fwd.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fragment_id in fwd.stop_auto_rerun.fragment_ids:
                self.auto_reruns.pop(fragment_id, None)
        elif kind == "navigation":
            pages = fwd.navigation.app_pages
            self.pages = {**{p.url_pathname: p.page_script_hash for p in pages},
                          **{p.page_name: p.page_script_hash for p in pages}}
            self.page_hash = fwd.navigation.page_script_hash
        elif kind == "delta":
            delta = fwd.delta
            path = tuple(fwd.metadata.delta_path)
            if delta.WhichOneof("type") == "new_element":
                run.elements[path] = delta.new_element
        elif kind == "page_info_changed":
            self.query_string = fwd.page_info_changed.query_string
        elif kind == "page_not_found":
            run.page_not_found = True
        elif kind == "session_event" and fwd.session_event.HasField("script_compilation_exception"):
            run.compile_error = fwd.session_event.script_compilation_exception.message
        elif kind == "script_finished":
            run.statuses.append(fwd.script_finished)
            return fwd.script_finished != EARLY_FOR_RERUN
        return False

    def _forget_stale(self, run: Run) -> None:
        """After a finished run: drop values of widgets no longer shown; age the message cache."""
        shown = set()
        for element in run.elements.values():
            proto = getattr(element, element.WhichOneof("type") or "", None)
            widget_id = getattr(proto, "id", "")
            if widget_id:
                shown.add(widget_id)
        self.widgets = {k: v for k, v in self.widgets.items() if k in shown}
        self._cache = {h: (m, used) for h, (m, used) in self._cache.items() if self._runs - used <= CACHE_RUNS}
