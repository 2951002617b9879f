"""What a screen shows while its first read waits for the database: a skeleton where its data will be.

dashboard/app.py defers the render's version check to the screen's first read (lib.store.queries
``defer_check``); the hook here draws the skeleton at that point (below the screen's title and controls),
runs the check, and shows the "Showing data from" notice in the slot the app reserved at the top.  The app
clears the skeleton when the screen is done (or failed); a screen that ends early calls ``stop`` (after
``st.stop()`` nothing more reaches the page, so the app's clearing would never arrive).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import NoReturn

import streamlit as st

from lib.i18n import _
from lib.screens.formatting import fmt_time
from lib.store.queries import Freshness

_SKELETON = """<div role="status" aria-live="polite" class="dash-skeleton">
<style>
.dash-skeleton .bar {{ height: 1.1rem; margin: 0.7rem 0; border-radius: 0.4rem;
  background: linear-gradient(90deg, rgba(128,128,128,.12) 25%, rgba(128,128,128,.22) 50%, rgba(128,128,128,.12) 75%);
  background-size: 200% 100%; animation: dash-shimmer 1.2s infinite linear; }}
@keyframes dash-shimmer {{ from {{ background-position: 200% 0; }} to {{ background-position: -200% 0; }} }}
</style>
<p style="opacity:.7">{text}</p>
<div class="bar" style="width:92%"></div><div class="bar" style="width:76%"></div><div class="bar" style="width:84%"></div>
</div>"""


class Skeleton:
    """The render's loading skeleton and its notice slot; ``hook`` is the deferred check's hook."""

    def __init__(self, notice_slot: st.delta_generator.DeltaGenerator,
                 then: Callable[[], None] | None = None) -> None:
        """``then``: drawn right after the check (the subscription banner, into its slot above the screen)."""
        self._notice = notice_slot
        self._slot: st.delta_generator.DeltaGenerator | None = None
        self._then = then
        _current.set(self)

    def hook(self, check: Callable[[], Freshness]) -> Freshness:
        self._slot = st.empty()
        self._slot.html(_SKELETON.format(text=_("Loading…")))
        fresh = check()
        notice = fresh.notice(fmt_time)
        if notice:
            self._notice.warning(notice, icon=":material/cloud_off:")
        if self._then is not None:
            self._then()
        return fresh

    def clear(self) -> None:
        if self._slot is not None:
            self._slot.empty()
            self._slot = None


_current: ContextVar[Skeleton | None] = ContextVar("loading_skeleton", default=None)


def stop() -> NoReturn:
    """End the screen here (``st.stop``), its loading skeleton cleared first."""
    if (skeleton := _current.get()) is not None:
        skeleton.clear()
    st.stop()
    raise AssertionError("st.stop() returned")  # unreachable: Streamlit stops the script at its next yield
