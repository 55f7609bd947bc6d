# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fill the application schema at production scale, deterministically from a seed.

    python -m bench.appdata --database sf_bench_big --create --users 1000000 --tenants 50 --seed 7

Shape (per user, on average): a profile, 2 resumes with 1.5 ingestions each, 2 assessments spread over
every status, 3 notifications with 0-3 actions each, 2 notification preferences. 40% of the users
(``--stale-share``) were last active more than 24 months before ``--as-of`` (default: today), 3% are
under legal hold (stale or not), 50% opted in to marketing. 5% of the ingestion metadata objects and notification actions carry a
foreign tenant's id and partner, and 10% of ingestion metadata has no tenant keys at all (older parses),
so partner segregation has work to do. The first tenant (``tenant-000``) holds 20% of the users: the
"large tenant" of the consent-revocation benchmark. A user's rows are created between the user's
creation and last activity, and every table is stored in "createdAt" order (``--layout time``, the
default), so one user's rows lie scattered as after years of inserts; ``--layout user`` stores each
user's rows together instead, which flatters per-user index access.

How it loads, and why (measured on the 2-core benchmark machine, see docs/PERFORMANCE.md):

* COPY from Python (psycopg ``cursor.copy()``), the rows written as COPY text in blocks: Python makes
  the rows on one core while the server parses and stores them on the other, so both cores work. A
  server-side ``INSERT ... SELECT generate_series`` keeps the client idle and runs in one backend (an
  INSERT is never parallel), and expressing the per-user randomness (child counts, statuses, foreign
  ids) in SQL costs the server more than the parsing COPY saves it.
* One transaction: ``TRUNCATE`` then ``COPY ... FREEZE``, so rows are written frozen and all-visible
  (no hint-bit rewrite or anti-wraparound vacuum of the template and of every copy made from it later);
  with ``--layout time`` the tables are then rewritten in "createdAt" order (``CLUSTER``) and a final
  ``VACUUM (FREEZE, ANALYZE)`` restores that state.
* Indexes and constraints are dropped before the load and re-created after it (a sorted index build is
  far cheaper than millions of random B-tree inserts), exactly as the migrations defined them: the
  definitions are read back from the catalog with ``pg_get_indexdef``/``pg_get_constraintdef``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from array import array
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

if __package__ in (None, ""):  # run as a file
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from bench import common  # noqa: E402

BLOCK_ROWS = 5000
ASSESSMENT_STATUSES = ("scheduled", "processing", "completed", "cancelled")
NOTIFICATION_STATUSES = ("pending", "sent", "read", "archived")
CHANNELS = ("email", "sms", "push")
PARTNERS = ("ptn_north", "ptn_south", "ptn_east", "ptn_west")
# Last-activity windows in days before as_of: a clear gap around the 24-month cutoff (730 days), so
# the purge always selects the same users whichever way a job computes "24 months".
FRESH_DAYS = (0, 700)
STALE_DAYS = (760, 1825)
LARGE_TENANT_SHARE = 0.20


@dataclass
class Scale:
    users: int
    tenants: int = 50
    seed: int = 7
    as_of: dt.date = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).date())
    stale_share: float = 0.40
    legal_hold_share: float = 0.03
    foreign_share: float = 0.05
    untagged_share: float = 0.10
    # "time": every table physically in "createdAt" order, as rows inserted over the years are, so
    # one user's rows are scattered; "user": each user's rows stored together (kinder to index access).
    layout: str = "time"


