"""The load journey in a real browser (Debian's Chromium through Playwright), to check that the
protocol replay measures what a browser sees.

The Clerk token goes in the browser's ``__session`` cookie. Latency is read from the page's own
websocket frames: an init script timestamps every frame the page sends and receives
(``performance.now()``, before Streamlit's handler sees it) and keeps the small ones; they are
decoded here with the same protobuf classes as the replay. A step runs from its ``rerun_script``
BackMsg to the next final ``script_finished`` ForwardMsg, as in ``bench/protocol.py``.
"""

from __future__ import annotations

import base64
import random
import re
import sys
import time

from playwright.sync_api import Page, expect, sync_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.journey import STEPS, Record, Sample
from bench.loadenv import ROOT, Keys

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

FRAME_LOG = """
(() => {
  const log = [];
  window.__frames = log;
  const keep = (data) => {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data)
      : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
    if (!bytes) return [null, -1];
    if (bytes.length > 4096) return [null, bytes.length];
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return [btoa(s), bytes.length];
  };
  const Native = window.WebSocket;
  const send = Native.prototype.send;
  Native.prototype.send = function (data) {
    const [b64, n] = keep(data);
    log.push(['out', performance.now(), b64, n]);
    return send.call(this, data);
  };
  function Logged(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener('message', (ev) => {
      const [b64, n] = keep(ev.data);
      log.push(['in', performance.now(), b64, n]);
    });
    return ws;
  }
  Logged.prototype = Native.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Logged[k] = Native[k];
  window.WebSocket = Logged;
})();
"""


class Frames:
    """Reads the page's frame log and times one step."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.seen = 0

    def mark(self) -> None:
        self.seen = self.page.evaluate("window.__frames.length")

    def step_latency(self, timeout: float = 120.0) -> float:
        """From the first user rerun_script sent since mark() to the final script_finished after the last one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frames = self.page.evaluate(f"window.__frames.slice({self.seen})")
            sent, finished = None, None
            for direction, t, b64, _n in frames:
                if b64 is None:
                    continue
                raw = base64.b64decode(b64)
                if direction == "out":
                    msg = BackMsg()
                    msg.ParseFromString(raw)
                    if msg.WhichOneof("type") == "rerun_script" and not msg.rerun_script.is_auto_rerun:
                        sent = t if sent is None else sent
                        finished = None  # a later rerun supersedes: wait for its finish
                elif sent is not None:
                    fwd = ForwardMsg()
                    try:
                        fwd.ParseFromString(raw)
                    except Exception:  # not a ForwardMsg we can read: not a finish
                        continue
                    if fwd.WhichOneof("type") == "script_finished" and \
                            fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                        finished = t
            if sent is not None and finished is not None:
                return (finished - sent) / 1000
            self.page.wait_for_timeout(50)
        raise AssertionError("no rerun_script / script_finished pair in the page's frames")


def _journey(page: Page, url: str, record: Record, rng: random.Random, think: float, new_name: str) -> None:
    frames = Frames(page)
    pause = lambda: page.wait_for_timeout(int(1000 * think * rng.uniform(0.5, 1.5)))  # noqa: E731

    def timed(step: str, action, check) -> None:
        frames.mark()
        action()
        latency = frames.step_latency()
        check()
        settle(page)
        record.samples.append(Sample(step, latency))
        pause()

    page.goto(url)
    page.wait_for_function("window.__frames !== undefined")
    frames.seen = 0  # the first run starts as soon as the page connects
    latency = frames.step_latency()
    expect(page.get_by_text("Signed in as", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    settle(page)
    record.samples.append(Sample("sign_in", latency))
    pause()

    period = page.get_by_test_id("stRadio").filter(has=page.get_by_text("Period", exact=True))
    timed("stats_period", lambda: period.get_by_text("90 days", exact=True).click(),
          lambda: expect(period.get_by_role("radio", name="90 days", exact=True)).to_be_checked())
    timed("tests", lambda: sidebar_link(page, "Tests").click(),
          lambda: expect(page.get_by_role("heading", name="Test calls", exact=True)).to_be_visible())
    timed("tests_page_2", lambda: page.get_by_test_id("stNumberInputStepUp").click(),
          lambda: expect(page.get_by_text(re.compile(r"^Showing 51–100 of"))).to_be_visible())

    def pick_failed() -> None:
        box = page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text("Status", exact=True))
        box.locator("input").click()
        page.get_by_role("option", name="Failed", exact=True).click()

    timed("tests_filter", pick_failed,
          lambda: expect(page.get_by_text(re.compile(r"^Showing 1–"))).to_be_visible())
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
          lambda: expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible())


def browser_journeys(url: str, keys: Keys, user: str, count: int, record: Record, *, think: float = 2.0) -> None:
    """``count`` journeys in Chromium as ``user``, each in a fresh browser context (a new session)."""
    rng = random.Random(7)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for j in range(count):
                context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
                context.add_cookies([{"name": "__session", "value": keys.token(user), "url": url}])
                context.add_init_script(FRAME_LOG)
                context.set_default_timeout(60_000)
                page = context.new_page()
                record.journeys += 1
                try:
                    _journey(page, url, record, rng, think, f"browser {user} {j} {rng.randrange(10**9)}")
                    record.completed += 1
                except Exception as err:  # recorded as the benchmark's error, not raised
                    done = {s.step for s in record.samples[-len(STEPS):]}
                    step = next((s for s in STEPS if s not in done), "?")
                    record.errors.append((step, f"{type(err).__name__}: {str(err)[:300]}"))
                finally:
                    context.close()
        finally:
            browser.close()
