"""The Export screen's "API access" section: personal access tokens (create, shown once with a copy button
and a curl example; list; revoke) and signed links (create, list, revoke all by rotating the link key).
Everything it does is one lib.store.api_access call as the signed-in user; nothing is cached, so a list
is always the database's."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

import streamlit as st

from lib.errors import StoreError
from lib.i18n import _, ngettext
from lib.models import utcnow
from lib.screens.formatting import fmt_datetime
from lib.store import queries
from lib.store.api_access import EXPIRY_DAYS, LINK_MAX_DAYS, MAX_ACTIVE, ApiAccess, ApiToken
from lib.web.api import params
from lib.web.api.endpoints import ENDPOINTS
from lib.web.api.problems import ApiProblem

NEW_TOKEN = "api_new_token"  # session state: the token just made, until the user says it is copied
NEW_LINK = "api_new_link"


def _access() -> ApiAccess:
    return ApiAccess(queries.store(), queries.current_user_id())


def origin() -> str:
    """Where this dashboard is reached (the API is served at the site's root, whatever the base path)."""
    try:
        parts = urlsplit(st.context.url or "")
    except Exception:  # no request context (bare mode in tests)
        parts = urlsplit("")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "http://localhost:8501"


def curl_example(token: str, base: str) -> str:
    return f'curl -fsS -H "Authorization: Bearer {token}" \\\n  "{base}/api/v1/tests.csv?period=30d" -o tests.csv'


def _state(t: ApiToken, now: datetime) -> str:
    if t.revoked_at is not None:
        return _("Revoked")
    return _("Active") if t.live(now) else _("Expired")


def _tokens_section(access: ApiAccess, base: str) -> None:
    new = st.session_state.get(NEW_TOKEN)
    if new:
        st.success(_("Your new token. Copy it now: it is shown only once and cannot be shown again."))
        st.code(new, language=None)
        st.caption(_("Example:"))
        st.code(curl_example(new, base), language="bash")
        if st.button(_("I have copied it"), key="api_token_copied"):
            st.session_state.pop(NEW_TOKEN, None)
            st.rerun()
    with st.form("api_token_form", clear_on_submit=True, border=True):
        cols = st.columns([3, 2, 1.2], vertical_alignment="bottom")
        name = cols[0].text_input(_("Token name"), max_chars=100, placeholder=_("e.g. Excel on my laptop"))
        days = cols[1].selectbox(_("Expires after"), EXPIRY_DAYS, index=1,
                                 format_func=lambda d: ngettext("{n} day", "{n} days", d).format(n=d))
        if cols[2].form_submit_button(_("Create token"), type="primary"):
            if not name.strip():
                st.error(_("Give the token a name, so you can tell it apart later."))
            else:
                try:
                    token, _made = access.create_token(name.strip(), days)
                except StoreError as err:
                    st.error(str(err))
                else:
                    st.session_state[NEW_TOKEN] = token
                    st.rerun()
    tokens = access.tokens()
    if not tokens:
        st.caption(_("No tokens yet."))
        return
    now = utcnow()
    live = [t for t in tokens if t.live(now)]
    st.caption(ngettext("{n} active token of at most {max}.", "{n} active tokens of at most {max}.",
                        len(live)).format(n=len(live), max=MAX_ACTIVE))
    st.dataframe([{_("Name"): t.name, _("Ends with"): "…" + t.hint, _("Created"): fmt_datetime(t.created_at),
                   _("Expires"): fmt_datetime(t.expires_at), _("Last used"): fmt_datetime(t.last_used_at),
                   _("State"): _state(t, now)} for t in tokens], hide_index=True, width="stretch")
    if live:
        row = st.columns([3, 1.2], vertical_alignment="bottom")
        chosen = row[0].selectbox(_("Token to revoke"), [t.id for t in live], key="api_revoke_choice",
                                  format_func=lambda i: next(f"{t.name} (…{t.hint})" for t in live if t.id == i))
        if row[1].button(_("Revoke"), key="api_revoke", icon=":material/block:"):
            access.revoke_token(chosen)
            st.toast(_("Token revoked. It stops working at once."))
            st.rerun()


def _links_section(access: ApiAccess, base: str) -> None:
    st.markdown("**" + _("Signed links") + "**")
    st.caption(_("For tools that cannot send a header (Google Sheets IMPORTDATA): the link itself is the key. "
                 "Anyone with the link reads that data until it expires, and links end up in logs and browser "
                 "history: prefer a token."))
    new = st.session_state.get(NEW_LINK)
    if new:
        st.code(new, language=None)
    with st.form("api_link_form", border=True):
        cols = st.columns([1.4, 3, 1.2, 1.2], vertical_alignment="bottom")
        endpoint = cols[0].selectbox(_("Data"), list(ENDPOINTS))
        query = cols[1].text_input(_("Filters (as in the screen's URL)"), placeholder="period=30d&status=failed")
        days = cols[2].number_input(_("Days valid"), min_value=1, max_value=LINK_MAX_DAYS, value=7)
        if cols[3].form_submit_button(_("Create link")):
            try:
                st.session_state[NEW_LINK] = signed_url(access, base, endpoint, query, int(days))
            except ApiProblem as problem:
                st.error("; ".join(problem.errors) or problem.detail)
            except StoreError as err:
                st.error(str(err))
            else:
                st.rerun()
    links = access.links()
    if links:
        st.dataframe([{_("Data"): lk.path.rsplit("/", 1)[-1], _("Filters"): lk.query or "—",
                       _("Created"): fmt_datetime(lk.created_at), _("Expires"): fmt_datetime(lk.expires_at)}
                      for lk in links], hide_index=True, width="stretch")
        if st.button(_("Revoke all signed links"), key="api_rotate", icon=":material/key:"):
            n = access.rotate_link_key()
            st.session_state.pop(NEW_LINK, None)
            st.toast(ngettext("{n} link revoked.", "{n} links revoked.", n).format(n=n))
            st.rerun()


def signed_url(access: ApiAccess, base: str, endpoint: str, query: str, days: int) -> str:
    """A signed link to ``endpoint`` with the filters of ``query`` (checked as the API checks them)."""
    from urllib.parse import parse_qsl

    items = parse_qsl(query.strip().lstrip("?"), keep_blank_values=True)
    params.parse(items, ENDPOINTS[endpoint].allowed)  # ApiProblem 400 for what the API would refuse
    path, canonical = f"/api/v1/{endpoint}", params.canonical(items)
    exp, sig = access.sign_link(path, canonical, days)
    own = params.canonical([("u", access.user_id), ("exp", str(exp)), ("sig", sig)])
    return f"{base}{path}?{canonical + '&' if canonical else ''}{own}"


def section() -> None:
    """The whole section, in an expander (closed until opened)."""
    with st.expander(_("API access: pull your data from Excel, Google Sheets, pandas or curl"),
                     icon=":material/api:"):
        st.caption(_("Read-only: a token reads your data as you, and nothing else. See the README's HTTP API "
                     "section for recipes; the API's description is at /api/v1/openapi.json."))
        access, base = _access(), origin()
        try:
            _tokens_section(access, base)
            _links_section(access, base)
        except StoreError as err:
            st.error(str(err))
