"""Deterministic demo data: ``python -m lib.ops.demo`` fills the configured database.

Three demo users whose ids look like Clerk's, realistic English and Russian intents, assistants with
plausible Vapi configs and a few thousand test calls over the last 90 days:

- alice (active pro monthly) shows what the screens check: two intents missing a language, one with too
  few phrases, a phrase two intents share, an intent no assistant uses and a phrase whose calls mostly fail;
- bob (past_due, his assistants paused) sees the payment banner;
- carol has an account and nothing else: the screens' empty states.
  ``--users N`` adds N more users and ``--tests N``
sets the tests per demo user, for benchmarks.  Every table is filled with COPY through psycopg (a
million test calls in seconds).  The target is ``--database-url``, else DATABASE_URL, else the
dashboard's embedded server (lib.ops.embedded).  This is an operator tool: it writes as the
connecting role (the tables' owner, which row-level security does not restrict), not as a user.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb


def utcnow() -> datetime:
    """Naive UTC, as the tables' ``timestamp`` columns hold it."""
    return datetime.now(UTC).replace(tzinfo=None)


DEMO_USERS = ("user_demo_alice", "user_demo_bob", "user_demo_carol")

# (name, English phrases, Russian phrases, English responses, Russian responses)
INTENT_LIBRARY: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    ("greeting", ("Hello", "Hi there", "Good morning", "Hey, is anyone there?"),
     ("Здравствуйте", "Привет", "Добрый день"),
     ("Hello! Thanks for calling. How can I help you today?",),
     ("Здравствуйте! Спасибо за звонок. Чем могу помочь?",)),
    ("opening_hours", ("What are your opening hours?", "When are you open?", "Are you open on Sunday?"),
     ("Какие у вас часы работы?", "Вы работаете в воскресенье?", "Во сколько вы открываетесь?"),
     ("We are open Monday to Friday from 9 am to 7 pm, and Saturday from 10 am to 4 pm.",),
     ("Мы работаем с понедельника по пятницу с 9:00 до 19:00, в субботу с 10:00 до 16:00.",)),
    ("book_appointment", ("I'd like to book an appointment", "Can I make a reservation?", "Book a table for two"),
     ("Я хочу записаться на приём", "Можно забронировать столик?", "Запишите меня на завтра"),
     ("Sure! What day and time would suit you?", "I can help with that. For how many people?"),
     ("Конечно! На какой день и время вас записать?", "С удовольствием помогу. На сколько человек?")),
    ("pricing", ("How much does it cost?", "What are your prices?", "Is there a discount for students?"),
     ("Сколько это стоит?", "Какие у вас цены?", "Есть ли скидки для студентов?"),
     ("Our basic service starts at $29. Would you like me to send you the full price list?",),
     ("Базовая услуга стоит от 2 500 рублей. Отправить вам полный прайс-лист?",)),
    ("cancel_booking", ("I need to cancel my booking", "Cancel my appointment please"),
     ("Мне нужно отменить запись", "Отмените, пожалуйста, бронь"),
     ("I can cancel that for you. Could you tell me the name on the booking?",),
     ("Я могу отменить запись. Подскажите, на чьё имя она оформлена?",)),
    ("location", ("Where are you located?", "What's your address?", "Is there parking nearby?"),
     ("Где вы находитесь?", "Какой у вас адрес?", "Есть ли рядом парковка?"),
     ("We're at 12 Market Street, next to the central station. Free parking is behind the building.",),
     ("Мы находимся по адресу: улица Рыночная, 12, рядом с центральным вокзалом.",)),
    ("talk_to_human", ("Can I speak to a person?", "Transfer me to an operator", "I want a real human"),
     ("Соедините с оператором", "Можно поговорить с человеком?"),
     ("Of course, I'll transfer you to a colleague now. Please stay on the line.",),
     ("Конечно, сейчас переведу вас на сотрудника. Пожалуйста, оставайтесь на линии.",)),
    ("payment_methods", ("Do you accept credit cards?", "Can I pay by bank transfer?"),
     ("Можно оплатить картой?", "Вы принимаете безналичный расчёт?"),
     ("We accept all major cards, Apple Pay, Google Pay and bank transfers.",),
     ("Мы принимаем банковские карты, Apple Pay, Google Pay и безналичный перевод.",)),
    ("delivery", ("Do you deliver?", "How long does delivery take?", "Track my order"),
     ("Есть ли доставка?", "Сколько времени занимает доставка?", "Где мой заказ?"),
     ("We deliver within the city in 1-2 business days. Shall I check your order status?",),
     ("Доставляем по городу за 1–2 рабочих дня. Проверить статус вашего заказа?",)),
    ("refund", ("I want a refund", "How do I return an item?"),
     ("Я хочу вернуть деньги", "Как оформить возврат?"),
     ("Refunds are processed within 5 business days. Do you have your order number?",),
     ("Возврат средств занимает до 5 рабочих дней. Назовите, пожалуйста, номер заказа.",)),
    ("thanks", ("Thank you", "Thanks a lot", "That's very helpful"),
     ("Спасибо", "Большое спасибо", "Вы очень помогли"),
     ("You're welcome! Is there anything else I can help with?",),
     ("Пожалуйста! Могу ещё чем-нибудь помочь?",)),
    ("goodbye", ("Goodbye", "Bye", "That's all, thanks"),
     ("До свидания", "Пока", "Это всё, спасибо"),
     ("Thank you for calling. Have a great day!",),
     ("Спасибо за звонок. Хорошего дня!",)),
)

