"""The load journey in a real browser (Debian's Chromium through Playwright), to check that the
protocol replay measures what a browser sees.

The Clerk token goes in the browser's ``__session`` cookie. Latency is read from the page's
websocket frames, decoded with the same protobuf classes as the replay, timestamped twice: at the
wire by a loopback proxy (``bench/wiretap.py``), and by Chromium as the page received them
(DevTools protocol), which includes the frontend's rendering of the messages before the last. A step runs from its ``rerun_script``
BackMsg to the next final ``script_finished`` ForwardMsg, as in ``bench/protocol.py``.
"""

from __future__ import annotations

import base64
import random
import re
import sys
import time

from google.protobuf.message import DecodeError
from playwright.sync_api import Page, expect, sync_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.journey import STEPS, Record, Sample
from bench.loadenv import ROOT, Keys
from bench.wiretap import Wiretap

sys.path.insert(0, str(ROOT / "tests"))
from e2e_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROW_HEIGHT,
    VIEWPORT,
    edit_text_cell,
    settle,
    sidebar_link,
)


def step_latency(frames: list[tuple[str, float, bytes]]) -> float | None:
    """From the first user rerun_script sent to the final script_finished after the last one; None
    until both are in ``frames`` (direction, seconds, payload)."""
    sent, finished = None, None
    for direction, t, raw in frames:
        if direction == "out":
            msg = BackMsg()
            msg.ParseFromString(raw)
            if msg.WhichOneof("type") == "rerun_script" and not msg.rerun_script.is_auto_rerun:
                sent = t if sent is None else sent
                finished = None  # a later rerun supersedes: wait for its finish
        elif sent is not None and len(raw) < 4096:  # a script_finished message is tiny
            fwd = ForwardMsg()
            try:
                fwd.ParseFromString(raw)
            except DecodeError:  # DevTools may cut long payloads short: not a script_finished
                continue
            if fwd.WhichOneof("type") == "script_finished" and \
                    fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                finished = t
    return None if sent is None or finished is None else finished - sent


class Frames:
    """Times one step twice: at the wire (the proxy between Chromium and the server, as the replay
    measures), and as the page's main thread received the frames (DevTools protocol events), which
    adds the frontend's own work on every message before the last."""

    def __init__(self, page: Page, tap: Wiretap) -> None:
        self.page = page
        self.tap = tap
        self.page_frames: list[tuple[str, float, bytes]] = []
        self.seen = self.tap_seen = 0
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.webSocketFrameSent", lambda e: self._add("out", e))
        cdp.on("Network.webSocketFrameReceived", lambda e: self._add("in", e))
        cdp.send("Network.enable")

    def _add(self, direction: str, event: dict) -> None:
        response = event.get("response", {})
        if response.get("opcode") == 2:  # binary: Streamlit's protobuf messages
            self.page_frames.append((direction, float(event["timestamp"]),
                                     base64.b64decode(response.get("payloadData", ""))))

    def mark(self) -> None:
        self.page.wait_for_timeout(1)  # deliver pending events first
        self.seen, self.tap_seen = len(self.page_frames), len(self.tap.frames)

    def step(self, timeout: float = 120.0) -> tuple[float, float]:
        """(at the wire, in the page) latency of the step since mark()."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wire = step_latency(self.tap.frames[self.tap_seen:])
            page = step_latency(self.page_frames[self.seen:])
            if wire is not None and page is not None:
                return wire, page
            self.page.wait_for_timeout(50)
        raise AssertionError("no rerun_script / script_finished pair in the page's frames")


def _journey(page: Page, tap: Wiretap, record: Record, in_page: Record, rng: random.Random, think: float,
             new_name: str) -> None:
    frames = Frames(page, tap)
    pause = lambda: page.wait_for_timeout(int(1000 * think * rng.uniform(0.5, 1.5)))  # noqa: E731

    def timed(step: str, action, check) -> None:
        frames.mark()
        action()
        wire, seen = frames.step()
        check()
        settle(page)
        record.samples.append(Sample(step, wire))
        in_page.samples.append(Sample(step, seen))
        pause()

    page.goto(tap.url)  # the first run starts as soon as the page connects
    wire, seen = frames.step()
    expect(page.get_by_text("Signed in as", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Stats", exact=True)).to_be_visible()
    settle(page)
    record.samples.append(Sample("sign_in", wire))
    in_page.samples.append(Sample("sign_in", seen))
    pause()

    period = page.get_by_test_id("stRadio").filter(has=page.get_by_text("Period", exact=True))
    timed("stats_period", lambda: period.get_by_text("90 days", exact=True).click(),
          lambda: expect(period.get_by_role("radio", name="90 days", exact=True)).to_be_checked())
    timed("tests", lambda: sidebar_link(page, "Tests").click(),
          lambda: expect(page.get_by_role("heading", name="Tests", exact=True)).to_be_visible())
    timed("tests_page_2", lambda: page.get_by_role("button", name="Next", exact=True).first.click(),
          lambda: expect(page.get_by_text(re.compile(r"^Rows 51–100 of"))).to_be_visible())

    def pick_failed() -> None:
        box = page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text("Status", exact=True))
        box.locator("input").click()
        page.get_by_role("option", name="Failed", exact=True).click()

    timed("tests_filter", pick_failed,
          lambda: expect(page.get_by_text(re.compile(r"^Rows 1–"))).to_be_visible())
    page.keyboard.press("Escape")
    timed("intents", lambda: sidebar_link(page, "Intents").click(),
          lambda: expect(page.get_by_test_id("stDataFrame")).to_be_visible())

    def edit() -> None:
        box = page.get_by_test_id("stDataFrame").bounding_box()
        assert box
        edit_text_cell(page, box["x"] + 70, box["y"] + ROW_HEIGHT * 1.5, new_name, column=1, row=0)

    timed("intents_edit", edit,
          lambda: expect(page.get_by_text("Unsaved: 0 new, 1 changed, 0 to delete", exact=True)).to_be_visible())
    timed("intents_save", lambda: page.get_by_role("button", name="Save", exact=True).click(),
          lambda: expect(page.get_by_text(re.compile(r"^Saved: 0 added, 1 changed"))).to_be_visible())
    timed("stats", lambda: sidebar_link(page, "Stats").click(),
          lambda: expect(page.get_by_role("heading", name="Stats", exact=True)).to_be_visible())


def browser_journeys(url: str, keys: Keys, user: str, count: int, record: Record, in_page: Record, *,
                     think: float = 2.0, seed: int = 7) -> None:
    """``count`` journeys in Chromium as ``user``, each in a fresh browser context (a new session);
    latencies at the wire go to ``record``, as the page's main thread saw them to ``in_page``."""
    rng = random.Random(seed)
    port = int(url.rsplit(":", 1)[1])
    with sync_playwright() as p, Wiretap(port) as tap:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for j in range(count):
                context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
                context.add_cookies([{"name": "__session", "value": keys.token(user), "url": tap.url}])
                context.set_default_timeout(60_000)
                page = context.new_page()
                record.journeys += 1
                try:
                    _journey(page, tap, record, in_page, rng, think, f"browser {user} {j} {rng.randrange(10**9)}")
                    record.completed += 1
                except Exception as err:  # recorded as the benchmark's error, not raised
                    done = {s.step for s in record.samples[-len(STEPS):]}
                    step = next((s for s in STEPS if s not in done), "?")
                    record.errors.append((step, f"{type(err).__name__}: {str(err)[:300]}"))
                finally:
                    context.close()
        finally:
            browser.close()
