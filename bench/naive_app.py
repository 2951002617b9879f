"""The naive dashboard page, for ``make bench-load`` only: what a Streamlit-plus-database page
commonly does. Every rerun reads all of the user's test calls, intents and assistants into pandas
(``SELECT *``) and groups them there; no rollups, no cache of results. It signs in the same way as
the dashboard (a Clerk session token in the ``__session`` cookie, checked once per session) and
shows the Stats screen's cards and four charts for the chosen period.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import streamlit as st  # noqa: E402

from lib.identity import tokens  # noqa: E402

st.set_page_config(page_title="Naive dashboard", layout="wide")


@st.cache_resource
def engine() -> sa.Engine:
    return sa.create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))


if "naive_user" not in st.session_state:
    try:
        st.session_state["naive_user"] = tokens.verify_clerk_token(
            st.context.cookies.get("__session", ""), jwt_key=os.environ["CLERK_JWT_KEY"])
    except tokens.AuthError as err:
        st.warning(f"Not signed in: {err.reason}")
        st.stop()
user = st.session_state["naive_user"]
st.sidebar.markdown(f"Signed in as **{user}**")

st.title("Stats")
days = {"7 days": 7, "30 days": 30, "90 days": 90, "All time": None}[
    st.radio("Period", ["7 days", "30 days", "90 days", "All time"], index=1, horizontal=True)]
with engine().connect() as conn:
    tests = pd.read_sql(sa.text("SELECT * FROM assistant_tests WHERE user_id = :u"), conn, params={"u": user})
    intents = pd.read_sql(sa.text("SELECT * FROM intents WHERE user_id = :u"), conn, params={"u": user})
    assistants = pd.read_sql(sa.text("SELECT * FROM assistants WHERE user_id = :u"), conn, params={"u": user})
tests["created_at"] = pd.to_datetime(tests["created_at"], utc=True)
if days:
    start = pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=days - 1)
    tests = tests[tests["created_at"] >= start]
completed = int((tests["status"] == "completed").sum())
cards = st.columns(4)
cards[0].metric("Intents", f"{len(intents):,}")
cards[1].metric("Assistants", f"{len(assistants):,}")
cards[2].metric("Tests", f"{len(tests):,}")
cards[3].metric("Success rate", f"{completed / len(tests):.1%}" if len(tests) else "—")

per_day = tests.groupby([tests["created_at"].dt.floor("D"), "status"]).size().unstack(fill_value=0)
by_language = tests.groupby("language").size()
names = dict(zip(assistants["vapi_assistant_id"], assistants["name"], strict=False))
per_assistant = tests.groupby("assistant_id").size().rename(index=names).sort_values().tail(20)
per_week = pd.to_datetime(intents["created_at"], utc=True).dt.to_period("W").value_counts().sort_index()
figures = [
    ("Tests per day", go.Figure([go.Bar(x=per_day.index, y=per_day[s], name=s) for s in per_day.columns],
                                layout={"barmode": "stack"})),
    ("Tests by language", go.Figure(go.Pie(labels=by_language.index, values=by_language.values, hole=0.5))),
    ("Tests per assistant", go.Figure(go.Bar(x=per_assistant.values, y=per_assistant.index, orientation="h"))),
    ("Intents created per week", go.Figure(go.Bar(x=per_week.index.astype(str), y=per_week.values))),
]
for row in (figures[:2], figures[2:]):
    for col, (title, fig) in zip(st.columns(2), row, strict=True):
        with col, st.container(border=True):
            st.markdown(f"**{title}**")
            st.plotly_chart(fig, width="stretch")