def stale_share(text: str) -> float:
    """``--stale-share``: a fraction from 0 to 1 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("a fraction from 0 to 1, e.g. 0.6")
    return value


def tenant_id(k: int) -> str:
    return "ten_%03d" % k


def tenant_slug(k: int) -> str:
    return "tenant-%03d" % k


def tenant_partner(k: int) -> str | None:
    """Two tenants in three belong to a partner; tenant-000 (the large one) to ptn_north."""
    return None if k % 3 == 2 else PARTNERS[k % len(PARTNERS)]


class _Clock:
    """Timestamps as COPY text, at minute resolution, from cached day and minute strings."""

    def __init__(self, as_of: dt.date, days: int = 2400):
        self.days = [(as_of - dt.timedelta(days=d)).isoformat() for d in range(days)]
        self.minutes = ["%02d:%02d:00" % divmod(m, 60) for m in range(1440)]

    def at(self, days_ago: int, minute: int) -> str:
        return "%s %s" % (self.days[days_ago], self.minutes[minute])


class _Writer:
    """COPY text rows written to the server in blocks."""

    def __init__(self, copy):
        self.copy = copy
        self.lines: list[str] = []
        self.rows = 0

    def row(self, *values) -> None:
        self.lines.append("\t".join(values))
        if len(self.lines) >= BLOCK_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.lines.append("")
            self.copy.write("\n".join(self.lines))
            self.rows += len(self.lines) - 1
            self.lines = []


NULL = r"\N"


# JSON written from templates (json.dumps per row costs more than the rest of the row): every value
# put in is a generated ASCII identifier, so nothing needs JSON or COPY escaping. _owner_json gives
# strings, and a partner of None must be JSON null, hence the %s around a pre-quoted value.
UNTAGGED_METADATA = '{"parser":"resume-parser/3.2","pages":%d,"language":"en"}'
TAGGED_METADATA = '{"parser":"resume-parser/3.2","pages":%d,"language":"en","tenantId":%s,"partnerId":%s}'
ACTION_TYPES = ("open", "dismiss", "snooze")
ACTION = '{"type":"%s","url":"/n/%d","tenantId":%s,"partnerId":%s}'


class Generator:
    def __init__(self, scale: Scale):
        self.scale = scale
        self.clock = _Clock(scale.as_of)
        self.user_tenant = array("H")
        self.user_day = array("H")  # days before as_of of the user's last activity (or creation)
        self.user_span = array("H")  # days between the user's creation and last activity
        self.resume_owner = array("I")
        self.counts: dict[str, int] = {}
        weights = [LARGE_TENANT_SHARE] + [(1 - LARGE_TENANT_SHARE) / max(scale.tenants - 1, 1)] * (scale.tenants - 1)
        total = 0.0
        self._tenant_json = [(json.dumps(tenant_id(k)), json.dumps(tenant_partner(k))) for k in range(scale.tenants)]
        self._tenant_cum = []
        for w in weights:
            total += w
            self._tenant_cum.append(total)

    def rng(self, table: str) -> random.Random:
        # One independent stream per table: each COPY pass is reproducible on its own.
        return random.Random("%s:%s" % (self.scale.seed, table))

    def _owner_json(self, rng: random.Random, tenant: int) -> tuple[str, str]:
        """The (tenantId, partnerId) a JSON blob carries: its owner's, or now and then another tenant's."""
        if self.scale.tenants > 1 and rng.random() < self.scale.foreign_share:
            tenant = (tenant + 1 + rng.randrange(self.scale.tenants - 1)) % self.scale.tenants
        return self._tenant_json[tenant]

    # ---- one method per table, in foreign-key order -------------------------------------------------
    def tenants(self, w: _Writer) -> None:
        created = self.clock.at(2000, 0)
        for k in range(self.scale.tenants):
            partner = tenant_partner(k)
            w.row(tenant_id(k), tenant_slug(k), "Tenant %03d" % k, partner or NULL, created)

    def users(self, w: _Writer) -> None:
        rng = self.rng("User")
        s = self.scale
        clock = self.clock
        cum = self._tenant_cum
        last = len(cum) - 1
        from bisect import bisect_left
        for i in range(s.users):
            tenant = min(bisect_left(cum, rng.random()), last)
            if rng.random() < s.stale_share:
                day = rng.randint(*STALE_DAYS)
            else:
                day = rng.randint(*FRESH_DAYS)
            minute = rng.randrange(1440)
            active = clock.at(day, minute)
            never_active = rng.random() < 0.08
            span = 0 if never_active else min(rng.randrange(365), 2399 - day)
            created = clock.at(day + span, minute)
            hold = "t" if rng.random() < s.legal_hold_share else "f"
            optin = "t" if rng.random() < 0.5 else "f"
            self.user_tenant.append(tenant)
            self.user_day.append(day)
            self.user_span.append(span)
            w.row("usr_%08d" % i, tenant_id(tenant), "user%d@%s.example.test" % (i, tenant_slug(tenant)),
                  optin, hold, NULL if never_active else active, created, active)

    def _child_time(self, rng: random.Random, user: int) -> str:
        """A row of the user's made some time between the user's creation and last activity."""
        return self.clock.at(self.user_day[user] + rng.randrange(self.user_span[user] + 1), rng.randrange(1440))

    def profiles(self, w: _Writer) -> None:
        at = self.clock.at
        for i, day in enumerate(self.user_day):
            ts = at(day + self.user_span[i], 0)
            w.row("prf_%08d" % i, "usr_%08d" % i, "User %d" % i, "Headline %d" % (i % 97), ts, ts)

    def resumes(self, w: _Writer) -> None:
        rng = self.rng("Resume")
        n = 0
        owner = self.resume_owner
        child_time = self._child_time
        for i in range(len(self.user_day)):
            for _n in range(rng.randint(1, 3)):
                ts = child_time(rng, i)
                w.row("res_%09d" % n, "usr_%08d" % i, "Resume %d" % (n % 10), "resumes/%09d.pdf" % n, ts, ts)
                owner.append(i)
                n += 1

    def ingestions(self, w: _Writer) -> None:
        rng = self.rng("ResumeIngestion")
        child_time = self._child_time
        tenants = self.user_tenant
        n = 0
        for r, user in enumerate(self.resume_owner):
            for _n in range(rng.randint(1, 2)):
                pages = rng.randint(1, 4)
                if rng.random() >= self.scale.untagged_share:
                    meta = TAGGED_METADATA % ((pages,) + self._owner_json(rng, tenants[user]))
                else:
                    meta = UNTAGGED_METADATA % pages
                ts = child_time(rng, user)
                w.row("ing_%09d" % n, "res_%09d" % r, meta, ts, ts)
                n += 1

    def assessments(self, w: _Writer) -> None:
        rng = self.rng("Assessment")
        at = self.clock.at
        n = 0
        for i, day in enumerate(self.user_day):
            for _n in range(rng.randint(0, 4)):
                status = ASSESSMENT_STATUSES[rng.randrange(4)]
                ts = self._child_time(rng, i)
                w.row("asm_%09d" % n, "usr_%08d" % i, "Assessment %d" % (n % 25), status,
                      "t" if status in ("scheduled", "processing") or rng.random() < 0.5 else "f",
                      at(max(day - 7, 0), 600), ts, ts)
                n += 1

    def notifications(self, w: _Writer) -> None:
        rng = self.rng("Notification")
        tenants = self.user_tenant
        n = 0
        for i in range(len(self.user_day)):
            for _n in range(rng.randint(0, 6)):
                actions = ",".join(ACTION % ((ACTION_TYPES[a], n) + self._owner_json(rng, tenants[i]))
                                   for a in range(rng.randint(0, 3)))
                ts = self._child_time(rng, i)
                w.row("ntf_%09d" % n, "usr_%08d" % i, NOTIFICATION_STATUSES[rng.randrange(4)],
                      "Notification %d" % (n % 40), "Body of notification %d" % n, "[%s]" % actions, ts, ts)
                n += 1

    def preferences(self, w: _Writer) -> None:
        rng = self.rng("NotificationPreference")
        at = self.clock.at
        n = 0
        for i, day in enumerate(self.user_day):
            for channel in CHANNELS:
                if rng.random() < 2 / 3:
                    ts = at(day + self.user_span[i], 0)
                    w.row("pref_%09d" % n, "usr_%08d" % i, channel, "t" if rng.random() < 0.8 else "f", ts, ts)
                    n += 1

    PASSES = (
        ("Tenant", ("id", "slug", "name", "partnerId", "createdAt"), "tenants"),
        ("User", ("id", "tenantId", "email", "marketingOptIn", "legalHold", "lastActiveAt", "createdAt",
                  "updatedAt"), "users"),
        ("Profile", ("id", "userId", "displayName", "headline", "createdAt", "updatedAt"), "profiles"),
        ("Resume", ("id", "userId", "title", "storageKey", "createdAt", "updatedAt"), "resumes"),
        ("ResumeIngestion", ("id", "resumeId", "ingestionMetadata", "createdAt", "updatedAt"), "ingestions"),
        ("Assessment", ("id", "userId", "title", "status", "notificationsEnabled", "scheduledAt", "createdAt",
                        "updatedAt"), "assessments"),
        ("Notification", ("id", "userId", "status", "title", "body", "actions", "createdAt", "updatedAt"),
         "notifications"),
        ("NotificationPreference", ("id", "userId", "channel", "enabled", "createdAt", "updatedAt"),
         "preferences"),
    )


@dataclass
class _Definitions:
    """Indexes and constraints of the loaded tables, as the migrations created them."""

    keys: list = field(default_factory=list)  # (table, name, definition): primary keys and unique constraints
    foreign_keys: list = field(default_factory=list)
    indexes: list = field(default_factory=list)  # (name, CREATE INDEX statement)


def _read_definitions(conn, tables) -> _Definitions:
    defs = _Definitions()
    rows = conn.execute(
        """SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
             FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
            WHERE c.relname = ANY(%s) AND c.relnamespace = current_schema()::regnamespace
              AND con.contype IN ('p', 'u', 'f')
            ORDER BY con.conname""", [list(tables)]).fetchall()
    for table, name, kind, definition in rows:
        (defs.foreign_keys if kind == "f" else defs.keys).append((table, name, definition))
    defs.indexes = conn.execute(
        """SELECT i.relname, pg_get_indexdef(x.indexrelid)
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
            WHERE c.relname = ANY(%s) AND c.relnamespace = current_schema()::regnamespace
              AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid)
            ORDER BY i.relname""", [list(tables)]).fetchall()
    return defs


def _drop_definitions(conn, defs: _Definitions) -> None:
    for table, name, _definition in defs.foreign_keys + defs.keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
    for name, _statement in defs.indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))


def _restore_definitions(conn, defs: _Definitions) -> None:
    # Definitions come from the server's own catalog functions, not from input.
    for table, name, definition in defs.keys:
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
                     + sql.SQL(definition))
    for _name, statement in defs.indexes:
        conn.execute(sql.SQL(statement))
    for table, name, definition in defs.foreign_keys:
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
                     + sql.SQL(definition))


def _order_by_creation(conn, table: str) -> None:
    """Rewrite the table in "createdAt" order (CLUSTER on a throwaway index), as years of inserts lay it out."""
    index = sql.Identifier("bench_layout_idx")
    conn.execute(sql.SQL('CREATE INDEX {} ON {} ("createdAt")').format(index, sql.Identifier(table)))
    conn.execute(sql.SQL("CLUSTER {} USING {}").format(sql.Identifier(table), index))
    conn.execute(sql.SQL("DROP INDEX {}").format(index))


def generate(conninfo: str, scale: Scale, progress=None) -> dict:
    """Replace the application rows of the (migrated) database with a generated population.

    Returns the row count of every table and the seconds spent copying and indexing."""
    gen = Generator(scale)
    tables = [p[0] for p in Generator.PASSES]
    timings: dict[str, float] = {}
    with psycopg.connect(conninfo) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")
        defs = _read_definitions(conn, tables)
        _drop_definitions(conn, defs)
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.Identifier(t) for t in tables)))
        for table, columns, method in Generator.PASSES:
            started = time.perf_counter()
            statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FREEZE)").format(
                sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
            with conn.cursor().copy(statement) as copy:
                writer = _Writer(copy)
                getattr(gen, method)(writer)
                writer.flush()
            gen.counts[table] = writer.rows
            timings["copy " + table] = time.perf_counter() - started
            if progress:
                progress("%-24s %10d rows %7.1fs" % (table, writer.rows, timings["copy " + table]))
        if scale.layout == "time":
            started = time.perf_counter()
            for table in tables[1:]:
                _order_by_creation(conn, table)
            timings["order by createdAt"] = time.perf_counter() - started
            if progress:
                progress("order by createdAt      %7.1fs" % timings["order by createdAt"])
        started = time.perf_counter()
        _restore_definitions(conn, defs)
        timings["indexes and constraints"] = time.perf_counter() - started
        if progress:
            progress("indexes and constraints %7.1fs" % timings["indexes and constraints"])
        conn.commit()
        conn.autocommit = True
        started = time.perf_counter()
        # Frozen, hinted and in the visibility map before any copy is made: no copy pays for it later
        # (CLUSTER rewrote the rows COPY FREEZE had frozen).
        conn.execute("VACUUM (FREEZE, ANALYZE)" if scale.layout == "time" else "ANALYZE")
        timings["vacuum and analyze"] = time.perf_counter() - started
    return {"rows": gen.counts, "seconds": timings, "scale": {**asdict(scale), "as_of": scale.as_of.isoformat()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--database", required=True, help="database to fill (sf_bench_* with --create)")
    parser.add_argument("--create", action="store_true", help="create and migrate the database first")
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--layout", choices=("time", "user"), default="time",
                        help="physical row order: by creation time (default) or each user's rows together")
    parser.add_argument("--stale-share", type=stale_share, default=Scale.stale_share,
                        help="fraction of the users last active before the 24-month cutoff (default 0.4)")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None,
                        help="date the activity is relative to (default: today, UTC)")
    args = parser.parse_args(argv)
    if args.create:
        common.create_database(args.database)
        common.migrate_schema(common.url_for(args.database))
    scale = Scale(users=args.users, tenants=args.tenants, seed=args.seed, layout=args.layout,
                  stale_share=args.stale_share)
    if args.as_of:
        scale.as_of = args.as_of
    started = time.perf_counter()
    result = generate(common.url_for(args.database), scale, progress=lambda line: print(line, flush=True))
    print("total %.1fs, database %.0f MB" % (time.perf_counter() - started,
                                             common.database_size(common.url_for(args.database)) / 1e6))
    print(json.dumps(result["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