# What the showcase user's intents lack (by name): the Intents screen's "Needs attention" and clashes.
SHOWCASE_FLAWS = {
    "refund": {"russian_responses": ()},  # no Russian answer yet
    "delivery": {"english_responses": ()},  # no English answer yet
    "payment_methods": {"example_user_phrases": ("Do you accept credit cards?", "Можно оплатить картой?")},  # too few
    "thanks": {"example_user_phrases": ("Thank you", "Thanks a lot", "That's all, thanks", "Спасибо")},  # goodbye's too
}
SHOWCASE_UNUSED = "cancel_booking"  # in no assistant's intents_used
SHOWCASE_FAILING = ("Track my order", 0.85)  # this phrase's calls mostly fail (the Tests screen's drill-down)

ASSISTANT_NAMES = ("Front desk", "After-hours line", "Booking bot", "Support hotline", "Sales concierge",
                   "Delivery updates", "Clinic reception", "Restaurant host")
VOICES = (("11labs", "rachel"), ("azure", "en-US-JennyNeural"), ("playht", "jennifer"), ("11labs", "dmitry"))
MODELS = (("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("anthropic", "claude-sonnet-4"))
STATUS_WEIGHTS = (("completed", 70), ("failed", 11), ("initiated", 8), ("in_progress", 5), ("cancelled", 6))
TEST_COPY_COLUMNS = ("id", "user_id", "assistant_id", "test_phrase", "language", "call_id", "status",
                     "created_at", "updated_at")


@dataclass(frozen=True)
class UserPlan:
    user_id: str
    tests: int
    intents: int
    assistants: int
    subscription: str | None  # 'active' | 'past_due' | None
    showcase: bool = False  # alice: intents that need attention, a phrase clash, an unused intent, a failing phrase


def default_plans(tests: int = 3000, extra_users: int = 0) -> list[UserPlan]:
    plans = [
        UserPlan("user_demo_alice", tests, 12, 3, "active", showcase=True),
        UserPlan("user_demo_bob", max(tests // 2, 0), 8, 2, "past_due"),
        UserPlan("user_demo_carol", 0, 0, 0, None),
    ]
    plans += [UserPlan(f"user_demo_{n:05d}", tests, 12, 3, ("active", "past_due", None)[n % 3])
              for n in range(1, extra_users + 1)]
    return plans


class Generator:
    """Rows for one user, from a random generator seeded with (seed, user id): deterministic."""

    def __init__(self, plan: UserPlan, *, seed: int = 42, now: datetime | None = None) -> None:
        self.plan = plan
        self.rng = random.Random(f"{seed}:{plan.user_id}")
        self.now = (now or utcnow()).replace(microsecond=0)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _when(self, days: int = 90) -> datetime:
        return self.now - timedelta(seconds=self.rng.randrange(days * 86400))

    def intents(self) -> list[dict]:
        rows = []
        for n in range(self.plan.intents):
            name, en, ru, en_r, ru_r = INTENT_LIBRARY[n % len(INTENT_LIBRARY)]
            if n >= len(INTENT_LIBRARY):
                name = f"{name}_{n // len(INTENT_LIBRARY) + 1}"
            created = self._when(120)
            row = {"id": self._uuid(), "user_id": self.plan.user_id, "intent_name": name,
                   "example_user_phrases": en + ru, "english_responses": en_r,
                   "russian_responses": ru_r, "created_at": created, "updated_at": created}
            if self.plan.showcase:
                row |= SHOWCASE_FLAWS.get(name, {})
            rows.append({k: list(v) if isinstance(v, tuple) else v for k, v in row.items()})
        return rows

    def assistants(self, intents: list[dict]) -> list[dict]:
        rows = []
        for n in range(self.plan.assistants):
            provider, voice = VOICES[n % len(VOICES)]
            model_provider, model = MODELS[n % len(MODELS)]
            usable = [i for i in intents if not (self.plan.showcase and i["intent_name"] == SHOWCASE_UNUSED)]
            if self.plan.showcase:  # every intent but the unused one is in some assistant
                used = usable[n::self.plan.assistants]
            else:
                used = self.rng.sample(usable, k=min(len(usable), self.rng.randint(2, 6))) if usable else []
            name = ASSISTANT_NAMES[n % len(ASSISTANT_NAMES)]
            if n >= len(ASSISTANT_NAMES):
                name = f"{name} {n // len(ASSISTANT_NAMES) + 1}"
            created = self._when(120)
            config = {
                "name": name,
                "firstMessage": "Hello! Thanks for calling. How can I help you today?",
                "model": {"provider": model_provider, "model": model, "temperature": 0.4,
                          "messages": [{"role": "system", "content": f"You are the {name.lower()} of a small business."}]},
                "voice": {"provider": provider, "voiceId": voice},
                "transcriber": {"provider": "deepgram", "model": "nova-2", "language": "multi"},
                "endCallPhrases": ["goodbye", "до свидания"],
                "maxDurationSeconds": 600,
            }
            rows.append({"id": self._uuid(), "user_id": self.plan.user_id,
                         "vapi_assistant_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                         "name": name, "config": config, "intents_used": [i["id"] for i in used],
                         "created_at": created, "updated_at": created})
        return rows

    def tests(self, assistants: list[dict]) -> Iterator[tuple]:
        """Test calls as tuples in TEST_COPY_COLUMNS order, over the last 90 days."""
        rng = self.rng
        vapi_ids = [a["vapi_assistant_id"] for a in assistants] or ["asst_unknown"]
        en = [p for i in INTENT_LIBRARY for p in i[1]]
        ru = [p for i in INTENT_LIBRARY for p in i[2]]
        statuses = [s for s, w in STATUS_WEIGHTS for _ in range(w)]
        uid = self.plan.user_id
        span = 90 * 86400
        failing, failure_rate = SHOWCASE_FAILING if self.plan.showcase else (None, 0.0)
        for _ in range(self.plan.tests):
            russian = rng.random() < 0.35
            created = self.now - timedelta(seconds=rng.randrange(span))
            phrase = rng.choice(ru if russian else en)
            status = "failed" if phrase == failing and rng.random() < failure_rate else rng.choice(statuses)
            call_id = None if status == "initiated" else f"call_{rng.getrandbits(64):016x}"
            yield (str(uuid.UUID(int=rng.getrandbits(128), version=4)), uid, rng.choice(vapi_ids),
                   phrase, "russian" if russian else "english", call_id, status,
                   created, created + timedelta(seconds=rng.randrange(5, 600)))

    def subscription(self) -> dict | None:
        kind = self.plan.subscription
        if kind is None:
            return None
        start = (self.now - timedelta(days=self.rng.randrange(3, 25))).replace(hour=0, minute=0, second=0)
        yearly = kind == "past_due"
        end = start + timedelta(days=365 if yearly else 30)
        return {"id": self._uuid(), "user_id": self.plan.user_id,
                "stripe_customer_id": f"cus_{self.rng.getrandbits(64):016x}",
                "stripe_subscription_id": f"sub_{self.rng.getrandbits(64):016x}",
                "status": kind, "plan_type": "pro" if kind == "active" else "starter",
                "billing_cycle": "yearly" if yearly else "monthly",
                "current_period_start": start, "current_period_end": end,
                "created_at": start - timedelta(days=60), "updated_at": start}


def _copy_line(row: tuple) -> str:
    """One COPY text-format line; the library's phrases hold no tab, newline or backslash."""
    tid, uid, aid, phrase, lang, call_id, status, created, updated = row
    return f"{tid}\t{uid}\t{aid}\t{phrase}\t{lang}\t{call_id or NULL}\t{status}\t{created}\t{updated}\n"


NULL = "\\N"
assert not any(c in p for i in INTENT_LIBRARY for p in i[1] + i[2] for c in "\t\n\r\\")


def _copy_tests(cur: psycopg.Cursor, rows: Iterator[tuple], batch: int = 100_000) -> int:
    """COPY test rows into assistant_tests in text-format batches (faster than one row at a time)."""
    n = 0
    with cur.copy(f"copy public.assistant_tests ({', '.join(TEST_COPY_COLUMNS)}) from stdin") as copy:
        lines: list[str] = []
        for row in rows:
            lines.append(_copy_line(row))
            if len(lines) == batch:
                copy.write("".join(lines))
                n += len(lines)
                lines = []
        copy.write("".join(lines))
        n += len(lines)
    return n


def _copy_rows(cur: psycopg.Cursor, table: str, rows: list[dict]) -> None:
    """COPY dict rows (all with the same keys) into ``table``; the server parses each value as its column's type."""
    if not rows:
        return
    columns = list(rows[0])
    with cur.copy(f"copy public.{table} ({', '.join(columns)}) from stdin") as copy:
        for row in rows:
            copy.write_row([Jsonb(v) if isinstance(v, dict) else v for v in (row[c] for c in columns)])


# The users' own tables (the reference's five); RESET_TABLES adds the intents' history.
USER_TABLES = ("subscriptions", "intents", "assistant_settings", "assistants", "assistant_tests")
RESET_TABLES = (*USER_TABLES, "intent_history")
# One advisory lock for "is it empty? then seed", so two processes never seed the same database twice.
_SEED_LOCK = 0x5B_D4_5E_ED


def _seed_in(conn: psycopg.Connection, plans: list[UserPlan], *, seed: int, now: datetime | None,
             reset: bool) -> dict[str, int]:
    counts = dict.fromkeys(("intents", "assistants", "assistant_tests", "subscriptions"), 0)
    with conn.cursor() as cur:
        if reset:
            ids = [p.user_id for p in plans]
            for table in RESET_TABLES:
                cur.execute(f"delete from public.{table} where user_id = any(%s)", (ids,))
        for plan in plans:
            gen = Generator(plan, seed=seed, now=now)
            intents = gen.intents()
            assistants = gen.assistants(intents)
            sub = gen.subscription()
            _copy_rows(cur, "intents", intents)
            _copy_rows(cur, "assistants", assistants)
            _copy_rows(cur, "subscriptions", [sub] if sub else [])
            if plan.intents or plan.assistants or plan.tests or sub:  # carol: an account with nothing yet
                _copy_rows(cur, "assistant_settings", [{"user_id": plan.user_id,
                                                        "is_active": plan.subscription != "past_due",
                                                        "created_at": gen.now, "updated_at": gen.now}])
            counts["assistant_tests"] += _copy_tests(cur, gen.tests(assistants))
            counts["intents"] += len(intents)
            counts["assistants"] += len(assistants)
            counts["subscriptions"] += bool(sub)
    return counts


def _connect(target: object) -> psycopg.Connection:
    """``target``: a PostgreSQL URL, or (for the test suite's convenience) anything with an SQLAlchemy ``url``."""
    url = getattr(target, "url", target)
    if not isinstance(url, str):
        url = url.render_as_string(hide_password=False)  # type: ignore[attr-defined]
    # No statement timeout: a million-row COPY may take a while.
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), options="-c statement_timeout=0")


def seed(conninfo: str, plans: list[UserPlan], *, seed: int = 42, now: datetime | None = None,
         reset: bool = False, if_empty: bool = False) -> dict[str, int] | None:
    """Write every plan's rows in one transaction (after deleting those users' rows when ``reset``),
    then ANALYZE; returns row counts.  With ``if_empty``: only when the users' tables are all empty,
    else None (checked and written under one advisory lock, so concurrent callers seed once)."""
    with _connect(conninfo) as conn:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (_SEED_LOCK,))
            if if_empty and not _is_empty(conn):
                return None
            counts = _seed_in(conn, plans, seed=seed, now=now, reset=reset)
        conn.autocommit = True
        conn.execute("analyze")
    return counts


def _is_empty(conn: psycopg.Connection) -> bool:
    return not any(conn.execute(f"select exists (select 1 from public.{t})").fetchone()[0] for t in USER_TABLES)


def is_empty(conninfo: str) -> bool:
    """True when none of the users' five tables has a row."""
    with _connect(conninfo) as conn:
        return _is_empty(conn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.ops.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: DATABASE_URL, else the embedded server under data/pg)")
    parser.add_argument("--tests", type=int, default=3000, help="test calls per demo user (default 3000)")
    parser.add_argument("--users", type=int, default=0, help="extra users beyond alice, bob and carol")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--if-empty", action="store_true", help="do nothing if the database has data")
    parser.add_argument("--reset", action="store_true", help="replace the demo users' rows")
    args = parser.parse_args(argv)
    try:
        url = args.database_url or os.environ.get("DATABASE_URL")
        if not url:
            from lib.ops.embedded import database_url

            url = database_url(seed=False)
        started = time.monotonic()
        counts = seed(url, default_plans(args.tests, args.users), seed=args.seed, reset=args.reset,
                      if_empty=args.if_empty)
    except psycopg.Error as err:
        print(f"demo data: the database refused: {type(err).__name__}", file=sys.stderr)
        return 1
    if counts is None:
        print("demo data: database already has data, left as is")
        return 0
    took = time.monotonic() - started
    print("demo data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + f" in {took:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
