"""Deterministic demo data: ``python -m lib.demo`` fills the configured database.

Three demo users whose ids look like Clerk's (alice: active pro monthly; bob: past_due; carol: no
subscription), realistic English and Russian intents, assistants with plausible Vapi configs and a
few thousand test calls over the last 90 days.  ``--users N`` adds N more users and ``--tests N``
sets the tests per demo user, for benchmarks; PostgreSQL is filled with COPY (a million rows in
seconds), SQLite with batched inserts.  The generator is an admin tool: it writes as the database
owner, not through a user's handle.
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from lib import schema
from lib.config import Settings
from lib.store.sql import make_engine, utcnow

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


def default_plans(tests: int = 3000, extra_users: int = 0) -> list[UserPlan]:
    plans = [
        UserPlan("user_demo_alice", tests, 12, 3, "active"),
        UserPlan("user_demo_bob", max(tests // 2, 0), 8, 2, "past_due"),
        UserPlan("user_demo_carol", max(tests // 10, 0), 4, 1, None),
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
            rows.append({"id": self._uuid(), "user_id": self.plan.user_id, "intent_name": name,
                         "example_user_phrases": list(en + ru), "english_responses": list(en_r),
                         "russian_responses": list(ru_r), "created_at": created, "updated_at": created})
        return rows

    def assistants(self, intents: list[dict]) -> list[dict]:
        rows = []
        for n in range(self.plan.assistants):
            provider, voice = VOICES[n % len(VOICES)]
            model_provider, model = MODELS[n % len(MODELS)]
            used = self.rng.sample(intents, k=min(len(intents), self.rng.randint(2, 6))) if intents else []
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
        for _ in range(self.plan.tests):
            russian = rng.random() < 0.35
            created = self.now - timedelta(seconds=rng.randrange(span))
            status = rng.choice(statuses)
            call_id = None if status == "initiated" else f"call_{rng.getrandbits(64):016x}"
            yield (str(uuid.UUID(int=rng.getrandbits(128), version=4)), uid, rng.choice(vapi_ids),
                   rng.choice(ru if russian else en), "russian" if russian else "english", call_id, status,
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


def _copy_tests(conn: sa.Connection, rows: Iterator[tuple], batch: int = 100_000) -> int:
    """COPY test rows into assistant_tests through psycopg, in text-format batches."""
    raw = conn.connection.driver_connection
    cols = ", ".join(TEST_COPY_COLUMNS)
    n = 0
    with raw.cursor() as cur, cur.copy(f"COPY assistant_tests ({cols}) FROM STDIN") as copy:
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


def _insert_tests(conn: sa.Connection, rows: Iterator[tuple], batch: int = 20_000) -> int:
    n = 0
    chunk: list[dict] = []
    for row in rows:
        chunk.append(dict(zip(TEST_COPY_COLUMNS, row, strict=True)))
        if len(chunk) == batch:
            conn.execute(sa.insert(schema.assistant_tests), chunk)
            n += len(chunk)
            chunk = []
    if chunk:
        conn.execute(sa.insert(schema.assistant_tests), chunk)
        n += len(chunk)
    return n


def seed(engine: sa.Engine, plans: list[UserPlan], *, seed: int = 42, now: datetime | None = None,
         reset: bool = False) -> dict[str, int]:
    """Write every plan's rows (after deleting those users' rows when ``reset``); returns row counts."""
    if engine.dialect.name == "sqlite":
        schema.create_sqlite(engine)
    counts = dict.fromkeys(("intents", "assistants", "assistant_tests", "subscriptions"), 0)
    with engine.begin() as conn:
        if reset:
            ids = [p.user_id for p in plans]
            for table in schema.VERSIONED:  # the five tables and the intents' history
                conn.execute(sa.delete(table).where(table.c.user_id.in_(ids)))
        for plan in plans:
            gen = Generator(plan, seed=seed, now=now)
            intents = gen.intents()
            assistants = gen.assistants(intents)
            if intents:
                conn.execute(sa.insert(schema.intents), intents)
            if assistants:
                conn.execute(sa.insert(schema.assistants), assistants)
            sub = gen.subscription()
            if sub:
                conn.execute(sa.insert(schema.subscriptions), [sub])
            conn.execute(sa.insert(schema.assistant_settings),
                         [{"user_id": plan.user_id, "is_active": plan.subscription != "past_due",
                           "created_at": gen.now, "updated_at": gen.now}])
            writer = _copy_tests if engine.dialect.name == "postgresql" else _insert_tests
            counts["assistant_tests"] += writer(conn, gen.tests(assistants))
            counts["intents"] += len(intents)
            counts["assistants"] += len(assistants)
            counts["subscriptions"] += bool(sub)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    return counts


def is_empty(engine: sa.Engine) -> bool:
    if engine.dialect.name == "sqlite":
        schema.create_sqlite(engine)
    with engine.connect() as conn:
        return not any(conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first()
                       for t in schema.USER_TABLES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: DATABASE_URL or the embedded SQLite file)")
    parser.add_argument("--tests", type=int, default=3000, help="test calls per demo user (default 3000)")
    parser.add_argument("--users", type=int, default=0, help="extra users beyond alice, bob and carol")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--if-empty", action="store_true", help="do nothing if the database has data")
    parser.add_argument("--reset", action="store_true", help="replace the demo users' rows")
    args = parser.parse_args(argv)
    url = args.database_url or Settings.load().database_url
    engine = make_engine(url, statement_timeout_ms=0)  # a million-row COPY may take a while
    try:
        if args.if_empty and not is_empty(engine):
            print("demo data: database already has data, left as is")
            return 0
        started = utcnow()
        counts = seed(engine, default_plans(args.tests, args.users), seed=args.seed, reset=args.reset)
        took = (utcnow() - started).total_seconds()
        print("demo data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + f" in {took:.1f}s")
    except sa.exc.SQLAlchemyError as err:
        print(f"demo data: the database refused: {type(err.orig or err).__name__}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


