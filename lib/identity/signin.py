"""Sign-in: the one place that decides who a session's user is and puts the id in
``st.session_state[USER_KEY]``.

The verified identity lives under a private key set only by this package's sign-in modules, right
after a check passed (a password in local mode, ``local_signin``; a Clerk session token in clerk
mode, ``clerk_signin``). Every run re-derives ``USER_KEY`` from it, so neither a query parameter, a
widget nor a header can choose the user.
"""

from __future__ import annotations

from lib.config import Settings
from lib.identity.clerk_signin import clerk_gate
from lib.identity.local_signin import local_gate


def gate(settings: Settings) -> str | None:
    """The verified user id, with the sidebar account box rendered; else the sign-in screen and None."""
    if settings.auth_mode == "clerk":
        return clerk_gate(settings)
    return local_gate(settings)
