"""Data for tests/fault/test_statement_counts.py: one world per test, built set-based, and per list endpoint the
caller who may see its rows, its path parameters and a way to add as many rows again.

The world is the benchmark dataset at its smallest scale (``bench/dataset.py``: 1,000 residents, 200 households,
50 vendors with 200 products, 100 orders, 20 notices, 100 posts; explicit ids, sequences moved past them), then
every domain's demo seeder on top (``app/demo.py``: the 幸福社区 story with its cast, signing in by phone). Lists the
two leave short are filled by :meth:`World.clone`, which copies one row ``count`` times in one ``INSERT … SELECT
generate_series``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db as database
from bench import dataset

#: Rows of the listed thing a case arranges (one more than the large page) and adds again when it grows.
ROWS = 21


@dataclass
class Call:
    """How to call one list: as ``user`` (None: anonymous), with path ``params`` and extra ``query``; ``grow``
    adds as many rows again of the listed thing (None where the world cannot cheaply grow that list)."""

    user: User | None
    params: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    grow: Callable[[], None] | None = None


#: path → arrange(world) → Call, filled by :func:`case` below.
CASES: dict[str, Callable[[World], Call]] = {}


def case(*paths: str) -> Callable:
    def register(func: Callable[[World], Call]) -> Callable[[World], Call]:
        for path in paths:
            assert path not in CASES, f"two cases for {path}"
            CASES[path] = func
        return func

    return register


class World:
    """The benchmark dataset and the demo story in the test's transaction, and lookups into them."""

    def __init__(self) -> None:
        from app.accounts.tags import ensure_builtin_tags
        from app.demo import seed_demo

        session = database.session
        raw = session.connection().connection.driver_connection
        # The dataset takes explicit ids from 1: start from empty tables, as a committed_db test leaves them (inside
        # the test's transaction, so the rollback brings back whatever an earlier test of this worker left).
        tables = ", ".join(f'"{table.name}"' for table in database.metadata.sorted_tables)
        raw.execute(f"TRUNCATE {tables} CASCADE")
        ensure_builtin_tags()
        sizes = dataset.Sizes.at(0)  # the floors: the smallest dataset the generator makes
        for _label, sql in dataset.statements(sizes, 0.42):
            for part in sql.split(";\n"):
                if part.strip():
                    raw.execute(part)
        raw.execute(dataset.posts_statement(sizes))
        for table in (*dataset.SEQUENCES, "neighbours_posts"):
            # Sequences are not transactional: moved past the explicit ids they stay so, which is harmless.
            raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"GREATEST((SELECT max(id) FROM {table}), nextval(pg_get_serial_sequence('{table}', 'id'))))"
            )
        seed_demo()
        self.sizes = sizes
        #: The cast by name: accounts are read again on each use, as the test detaches what the session holds.
        self.cast = {"bench_admin": dataset.ADMIN_USER_ID}
        for name, phone in (
            ("admin", "+8619900000000"),
            ("staff", "+8619900000001"),
            ("grid", "+8619900000002"),
            ("daughter", "+8619900000003"),
            ("tenant", "+8619900000004"),
            ("grocer", "+8619900000010"),
            ("provider_admin", "+8619900000020"),
            ("caregiver", "+8619900000022"),
            ("repairer", "+8619900000030"),
            ("technician", "+8619900000031"),
        ):
            self.cast[name] = self.by_phone(phone).id

    def __getattr__(self, name: str) -> User:
        cast = self.__dict__.get("cast", {})
        if name not in cast:
            raise AttributeError(name)
        return database.session.get(User, cast[name])

    # --- lookups ---------------------------------------------------------------------------------------------

    def by_phone(self, phone: str) -> User:
        user = database.session.scalar(sa.select(User).where(User.phone == phone))
        assert user is not None, f"the demo has no account {phone}"
        return user

    def scalar(self, sql: str, **params: Any) -> Any:
        value = database.session.execute(sa.text(sql), params).scalar()
        assert value is not None, f"nothing found by {sql!r} {params}"
        return value

    def public_id(self, table: str, where: str = "true", **params: Any) -> str:
        return self.scalar(f"SELECT public_id FROM {table} WHERE {where} ORDER BY id LIMIT 1", **params)

    # --- growing lists -----------------------------------------------------------------------------------------

    def clone(self, table: str, where: str, count: int = ROWS, **overrides: str) -> None:
        """Copy the first row of ``table`` matching ``where`` ``count`` times. ``overrides`` give SQL for columns
        (the source row is ``src``, the copy's number ``g``); ``id`` is new, ``public_id`` random and unique,
        ``created_at`` one minute earlier per copy, so every copy is a distinct row of the list."""
        columns = [c.name for c in database.metadata.tables[table].columns if c.name != "id"]
        defaults = {
            "public_id": "'st' || substr(md5(random()::text || clock_timestamp()::text || g::text), 1, 22)",
            "created_at": "src.created_at - make_interval(mins => g)",
        }
        values = []
        for column in columns:
            if column in overrides:
                values.append(overrides.pop(column))
            elif column in defaults:
                values.append(defaults[column])
            else:
                values.append(f"src.{column}")
        assert not overrides, f"{table} has no columns {sorted(overrides)}"
        listed = ", ".join(f'"{c}"' for c in columns)
        sql = (
            f"INSERT INTO {table} ({listed}) SELECT {', '.join(values)} "
            f"FROM (SELECT * FROM {table} WHERE {where} ORDER BY id LIMIT 1) src, generate_series(1, {count}) g"
        )
        result = database.session.execute(sa.text(sql))
        assert result.rowcount == count, f"no row of {table} where {where}"

    def insert(self, table: str, count: int = ROWS, **values: str) -> None:
        """Insert ``count`` rows of ``values`` (SQL, the row's number is ``g``) in one statement."""
        columns = ", ".join(f'"{c}"' for c in values)
        sql = f"INSERT INTO {table} ({columns}) SELECT {', '.join(values.values())} FROM generate_series(1, {count}) g"
        database.session.execute(sa.text(sql))

    def sql(self, statement: str, **params: Any) -> None:
        database.session.execute(sa.text(statement), params)

    def add(self, objects: list) -> list:
        database.session.add_all(objects)
        database.session.flush()
        return objects

    def resident_of(self, user: User) -> int:
        return self.scalar("SELECT id FROM accounts_residents WHERE user_id = :u", u=user.id)

    @property
    def community(self) -> int:
        """The demo's 幸福社区."""
        return self.scalar("SELECT id FROM community_regions WHERE name = '幸福社区'")


#: A unique text per copy, for columns under a unique constraint.
UNIQUE = "'st' || g || '-' || substr(md5(random()::text), 1, 8)"


# --- core: jobs, calendar, sessions, push, payment-gateway records ----------------------------------------------


@case("/api/v1/admin/jobs")
def _jobs(w: World) -> Call:
    def grow() -> None:
        w.insert(
            "core_outbox",
            job="'app.demo.noop'",
            args="'[]'::jsonb",
            queue="'default'",
            status="'dead'",
            attempts="5",
            last_error="'boom'",
        )

    grow()
    return Call(w.admin, query={"status": "dead"}, grow=grow)


@case("/api/v1/calendar/days")
def _days(w: World) -> Call:
    return Call(w.admin, query={"start": "2026-12-01", "end": "2026-12-31"})


@case("/api/v1/calendar/coverage")
def _coverage(w: World) -> Call:
    return Call(w.admin, query={"start_year": 2020, "end_year": 2029})


@case("/api/v1/auth/sessions")
def _sessions(w: World) -> Call:
    def grow() -> None:
        w.clone("auth_sessions", f"user_id = {w.daughter.id}", refresh_hash=UNIQUE)

    from app.auth import issue_access_token

    issue_access_token(w.daughter)
    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/admin/payment-gateways/notifications")
def _notifications(w: World) -> Call:
    def grow() -> None:
        w.insert(
            "payments_gateway_notifications",
            gateway="'wechat'",
            notify_id=UNIQUE,
            event_type="'TRANSACTION'",
            verdict="'rejected'",
            reason="'bad_signature'",
            payload="'{}'::jsonb",
        )

    grow()
    return Call(w.admin, grow=grow)


@case("/api/v1/admin/payment-gateways/reconciliations")
def _reconciliations(w: World) -> Call:
    offset = [0]

    def grow() -> None:
        w.insert(
            "payments_gateway_reconciliations",
            gateway="'wechat'",
            bill_date=f"date '2026-01-01' + g + {offset[0]}",
            merchant="'m1'",
            status="'matched'",
            lines="0",
            matched="0",
            mismatches="'[]'::jsonb",
        )
        offset[0] += ROWS

    grow()
    return Call(w.admin, grow=grow)


def _delivery(w: World, source_id: str) -> int:
    from app.push.models import Delivery

    (delivery,) = w.add(
        [
            Delivery(
                event="notice",
                source_kind="notice",
                source_id=source_id,
                scope="notices",
                title="停水通知",
                body="明日停水",
            )
        ]
    )
    return delivery.id


@case("/api/v1/me/inbox")
def _inbox(w: World) -> Call:
    resident = w.resident_of(w.daughter)

    def grow() -> None:
        for _ in range(ROWS):  # one inbox row per delivery, as a fan-out writes them
            delivery = _delivery(w, "inbox")
            w.insert(
                "push_inbox",
                1,
                user_id=str(w.daughter.id),
                resident_id=str(resident),
                delivery_id=str(delivery),
                via="'self'",
            )

    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/me/subscriptions")
def _subscriptions(w: World) -> Call:
    def grow() -> None:
        w.insert(
            "push_subscription_grants", user_id=str(w.daughter.id), template_id=UNIQUE, remaining="3", granted_total="3"
        )

    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/push/templates")
def _templates(w: World) -> Call:
    return Call(w.admin)


@case("/api/v1/me/push-preferences")
def _preferences(w: World) -> Call:
    return Call(w.daughter)


def _push_source(w: World) -> tuple[int, Call]:
    delivery = _delivery(w, "st-source")
    return delivery, Call(w.admin, query={"source_kind": "notice", "source_id": "st-source"})


@case("/api/v1/push/unreachable")
def _unreachable(w: World) -> Call:
    delivery, call = _push_source(w)
    start = [0]

    def grow() -> None:  # bench residents, each in a household of the bench's communities
        w.insert("push_unreachable", delivery_id=str(delivery), resident_id=f"g + {start[0]}")
        start[0] += ROWS

    grow()
    call.grow = grow
    return call


@case("/api/v1/push/messages")
def _messages(w: World) -> Call:
    delivery, call = _push_source(w)
    start = [0]

    def grow() -> None:
        w.insert(
            "push_messages",
            delivery_id=str(delivery),
            user_id=f"g + {start[0]}",
            channel="'sms'",
            status="'failed'",
            error="'号码无效'",
            address="'+8613900000000'",
            public_id="'st' || substr(md5(random()::text), 1, 20)",
        )
        start[0] += ROWS

    grow()
    call.grow = grow
    return call


# --- community: the tree, residents, households, delegations, tags ---------------------------------------------


@case("/api/v1/community/regions")
def _regions(w: World) -> Call:
    street = w.scalar(
        "SELECT id FROM community_regions WHERE kind = 'street' AND public_id LIKE 'bstreet%' ORDER BY id"
    )

    def grow() -> None:  # more communities under the street
        w.clone(
            "community_regions",
            f"parent_id = {street}",
            name=UNIQUE,
            code="'st' || g || substr(md5(random()::text), 1, 6)",
        )

    return Call(w.daughter, query={"parent": w.public_id("community_regions", f"id = {street}")}, grow=grow)


@case("/api/v1/community/regions/{region_id}/estates")
def _estates(w: World) -> Call:
    def grow() -> None:
        w.clone("community_estates", f"community_id = {w.community}", name=UNIQUE)

    grow()
    return Call(w.daughter, {"region_id": w.public_id("community_regions", f"id = {w.community}")}, grow=grow)


@case("/api/v1/community/regions/{region_id}/roles")
def _roles(w: World) -> Call:
    start = [100]

    def grow() -> None:  # staff roles for bench accounts, each a different user
        w.insert(
            "auth_role_assignments",
            user_id=f"g + {start[0]}",
            role="'staff'",
            scope_kind="'community'",
            scope_id=str(w.community),
        )
        start[0] += ROWS

    grow()
    return Call(w.staff, {"region_id": w.public_id("community_regions", f"id = {w.community}")}, grow=grow)


@case("/api/v1/community/estates/{estate_id}/buildings")
def _buildings(w: World) -> Call:
    def grow() -> None:
        w.clone("community_buildings", "estate_id = 1", name=UNIQUE)

    return Call(w.daughter, {"estate_id": w.public_id("community_estates", "id = 1")}, grow=grow)


@case("/api/v1/community/buildings/{building_id}/units")
def _units(w: World) -> Call:
    building = w.scalar("SELECT building_id FROM community_units ORDER BY id LIMIT 1")

    def grow() -> None:
        w.clone("community_units", f"building_id = {building}", name=UNIQUE)

    grow()
    return Call(w.daughter, {"building_id": w.public_id("community_buildings", f"id = {building}")}, grow=grow)


@case("/api/v1/community/buildings/{building_id}/households")
def _households(w: World) -> Call:
    def grow() -> None:
        w.clone("community_households", "building_id = 1", room=UNIQUE)

    grow()
    return Call(w.daughter, {"building_id": w.public_id("community_buildings", "id = 1")}, grow=grow)


@case("/api/v1/community/households/{household_id}/memberships")
def _memberships(w: World) -> Call:
    # Bench household 1 has five members (residents 1, 201, 401 …); the bench's admin sees them.
    start = [601]  # residents 602 …: none of them is in household 1 (1, 201, 401, 601, 801)

    def grow() -> None:  # bench residents of other households join it as family
        w.clone(
            "accounts_household_memberships",
            "household_id = 1 AND role = 'family'",
            count=5,
            resident_id=f"g + {start[0]}",
        )
        start[0] += 5

    return Call(w.bench_admin, {"household_id": w.public_id("community_households", "id = 1")}, grow=grow)


@case("/api/v1/me/memberships")
def _my_memberships(w: World) -> Call:
    resident = w.resident_of(w.daughter)
    start = [0]

    def grow() -> None:  # family memberships in bench households
        w.clone(
            "accounts_household_memberships",
            f"resident_id = {resident}",
            household_id=f"g + {start[0]}",
            role="'family'",
        )
        start[0] += ROWS

    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/me/delegations")
def _my_delegations(w: World) -> Call:
    resident = w.resident_of(w.daughter)
    start = [0]

    def grow() -> None:  # the daughter acts for bench residents too
        w.clone("accounts_delegations", f"actor_resident_id = {resident}", subject_resident_id=f"g + {start[0]}")
        start[0] += ROWS

    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/me/consents")
def _consents(w: World) -> Call:
    resident = w.resident_of(w.daughter)

    def grow() -> None:
        w.clone(
            "accounts_consents",
            "true",
            user_id=str(w.daughter.id),
            resident_id=str(resident),
            policy_version=UNIQUE,
            accepted_at="now() - make_interval(mins => g)",
        )

    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/residents")
def _residents(w: World) -> Call:
    def grow() -> None:
        w.clone("accounts_residents", "id = 1", user_id="NULL", count=1000)

    return Call(w.bench_admin, grow=grow)


@case("/api/v1/residents/{resident_id}/delegations")
def _resident_delegations(w: World) -> Call:
    subject = w.scalar("SELECT subject_resident_id FROM accounts_delegations ORDER BY id LIMIT 1")
    start = [0]

    def grow() -> None:  # bench residents act for the demo's elder
        w.clone("accounts_delegations", f"subject_resident_id = {subject}", actor_resident_id=f"g + {start[0]}")
        start[0] += ROWS

    grow()
    return Call(w.staff, {"resident_id": w.public_id("accounts_residents", f"id = {subject}")}, grow=grow)


@case("/api/v1/tags")
def _tags(w: World) -> Call:
    def grow() -> None:
        w.clone(
            "accounts_tags",
            "code IS NOT NULL",
            code="NULL",
            name=UNIQUE,
            region_id=str(w.community),
            created_by_user_id=str(w.staff.id),
        )

    grow()
    return Call(w.staff, query={"region": w.public_id("community_regions", f"id = {w.community}")}, grow=grow)


# --- marketplace: the bench's vendors, products and orders; the demo grocer, repair shop and cabinets --------------
# Bench vendor v is owned by account 1000 + v (the bench's residents come first) and serves communities v..v+2.


def _bench_vendor_owner(w: World, vendor: int = 1) -> User:
    return database.session.get(User, w.sizes.residents + vendor)


def _grow_orders(w: World, vendor: int, **overrides: str) -> Callable[[], None]:
    start = [0]

    def grow() -> None:  # copies of the vendor's first order, each with its own resident
        w.clone(
            "marketplace_orders",
            f"vendor_id = {vendor}",
            resident_id=f"g + {start[0]}",
            placed_by_user_id=f"g + {start[0]}",
            **overrides,
        )
        start[0] += ROWS

    return grow


def _aftersales(w: World, where: str, status: str = "escalated") -> Callable[[], None]:
    """After-sales requests on the lines of bench orders matching ``where`` (orders with none yet)."""

    def grow() -> None:
        w.sql(f"""
            INSERT INTO marketplace_aftersales (public_id, order_id, line_id, vendor_id, community_id, resident_id,
                   requested_by_user_id, status, reason, photo_ids, amount_fen, refunded_fen, created_at, updated_at)
            SELECT 'st' || substr(md5(random()::text || l.id), 1, 20), o.id, l.id, o.vendor_id, o.community_id,
                   o.resident_id, o.placed_by_user_id, '{status}', '菜不新鲜', '{{}}', l.amount_fen, NULL,
                   now() - make_interval(mins => l.id::int), now()
              FROM marketplace_orders o JOIN marketplace_order_lines l ON l.order_id = o.id
             WHERE {where} AND NOT EXISTS (SELECT 1 FROM marketplace_aftersales a WHERE a.line_id = l.id)
             ORDER BY o.id LIMIT {ROWS}""")

    return grow


@case("/api/v1/marketplace/aftersales")
def _arbitration(w: World) -> Call:
    grow = _aftersales(w, "true")
    grow()
    return Call(w.bench_admin, grow=grow)


@case("/api/v1/marketplace/vendors/{vendor_id}/aftersales")
def _vendor_aftersales(w: World) -> Call:
    grow_orders = _grow_orders(w, 1)
    grow_requests = _aftersales(w, "o.vendor_id = 1", status="requested")

    def grow() -> None:
        grow_orders()
        w.sql("""INSERT INTO marketplace_order_lines (order_id, product_id, name, unit, storage_zone, price_fen,
                        quantity, weighed, amount_fen)
                 SELECT o.id, 1, '商品1', '份', 'ambient', 1000, 1, false, 1000 FROM marketplace_orders o
                  WHERE o.vendor_id = 1
                    AND NOT EXISTS (SELECT 1 FROM marketplace_order_lines l WHERE l.order_id = o.id)""")
        grow_requests()

    grow()
    return Call(_bench_vendor_owner(w), {"vendor_id": w.public_id("marketplace_vendors", "id = 1")}, grow=grow)


@case("/api/v1/marketplace/orders/{order_id}/aftersales")
def _order_aftersales(w: World) -> Call:
    # Several lines of one order, each with its request: the bench order 1 gets more lines first.
    w.sql("""INSERT INTO marketplace_order_lines (order_id, product_id, name, unit, storage_zone, price_fen, quantity,
                     weighed, amount_fen)
              SELECT 1, p.id, p.name, p.unit, p.storage_zone, 1000, 1, false, 1000 FROM marketplace_products p
               WHERE p.vendor_id = 1 AND NOT EXISTS (SELECT 1 FROM marketplace_order_lines l WHERE l.order_id = 1
                                                     AND l.product_id = p.id)""")
    grow = _aftersales(w, "o.id = 1", status="refused")
    grow()
    resident = w.scalar("SELECT resident_id FROM marketplace_orders WHERE id = 1")
    user = database.session.get(User, w.scalar("SELECT user_id FROM accounts_residents WHERE id = :r", r=resident))
    return Call(user, {"order_id": w.public_id("marketplace_orders", "id = 1")})


@case("/api/v1/marketplace/vendors/{vendor_id}/reviews")
def _reviews(w: World) -> Call:
    grow_orders = _grow_orders(w, 1)

    def grow() -> None:
        grow_orders()
        w.sql("""INSERT INTO marketplace_reviews (public_id, order_id, vendor_id, resident_id, author_user_id, rating,
                        comment, photo_ids, created_at)
                 SELECT 'st' || substr(md5(random()::text || o.id), 1, 20), o.id, o.vendor_id, o.resident_id,
                        o.placed_by_user_id, 5, '很新鲜', '{}', o.created_at
                   FROM marketplace_orders o WHERE o.vendor_id = 1
                    AND NOT EXISTS (SELECT 1 FROM marketplace_reviews r WHERE r.order_id = o.id)""")

    grow()
    return Call(w.daughter, {"vendor_id": w.public_id("marketplace_vendors", "id = 1")}, grow=grow)


def _grow_lockers(w: World) -> Callable[[], None]:
    estate = w.scalar("SELECT estate_id FROM marketplace_lockers ORDER BY id LIMIT 1")

    def grow() -> None:
        w.clone("marketplace_lockers", f"estate_id = {estate}", name=UNIQUE)

    return grow


@case("/api/v1/marketplace/lockers")
def _lockers(w: World) -> Call:
    grow = _grow_lockers(w)
    grow()
    return Call(w.staff, grow=grow)


@case("/api/v1/marketplace/vendors/{vendor_id}/lockers")
def _vendor_lockers(w: World) -> Call:
    grow = _grow_lockers(w)
    grow()
    vendor = w.scalar("SELECT id FROM marketplace_vendors WHERE applicant_user_id = :u", u=w.grocer.id)
    return Call(w.grocer, {"vendor_id": w.public_id("marketplace_vendors", f"id = {vendor}")}, grow=grow)


@case("/api/v1/marketplace/vendors")
def _vendors(w: World) -> Call:
    def grow() -> None:
        w.clone("marketplace_vendors", "id = 2", count=50)

    return Call(w.bench_admin, grow=grow)


@case("/api/v1/marketplace/my-vendors")
def _my_vendors(w: World) -> Call:
    # The bench admin is made owner of the first bench vendors.
    start = [0]

    def grow() -> None:
        w.insert(
            "auth_role_assignments",
            5,
            user_id=str(w.bench_admin.id),
            role="'owner'",
            scope_kind="'vendor'",
            scope_id=f"g + {start[0]}",
        )
        start[0] += 5

    grow()
    return Call(w.bench_admin, grow=grow)


@case("/api/v1/marketplace/vendors/{vendor_id}/products")
def _vendor_products(w: World) -> Call:
    def grow() -> None:
        w.clone("marketplace_products", "vendor_id = 1")

    grow()
    return Call(_bench_vendor_owner(w), {"vendor_id": w.public_id("marketplace_vendors", "id = 1")}, grow=grow)


@case("/api/v1/marketplace/products")
def _products(w: World) -> Call:
    # Resident 5 lives in community 5, served by bench vendors 1, 49 and 50: twelve products, and more below.
    def grow() -> None:
        w.clone("marketplace_products", "vendor_id = 1")

    grow()
    return Call(database.session.get(User, 5), grow=grow)


@case("/api/v1/marketplace/orders")
def _my_orders(w: World) -> Call:
    def grow() -> None:
        w.clone("marketplace_orders", "true", resident_id="5", placed_by_user_id="5", vendor_id="1 + (g % 50)")

    grow()
    return Call(database.session.get(User, 5), grow=grow)


@case("/api/v1/marketplace/vendors/{vendor_id}/orders")
def _vendor_orders(w: World) -> Call:
    grow = _grow_orders(w, 1)
    grow()
    return Call(_bench_vendor_owner(w), {"vendor_id": w.public_id("marketplace_vendors", "id = 1")}, grow=grow)


def _repair_shop(w: World) -> int:
    return w.scalar("SELECT id FROM marketplace_vendors WHERE applicant_user_id = :u", u=w.repairer.id)


@case("/api/v1/marketplace/vendors/{vendor_id}/services")
def _vendor_services(w: World) -> Call:
    shop = _repair_shop(w)

    def grow() -> None:
        w.clone("marketplace_services", f"vendor_id = {shop}")

    grow()
    return Call(w.repairer, {"vendor_id": w.public_id("marketplace_vendors", f"id = {shop}")}, grow=grow)


@case("/api/v1/marketplace/services")
def _services(w: World) -> Call:
    shop = _repair_shop(w)

    def grow() -> None:
        w.clone("marketplace_services", f"vendor_id = {shop}")

    grow()
    return Call(w.daughter, grow=grow)


def _grow_bookings(w: World, **overrides: str) -> Callable[[], None]:
    from datetime import timedelta

    from app.db import utcnow
    from marketplace.services_bookings import book_service

    shop = _repair_shop(w)
    start = utcnow() + timedelta(days=1)
    if not w.scalar("SELECT count(*) FROM marketplace_service_orders WHERE vendor_id = :v", v=shop):
        service = w.public_id("marketplace_services", f"vendor_id = {shop}")
        body = {
            "service_id": service,
            "description": "水龙头漏水",
            "window_start": start,
            "window_end": start + timedelta(hours=2),
        }
        book_service(w.daughter, body)

    def grow() -> None:
        w.clone("marketplace_service_orders", f"vendor_id = {shop}", **overrides)

    return grow


@case("/api/v1/marketplace/service-orders")
def _my_bookings(w: World) -> Call:
    grow = _grow_bookings(w)
    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/marketplace/vendors/{vendor_id}/service-orders")
def _vendor_bookings(w: World) -> Call:
    grow = _grow_bookings(w)
    grow()
    shop = _repair_shop(w)
    return Call(w.repairer, {"vendor_id": w.public_id("marketplace_vendors", f"id = {shop}")}, grow=grow)


# --- notices: the bench's 20 notices over its 20 communities; the demo's survey -------------------------------------


def _deliver(w: World, notices_where: str) -> None:
    """One push delivery per notice matching ``notices_where`` that has none yet, as publishing makes them."""
    w.sql(f"""INSERT INTO push_deliveries (public_id, event, source_kind, source_id, scope, urgent, title, body,
                     audience_count, fan_out_jobs, fan_out_cursor)
              SELECT 'st' || substr(md5(random()::text || n.id), 1, 20), 'notice.published', 'notice', n.public_id,
                     'notices', false, n.title, '', 0, 0, 0
                FROM notices_notices n
               WHERE {notices_where} AND NOT EXISTS (SELECT 1 FROM push_deliveries d WHERE d.source_kind = 'notice'
                                                     AND d.source_id = n.public_id)""")


@case("/api/v1/notices")
def _notices(w: World) -> Call:
    def grow() -> None:  # copies over the bench's communities, so each page names many regions
        w.clone("notices_notices", "true", region_id="5 + (g % 20)", count=20)

    return Call(w.bench_admin, grow=grow)


@case("/api/v1/notices/feed")
def _feed(w: World) -> Call:
    resident = w.resident_of(w.daughter)

    def grow() -> None:  # the daughter receives ROWS more notices of the bench's communities
        w.clone("notices_notices", "true", region_id="5 + (g % 20)")
        _deliver(w, "true")
        w.sql(f"""INSERT INTO push_inbox (user_id, resident_id, delivery_id, via)
                  SELECT {w.daughter.id}, {resident}, d.id, 'self' FROM push_deliveries d
                   WHERE d.source_kind = 'notice' AND NOT EXISTS (SELECT 1 FROM push_inbox i WHERE i.delivery_id = d.id
                                                                  AND i.user_id = {w.daughter.id})""")

    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/notices/{notice_id}/unread")
def _unread(w: World) -> Call:
    _deliver(w, "n.id = 1")
    delivery = w.scalar(
        "SELECT d.id FROM push_deliveries d JOIN notices_notices n ON n.public_id = d.source_id WHERE n.id = 1"
    )
    start = [0]

    def grow() -> None:  # bench residents g (account g) reached and not read
        w.insert(
            "push_inbox",
            user_id=f"g + {start[0]}",
            resident_id=f"g + {start[0]}",
            delivery_id=str(delivery),
            via="'self'",
        )
        start[0] += ROWS

    grow()
    return Call(w.bench_admin, {"notice_id": w.public_id("notices_notices", "id = 1")}, grow=grow)


@case("/api/v1/notices/surveys")
def _surveys(w: World) -> Call:
    def grow() -> None:
        w.clone("notices_surveys", "true", region_id="5 + (g % 20)")

    grow()
    return Call(w.bench_admin, grow=grow)


# --- neighbours: the demo's posts, comments, group and activity in 幸福社区; bench accounts as authors ---------------


def _community_public_id(w: World) -> str:
    return w.public_id("community_regions", f"id = {w.community}")


def _grow_posts(w: World, where: str, **overrides: str) -> Callable[[], None]:
    start = [100]

    def grow() -> None:  # each copy by another bench account, so authors differ along the page
        w.clone(
            "neighbours_posts",
            f"community_id = {w.community} AND {where}",
            author_user_id=f"g + {start[0]}",
            author_resident_id=f"g + {start[0]}",
            **overrides,
        )
        start[0] += ROWS

    return grow


@case("/api/v1/neighbours/posts")
def _posts(w: World) -> Call:
    grow = _grow_posts(w, "group_id IS NULL AND building_id IS NULL")
    grow()
    return Call(w.daughter, query={"community_id": _community_public_id(w)}, grow=grow)


@case("/api/v1/neighbours/manage/posts")
def _hidden_posts(w: World) -> Call:
    grow = _grow_posts(
        w, "group_id IS NULL", status="'hidden'", hidden_reason="'reports'", hidden_at="now()", report_count="3"
    )
    grow()
    return Call(w.staff, query={"community_id": _community_public_id(w)}, grow=grow)


@case("/api/v1/neighbours/groups/{group_id}/posts")
def _group_posts(w: World) -> Call:
    grow = _grow_posts(w, "group_id IS NOT NULL")
    grow()
    group = w.public_id("neighbours_groups", f"community_id = {w.community}")
    return Call(w.tenant, {"group_id": group}, grow=grow)


def _grow_comments(w: World, where: str, **overrides: str) -> Callable[[], None]:
    start = [100]

    def grow() -> None:
        w.clone(
            "neighbours_comments",
            where,
            author_user_id=f"g + {start[0]}",
            author_resident_id=f"g + {start[0]}",
            **overrides,
        )
        start[0] += ROWS

    return grow


@case("/api/v1/neighbours/posts/{post_id}/comments")
def _comments(w: World) -> Call:
    grow = _grow_comments(w, "parent_id IS NULL")
    grow()
    post = w.scalar("SELECT post_id FROM neighbours_comments ORDER BY id LIMIT 1")
    return Call(w.daughter, {"post_id": w.public_id("neighbours_posts", f"id = {post}")}, grow=grow)


@case("/api/v1/neighbours/comments/{comment_id}/replies")
def _replies(w: World) -> Call:
    grow = _grow_comments(w, "parent_id IS NOT NULL")
    grow()
    parent = w.scalar("SELECT parent_id FROM neighbours_comments WHERE parent_id IS NOT NULL ORDER BY id LIMIT 1")
    return Call(w.daughter, {"comment_id": w.public_id("neighbours_comments", f"id = {parent}")}, grow=grow)


@case("/api/v1/neighbours/manage/comments")
def _hidden_comments(w: World) -> Call:
    grow = _grow_comments(w, "parent_id IS NULL", status="'hidden'", hidden_reason="'staff'", hidden_at="now()")
    grow()
    return Call(w.staff, query={"community_id": _community_public_id(w)}, grow=grow)


@case("/api/v1/neighbours/groups")
def _groups(w: World) -> Call:
    start = [100]

    def grow() -> None:
        w.clone("neighbours_groups", f"community_id = {w.community}", name=UNIQUE, owner_user_id=f"g + {start[0]}")
        start[0] += ROWS

    grow()
    return Call(w.daughter, query={"community_id": _community_public_id(w)}, grow=grow)


@case("/api/v1/neighbours/groups/{group_id}/requests")
def _group_requests(w: World) -> Call:
    group = w.scalar(f"SELECT id FROM neighbours_groups WHERE community_id = {w.community} ORDER BY id LIMIT 1")
    w.sql(f"UPDATE neighbours_groups SET closed = true WHERE id = {group}")
    start = [100]

    def grow() -> None:
        w.insert("neighbours_group_members", group_id=str(group), user_id=f"g + {start[0]}", status="'pending'")
        start[0] += ROWS

    grow()
    owner = w.scalar(f"SELECT owner_user_id FROM neighbours_groups WHERE id = {group}")
    return Call(
        database.session.get(User, owner), {"group_id": w.public_id("neighbours_groups", f"id = {group}")}, grow=grow
    )


@case("/api/v1/neighbours/manage/mutes")
def _mutes(w: World) -> Call:
    start = [100]

    def grow() -> None:
        w.insert(
            "neighbours_mutes",
            public_id="'st' || substr(md5(random()::text || g), 1, 20)",
            community_id=str(w.community),
            user_id=f"g + {start[0]}",
            until="now() + interval '7 days'",
            reason="'刷屏'",
            created_by_user_id=str(w.staff.id),
            created_at="now() - make_interval(mins => g)",
        )
        start[0] += ROWS

    grow()
    return Call(w.staff, query={"community_id": _community_public_id(w)}, grow=grow)


@case("/api/v1/neighbours/manage/images")
def _images(w: World) -> Call:
    post = w.scalar(f"SELECT id FROM neighbours_posts WHERE community_id = {w.community} ORDER BY id LIMIT 1")

    def grow() -> None:  # images waiting for staff review, each on its own file and a post of its own
        for _ in range(ROWS):
            w.clone("neighbours_posts", f"id = {post}", count=1)
            copy = w.scalar("SELECT max(id) FROM neighbours_posts")
            file = w.scalar(f"""INSERT INTO core_files (public_id, uploader_id, owner_kind, owner_id, visibility,
                                       content_type, size, sha256, storage_key, filename)
                                VALUES ('st' || substr(md5(random()::text), 1, 20), {w.daughter.id}, 'neighbours_post',
                                        {copy}, 'public', 'image/jpeg', 100, repeat('a', 64),
                                        'st/' || md5(random()::text), 'cat.jpg') RETURNING id""")
            w.sql(f"""INSERT INTO neighbours_post_images (post_id, community_id, position, file_id, file_public_id,
                             review, status, submitted_at)
                      SELECT {copy}, {w.community}, 0, f.id, f.public_id, 'staff', 'pending', now()
                        FROM core_files f WHERE f.id = {file}""")

    grow()
    return Call(w.staff, query={"community_id": _community_public_id(w)}, grow=grow)


@case("/api/v1/neighbours/manage/words")
def _words(w: World) -> Call:
    def grow() -> None:
        w.insert(
            "neighbours_sensitive_words",
            public_id="'st' || substr(md5(random()::text || g), 1, 20)",
            region_id=str(w.community),
            word=UNIQUE,
            action="'mask'",
            created_by_user_id=str(w.staff.id),
        )

    grow()
    return Call(w.staff, query={"region_id": _community_public_id(w)}, grow=grow)


@case("/api/v1/neighbours/topics")
def _topics(w: World) -> Call:
    return Call(w.daughter)


def _grow_activities(w: World) -> Callable[[], None]:
    def grow() -> None:
        w.clone(
            "neighbours_activities",
            f"community_id = {w.community}",
            starts_at="src.starts_at + make_interval(hours => g)",
            ends_at="src.ends_at + make_interval(hours => g)",
        )

    return grow


@case("/api/v1/neighbours/activities")
def _activities(w: World) -> Call:
    grow = _grow_activities(w)
    grow()
    return Call(w.daughter, query={"community_id": _community_public_id(w)}, grow=grow)


@case("/api/v1/neighbours/manage/activities")
def _managed_activities(w: World) -> Call:
    grow = _grow_activities(w)
    grow()
    return Call(w.staff, query={"community_id": _community_public_id(w)}, grow=grow)


def _grow_signups(w: World, activity: int, first: int = 100, **overrides: str) -> Callable[[], None]:
    start = [first]

    def grow() -> None:  # bench residents sign up, each by their own account
        w.clone(
            "neighbours_activity_signups",
            f"activity_id = {activity}",
            resident_id=f"g + {start[0]}",
            signed_up_by_user_id=f"g + {start[0]}",
            queue_no=f"1000 + g + {start[0]}",
            **overrides,
        )
        start[0] += ROWS

    return grow


@case("/api/v1/neighbours/manage/activities/{activity_id}/signups")
def _signups(w: World) -> Call:
    activity = w.scalar(f"SELECT id FROM neighbours_activities WHERE community_id = {w.community} ORDER BY id LIMIT 1")
    grow = _grow_signups(w, activity)
    grow()
    return Call(w.staff, {"activity_id": w.public_id("neighbours_activities", f"id = {activity}")}, grow=grow)


@case("/api/v1/neighbours/volunteer-hours")
def _volunteer_hours(w: World) -> Call:
    resident = w.resident_of(w.tenant)
    source = w.scalar(f"SELECT activity_id FROM neighbours_activity_signups WHERE resident_id = {resident}")

    def grow() -> None:  # the tenant volunteered at ROWS more (copied) activities, minutes recorded
        for _ in range(ROWS):
            w.clone("neighbours_activities", f"id = {source}", count=1, volunteer="true")
            copy = w.scalar("SELECT max(id) FROM neighbours_activities")
            w.clone(
                "neighbours_activity_signups",
                f"activity_id = {source} AND resident_id = {resident}",
                count=1,
                activity_id=str(copy),
                checked_in_at="now()",
                checked_out_at="now()",
                volunteer_minutes="90",
            )

    grow()
    return Call(w.tenant, grow=grow)


@case("/api/v1/neighbours/manage/volunteer-ranking")
def _ranking(w: World) -> Call:
    activity = w.scalar(f"SELECT id FROM neighbours_activities WHERE community_id = {w.community} ORDER BY id LIMIT 1")
    grow = _grow_signups(
        w,
        activity,
        500,
        status="'confirmed'",
        checked_in_at="now()",
        checked_out_at="now()",
        volunteer_minutes="30 + g",
    )
    grow()
    return Call(w.staff, query={"region_id": _community_public_id(w)}, grow=grow)


# --- eldercare: the demo's two providers, the meal provider's menus, the elder's balance, series and orders ---------


def _meal_provider(w: World) -> int:
    return w.scalar("SELECT id FROM eldercare_providers WHERE applicant_user_id = :u", u=w.provider_admin.id)


def _elder(w: World) -> int:
    return w.scalar("SELECT id FROM accounts_residents WHERE real_name = '王秀兰'")


def _provider_call(w: World, user: User | None = None, **kwargs: Any) -> Call:
    provider = w.public_id("eldercare_providers", f"id = {_meal_provider(w)}")
    return Call(user or w.provider_admin, {"provider_id": provider}, **kwargs)


@case("/api/v1/eldercare/providers/{provider_id}/dishes")
def _dishes(w: World) -> Call:
    def grow() -> None:
        w.clone("eldercare_dishes", f"provider_id = {_meal_provider(w)}", name=UNIQUE)

    grow()
    return _provider_call(w, grow=grow)


@case("/api/v1/eldercare/meals/menus")
def _menus(w: World) -> Call:
    provider = _meal_provider(w)
    day = w.scalar(f"SELECT min(day) FROM eldercare_menu_entries WHERE provider_id = {provider}")

    def grow() -> None:  # new dishes on that day's menu
        w.clone("eldercare_dishes", f"provider_id = {provider}", name=UNIQUE)
        w.sql(f"""INSERT INTO eldercare_menu_entries (public_id, provider_id, offer_id, day, dish_id)
                  SELECT 'st' || substr(md5(random()::text || d.id), 1, 20), {provider}, e.offer_id, e.day, d.id
                    FROM eldercare_dishes d, (SELECT * FROM eldercare_menu_entries WHERE day = '{day}' LIMIT 1) e
                   WHERE d.provider_id = {provider} AND NOT EXISTS (
                         SELECT 1 FROM eldercare_menu_entries m WHERE m.day = e.day AND m.dish_id = d.id)""")

    grow()
    return Call(
        w.daughter,
        query={"day": day.isoformat(), "elder_id": w.public_id("accounts_residents", f"id = {_elder(w)}")},
        grow=grow,
    )


@case("/api/v1/eldercare/series")
def _series(w: World) -> Call:
    def grow() -> None:
        w.clone("eldercare_series", f"resident_id = {_elder(w)}")

    grow()
    return Call(w.daughter, query={"elder_id": w.public_id("accounts_residents", f"id = {_elder(w)}")}, grow=grow)


@case("/api/v1/eldercare/balances")
def _balances(w: World) -> Call:
    elder = _elder(w)

    def grow() -> None:  # more providers, the elder holding a card at each
        w.clone("eldercare_providers", f"id = {_meal_provider(w)}", name=UNIQUE)
        w.sql(f"""INSERT INTO eldercare_care_balances (public_id, resident_id, provider_id, balance_fen,
                         issued_by_user_id)
                  SELECT 'st' || substr(md5(random()::text || p.id), 1, 20), {elder}, p.id, 1000, p.applicant_user_id
                    FROM eldercare_providers p
                   WHERE NOT EXISTS (SELECT 1 FROM eldercare_care_balances b WHERE b.provider_id = p.id
                                     AND b.resident_id = {elder})""")

    grow()
    return Call(w.daughter, query={"elder_id": w.public_id("accounts_residents", f"id = {elder}")}, grow=grow)


@case("/api/v1/eldercare/balances/{balance_id}/ledger")
def _ledger(w: World) -> Call:
    balance = w.scalar(f"SELECT id FROM eldercare_care_balances WHERE resident_id = {_elder(w)} ORDER BY id LIMIT 1")

    def grow() -> None:
        w.clone("eldercare_balance_ledger", f"balance_id = {balance}", idempotency_key=UNIQUE)

    grow()
    return Call(w.daughter, {"balance_id": w.public_id("eldercare_care_balances", f"id = {balance}")}, grow=grow)


@case("/api/v1/eldercare/eligibility-rules")
def _rules(w: World) -> Call:
    def grow() -> None:
        w.clone("eldercare_eligibility_rules", "true", name=UNIQUE)

    grow()
    return Call(w.admin, grow=grow)


@case("/api/v1/eldercare/items")
def _items(w: World) -> Call:
    def grow() -> None:
        w.clone("eldercare_items", "true", name=UNIQUE)

    return Call(w.daughter, grow=grow)


@case("/api/v1/eldercare/offers")
def _offers(w: World) -> Call:
    def grow() -> None:  # new items, each offered by the meal provider in the demo community
        w.clone("eldercare_items", "true", name=UNIQUE)
        w.sql(f"""INSERT INTO eldercare_offers (public_id, provider_id, item_id, price_fen, duration_minutes, active,
                         cancellation_fee_fen)
                  SELECT 'st' || substr(md5(random()::text || i.id), 1, 20), {_meal_provider(w)}, i.id, 3000, 60, true,
                         0
                    FROM eldercare_items i
                   WHERE NOT EXISTS (SELECT 1 FROM eldercare_offers o WHERE o.item_id = i.id
                                     AND o.provider_id = {_meal_provider(w)})""")
        w.sql(f"""INSERT INTO eldercare_offer_communities (offer_id, community_id)
                  SELECT o.id, {w.community} FROM eldercare_offers o
                   WHERE NOT EXISTS (SELECT 1 FROM eldercare_offer_communities c WHERE c.offer_id = o.id)""")

    return Call(w.daughter, grow=grow)


def _grow_care_orders(w: World) -> Callable[[], None]:
    def grow() -> None:
        w.clone(
            "eldercare_orders",
            f"provider_id = {_meal_provider(w)}",
            scheduled_at="src.scheduled_at + make_interval(days => g)",
        )

    return grow


@case("/api/v1/eldercare/providers/{provider_id}/orders")
def _provider_orders(w: World) -> Call:
    grow = _grow_care_orders(w)
    grow()
    return _provider_call(w, grow=grow)


@case("/api/v1/eldercare/orders")
def _care_orders(w: World) -> Call:
    grow = _grow_care_orders(w)
    grow()
    return Call(w.daughter, query={"elder_id": w.public_id("accounts_residents", f"id = {_elder(w)}")}, grow=grow)


@case("/api/v1/eldercare/providers/{provider_id}/caregivers")
def _caregivers(w: World) -> Call:
    start = [100]

    def grow() -> None:  # bench accounts join as caregivers
        w.insert(
            "eldercare_caregivers",
            provider_id=str(_meal_provider(w)),
            user_id=f"g + {start[0]}",
            skills="ARRAY['meal']::varchar[]",
            updated_by_user_id=str(w.provider_admin.id),
        )
        w.insert(
            "auth_role_assignments",
            user_id=f"g + {start[0]}",
            role="'caregiver'",
            scope_kind="'provider'",
            scope_id=str(_meal_provider(w)),
        )
        start[0] += ROWS

    grow()
    return _provider_call(w, grow=grow)


@case("/api/v1/eldercare/visits")
def _visits(w: World) -> Call:
    provider = _meal_provider(w)
    grow_orders = _grow_care_orders(w)

    def grow() -> None:  # orders with no visit yet get one, assigned to the demo caregiver
        grow_orders()
        w.sql(f"""INSERT INTO eldercare_visits (order_id, provider_id, caregiver_user_id, assigned_by_user_id,
                         assigned_at)
                  SELECT o.id, o.provider_id, {w.caregiver.id}, {w.provider_admin.id}, now() FROM eldercare_orders o
                   WHERE o.provider_id = {provider}
                     AND NOT EXISTS (SELECT 1 FROM eldercare_visits v WHERE v.order_id = o.id)""")

    grow()
    return Call(w.caregiver, grow=grow)


# --- govservice: the demo's centre in 幸福社区 (8 categories, 37 guides, 3 windows) and the street's departments -----


def _centre(w: World) -> int:
    return w.scalar("SELECT id FROM govservice_centres ORDER BY id LIMIT 1")


def _centre_call(w: World, user: User | None = None, **kwargs: Any) -> Call:
    return Call(user or w.staff, {"centre_id": w.public_id("govservice_centres", f"id = {_centre(w)}")}, **kwargs)


def _department(w: World) -> int:
    return w.scalar("SELECT id FROM govservice_departments ORDER BY id LIMIT 1")


@case("/api/v1/govservice/centres")
def _centres(w: World) -> Call:
    def grow() -> None:
        w.clone("govservice_centres", f"id = {_centre(w)}")

    grow()
    return Call(None, grow=grow)


@case("/api/v1/govservice/centres/{centre_id}/windows")
def _windows(w: World) -> Call:
    def grow() -> None:
        w.clone(
            "govservice_windows",
            f"centre_id = {_centre(w)}",
            number="100 + g + (SELECT count(*) FROM govservice_windows)",
        )

    grow()
    return _centre_call(w, None, grow=grow)


@case("/api/v1/govservice/centres/{centre_id}/categories")
def _categories(w: World) -> Call:
    def grow() -> None:
        w.clone("govservice_categories", f"centre_id = {_centre(w)}", name=UNIQUE)

    grow()
    return _centre_call(w, None, grow=grow)


@case("/api/v1/govservice/guides")
def _guides(w: World) -> Call:
    return Call(None)  # the demo publishes 37 guides


@case("/api/v1/govservice/manage/centres/{centre_id}/guides")
def _managed_guides(w: World) -> Call:
    return _centre_call(w)


def _slot(w: World, day: str) -> tuple[int, int, int]:
    """(window, slot, item) for bookings at the centre on ``day``: a slot made for them with room for all."""
    window = w.scalar(
        f"SELECT window_id FROM govservice_window_items wi JOIN govservice_guide_versions v "
        f"ON v.item_id = wi.item_id WHERE wi.centre_id = {_centre(w)} AND v.bookable "
        f"AND v.status = 'published' ORDER BY wi.window_id LIMIT 1"
    )
    item = w.scalar(
        f"SELECT wi.item_id FROM govservice_window_items wi JOIN govservice_guide_versions v "
        f"ON v.item_id = wi.item_id WHERE wi.window_id = {window} AND v.bookable "
        f"AND v.status = 'published' ORDER BY wi.item_id LIMIT 1"
    )
    slot = w.scalar(f"""INSERT INTO govservice_slots (window_id, day, starts_at, ends_at, capacity, booked)
                        VALUES ({window}, '{day}', '{day} 01:00+00', '{day} 01:30+00', 1000, 0)
                        ON CONFLICT (window_id, starts_at) DO UPDATE SET capacity = 1000 RETURNING id""")
    return window, slot, item


def _grow_bookings_at(w: World, day: str, resident: str, user: str) -> Callable[[], None]:
    window, slot, item = _slot(w, day)
    start = [0]

    def grow() -> None:
        w.insert(
            "govservice_bookings",
            public_id="'st' || substr(md5(random()::text || g), 1, 20)",
            centre_id=str(_centre(w)),
            window_id=str(window),
            slot_id=str(slot),
            item_id=str(item),
            resident_id=resident.format(n=f"g + {start[0]}"),
            booked_by_user_id=user.format(n=f"g + {start[0]}"),
            via="'self'",
            day=f"'{day}'",
            starts_at=f"'{day} 01:00+00'",
            ends_at=f"'{day} 01:30+00'",
            status="'booked'",
            per_day_rule="false",
            queue_number=f"g + {start[0]}",
            created_at="now() - make_interval(mins => g)",
        )
        start[0] += ROWS

    return grow


@case("/api/v1/govservice/bookings")
def _my_bookings_gov(w: World) -> Call:
    resident = w.resident_of(w.daughter)
    grow = _grow_bookings_at(w, "2026-12-10", str(resident), str(w.daughter.id))
    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/govservice/manage/centres/{centre_id}/bookings")
def _desk_bookings(w: World) -> Call:
    grow = _grow_bookings_at(w, "2026-12-11", "{n}", "{n}")  # bench residents, each by their own account
    grow()
    return _centre_call(w, query={"day": "2026-12-11"}, grow=grow)


@case("/api/v1/govservice/manage/centres/{centre_id}/closures")
def _closures(w: World) -> Call:
    window = w.scalar(f"SELECT id FROM govservice_windows WHERE centre_id = {_centre(w)} ORDER BY id LIMIT 1")
    start = [0]

    def grow() -> None:
        w.insert(
            "govservice_closures",
            public_id="'st' || substr(md5(random()::text || g), 1, 20)",
            centre_id=str(_centre(w)),
            window_id=str(window),
            day=f"current_date + 30 + g + {start[0]}",
            reason="'设备检修'",
            cancelled_bookings="0",
            created_by_user_id=str(w.staff.id),
        )
        start[0] += ROWS

    grow()
    return _centre_call(w, grow=grow)


@case("/api/v1/govservice/manage/centres/{centre_id}/suspensions")
def _suspensions(w: World) -> Call:
    start = [0]

    def grow() -> None:
        w.insert(
            "govservice_suspensions",
            public_id="'st' || substr(md5(random()::text || g), 1, 20)",
            centre_id=str(_centre(w)),
            resident_id=f"g + {start[0]}",
            starts_on="current_date",
            ends_on="current_date + 30",
            no_shows="3",
            created_at="now() - make_interval(mins => g)",
        )
        start[0] += ROWS

    grow()
    return _centre_call(w, grow=grow)


@case("/api/v1/govservice/manage/departments")
def _departments(w: World) -> Call:
    def grow() -> None:
        w.clone("govservice_departments", f"id = {_department(w)}", name=UNIQUE, code=UNIQUE)

    grow()
    return Call(w.admin, grow=grow)


@case("/api/v1/govservice/manage/departments/{department_id}/members")
def _department_members(w: World) -> Call:
    start = [100]

    def grow() -> None:
        w.insert(
            "auth_role_assignments",
            user_id=f"g + {start[0]}",
            role="'handler'",
            scope_kind="'department'",
            scope_id=str(_department(w)),
        )
        start[0] += ROWS

    grow()
    return Call(w.admin, {"department_id": w.public_id("govservice_departments", f"id = {_department(w)}")}, grow=grow)


def _grow_applications(
    w: World, resident: str, user: str, status: str = "pending_review", **extra: str
) -> Callable[[], None]:
    """Applications for the centre's published online guides, one per guide (up to ``ROWS`` a call)."""
    start = [0]

    def grow() -> None:
        columns = {
            "public_id": "'st' || substr(md5(random()::text || v.id), 1, 20)",
            "centre_id": "v.centre_id",
            "region_id": "c.region_id",
            "item_id": "v.item_id",
            "version_id": "v.id",
            "resident_id": resident.format(n=f"row_number() OVER () + {start[0]}"),
            "submitted_by_user_id": user.format(n=f"row_number() OVER () + {start[0]}"),
            "via": "'own'",
            "status": f"'{status}'",
            "promised_days": "5",
            "submitted_at": "now() - make_interval(mins => v.id::int)",
            **extra,
        }
        w.sql(f"""INSERT INTO govservice_applications ({", ".join(columns)})
                  SELECT {", ".join(columns.values())}
                    FROM govservice_guide_versions v JOIN govservice_centres c ON c.id = v.centre_id
                   WHERE v.centre_id = {_centre(w)} AND v.status = 'published'
                   ORDER BY v.item_id LIMIT {ROWS}""")
        start[0] += ROWS

    return grow


@case("/api/v1/govservice/applications")
def _my_applications(w: World) -> Call:
    grow = _grow_applications(w, str(w.resident_of(w.daughter)), str(w.daughter.id))
    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/govservice/manage/centres/{centre_id}/applications")
def _centre_applications(w: World) -> Call:
    grow = _grow_applications(w, "{n}", "{n}")
    grow()
    return _centre_call(w, grow=grow)


@case(
    "/api/v1/govservice/centres/{centre_id}/application-stats",
    "/api/v1/govservice/manage/centres/{centre_id}/application-stats",
)
def _application_stats(w: World) -> Call:
    grow = _grow_applications(w, "{n}", "{n}")
    grow()
    return _centre_call(w, grow=grow)


@case("/api/v1/govservice/manage/departments/{department_id}/applications")
def _department_applications(w: World) -> Call:
    department = _department(w)
    grow_applications = _grow_applications(
        w,
        "{n}",
        "{n}",
        status="processing",
        accepted_at="now()",
        accepted_on="current_date",
        due_on="current_date + 10",
    )

    def grow() -> None:
        grow_applications()
        w.sql(f"""INSERT INTO govservice_application_tasks (application_id, department_id, region_id, position, status,
                         activated_at)
                  SELECT a.id, d.id, d.region_id, 1, 'active', now()
                    FROM govservice_applications a, govservice_departments d
                   WHERE d.id = {department} AND a.status = 'processing'
                     AND NOT EXISTS (SELECT 1 FROM govservice_application_tasks t WHERE t.application_id = a.id)""")

    grow()
    return Call(w.admin, {"department_id": w.public_id("govservice_departments", f"id = {department}")}, grow=grow)


def _complaint_category(w: World) -> int:
    return w.scalar(f"""INSERT INTO govservice_complaint_categories (public_id, region_id, code, name, time_limit_days)
                        VALUES ('st' || substr(md5(random()::text), 1, 20), {w.community},
                                'st' || substr(md5(random()::text), 1, 8), '噪音扰民', 5) RETURNING id""")


@case("/api/v1/govservice/complaint-categories")
def _complaint_categories(w: World) -> Call:
    def grow() -> None:
        w.insert(
            "govservice_complaint_categories",
            public_id="'st' || substr(md5(random()::text || g), 1, 20)",
            region_id=str(w.community),
            code=UNIQUE,
            name=UNIQUE,
            time_limit_days="5",
        )

    grow()
    return Call(None, query={"community_id": _community_public_id(w)}, grow=grow)


def _grow_complaints(w: World, resident: str, user: str, **extra: str) -> Callable[[], None]:
    category = _complaint_category(w)
    start = [0]

    def grow() -> None:
        w.insert(
            "govservice_complaints",
            public_id="'st' || substr(md5(random()::text || g), 1, 20)",
            community_id=str(w.community),
            category_id=str(category),
            kind="'complaint'",
            source="'app'",
            resident_id=resident.format(n=f"g + {start[0]}"),
            submitted_by_user_id=user.format(n=f"g + {start[0]}"),
            description="'楼下广场舞音响太响'",
            status="'submitted'",
            due_on="current_date + 5",
            reopen_count="0",
            created_at="now() - make_interval(mins => g)",
            **extra,
        )
        start[0] += ROWS

    return grow


@case("/api/v1/govservice/complaints")
def _my_complaints(w: World) -> Call:
    grow = _grow_complaints(w, str(w.resident_of(w.daughter)), str(w.daughter.id))
    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/govservice/manage/complaints")
def _managed_complaints(w: World) -> Call:
    grow = _grow_complaints(w, "{n}", "{n}")
    grow()
    return Call(w.staff, grow=grow)


@case("/api/v1/govservice/manage/open311-clients")
def _open311_clients(w: World) -> Call:
    def grow() -> None:
        w.insert(
            "govservice_open311_clients",
            public_id="'st' || substr(md5(random()::text || g), 1, 20)",
            region_id=str(w.community),
            name=UNIQUE,
            key_hash="sha256((random()::text || g)::bytea)",
            created_by_user_id=str(w.staff.id),
            created_at="now() - make_interval(mins => g)",
        )

    grow()
    return Call(w.staff, grow=grow)


# --- payments and fees: the demo's property company, the estate 幸福家园小区 with two months of bills ----------------


def _grow_payments(w: World, payer: str, status: str = "paid") -> Callable[[], None]:
    start = [0]

    def grow() -> None:
        paid = status == "paid"
        w.insert(
            "payments_payments",
            public_id="'st' || substr(md5(random()::text || g), 1, 20)",
            out_trade_no="'ST' || substr(md5(random()::text || g), 1, 20)",
            kind="'fees.order'",
            payer_user_id=payer.format(n=f"g + {start[0]}"),
            payee_id="1 + (g % 50)",
            channel="'sandbox'",
            amount_fen="1000",
            status=f"'{status}'",
            expires_at="now() + interval '2 hours'",
            paid_fen="1000" if paid else "0",
            paid_at="now()" if paid else "NULL",
            channel_txn_id="'T' || md5(random()::text || g)" if paid else "NULL",
            refunded_fen="0",
            apply_attempts="0",
            created_at="now() - make_interval(mins => g)",
        )
        start[0] += ROWS

    return grow


@case("/api/v1/payments")
def _my_payments(w: World) -> Call:
    grow = _grow_payments(w, str(w.daughter.id))
    grow()
    return Call(w.daughter, grow=grow)


@case("/api/v1/admin/payments")
def _admin_payments(w: World) -> Call:
    grow = _grow_payments(w, "{n}")
    grow()
    return Call(w.admin, query={"status": "paid"}, grow=grow)


@case("/api/v1/payments/{payment_id}/receipt")
def _receipt(w: World) -> Call:
    _grow_payments(w, str(w.daughter.id))()
    payment = w.scalar(f"SELECT id FROM payments_payments WHERE payer_user_id = {w.daughter.id} ORDER BY id LIMIT 1")
    start = [0]

    def grow() -> None:  # the payment pays for many bills at once
        w.insert(
            "payments_items",
            payment_id=str(payment),
            kind="'fees.bill'",
            payable_id=f"'st-{payment}-' || g + {start[0]}",
            title="'物业费'",
            amount_fen="100",
            state="'applied'",
        )
        start[0] += ROWS

    grow()
    return Call(w.daughter, {"payment_id": w.public_id("payments_payments", f"id = {payment}")}, grow=grow)


@case("/api/v1/admin/refunds")
def _refunds(w: World) -> Call:
    _grow_payments(w, "{n}")()

    def grow() -> None:
        w.sql(f"""INSERT INTO payments_refunds (public_id, payment_id, key, out_refund_no, amount_fen, reason, status,
                         attempts, requested_by_user_id, created_at, failed_at, last_error)
                  SELECT 'st' || substr(md5(random()::text || p.id), 1, 20), p.id, 'st', 'SR' || p.id, 500, '退款',
                         'failed', 5, {w.admin.id}, now() - make_interval(mins => p.id::int),
                         now() - make_interval(mins => p.id::int), '渠道拒绝'
                    FROM payments_payments p WHERE p.status = 'paid'
                     AND NOT EXISTS (SELECT 1 FROM payments_refunds r WHERE r.payment_id = p.id)
                   ORDER BY p.id LIMIT {ROWS}""")

    grow()
    return Call(w.admin, grow=grow)


@case("/api/v1/admin/payees")
def _payees(w: World) -> Call:
    def grow() -> None:
        w.clone("payments_payees", "id = 1", count=55, wechat_sub_mchid="NULL")

    return Call(w.admin, grow=grow)


def _estate(w: World) -> int:
    return w.scalar("SELECT id FROM community_estates WHERE name = '幸福家园小区'")


def _estate_call(w: World, **kwargs: Any) -> Call:
    return Call(w.staff, {"estate_id": w.public_id("community_estates", f"id = {_estate(w)}")}, **kwargs)


@case("/api/v1/fees/households")
def _fee_households(w: World) -> Call:
    resident = w.resident_of(w.daughter)
    estate = _estate(w)

    def grow() -> None:  # the daughter joins more households of the estate (as family), each with its bills
        w.sql(f"""INSERT INTO accounts_household_memberships (public_id, household_id, resident_id, role, status,
                         starts_on)
                  SELECT 'st' || substr(md5(random()::text || h.id), 1, 20), h.id, {resident}, 'family', 'active',
                         current_date - 30
                    FROM community_households h JOIN community_buildings b ON b.id = h.building_id
                   WHERE b.estate_id = {estate} AND NOT EXISTS (
                         SELECT 1 FROM accounts_household_memberships m WHERE m.household_id = h.id
                            AND m.resident_id = {resident})
                   ORDER BY h.id LIMIT {ROWS}""")

    _grow_households(w)()
    grow()
    return Call(w.daughter, grow=grow)


def _grow_households(w: World) -> Callable[[], None]:
    """Households in the estate's first building (copies of one of its rooms)."""
    building = w.scalar(f"SELECT id FROM community_buildings WHERE estate_id = {_estate(w)} ORDER BY id LIMIT 1")

    def grow() -> None:
        w.clone("community_households", f"building_id = {building}", room=UNIQUE)

    return grow


def _grow_bills(w: World, where: str, **overrides: str) -> Callable[[], None]:
    start = [0]

    def grow() -> None:  # earlier months of one bill
        w.clone(
            "fees_bills",
            where,
            period=f"src.period - make_interval(months => g + {start[0]} + 2)",
            fee_order_id="NULL",
            **overrides,
        )
        start[0] += ROWS

    return grow


@case("/api/v1/fees/households/{household_id}/bills")
def _household_bills(w: World) -> Call:
    household = w.scalar(
        f"SELECT household_id FROM accounts_household_memberships WHERE resident_id = "
        f"{w.resident_of(w.daughter)} ORDER BY id LIMIT 1"
    )
    grow = _grow_bills(w, f"household_id = {household}")
    grow()
    return Call(w.daughter, {"household_id": w.public_id("community_households", f"id = {household}")}, grow=grow)


def _grow_household_bills(w: World, period: str, due_on: str) -> Callable[[], None]:
    """New households of the estate, each with a bill of ``period`` like the estate's first one."""
    grow_households = _grow_households(w)
    estate = _estate(w)

    def grow() -> None:
        grow_households()
        w.sql(f"""INSERT INTO fees_bills (public_id, household_id, item_id, estate_id, community_id, payee_id, period,
                         one_off, title, quantity, months, rate_centifen, amount_fen, discount_fen, due_on,
                         late_fee_bps_per_day, late_fee_cap_bps, late_fee_waived, status, created_at)
                  SELECT 'st' || substr(md5(random()::text || h.id), 1, 20), h.id, b.item_id, b.estate_id,
                         b.community_id, b.payee_id, {period}, false, b.title, b.quantity, 1, b.rate_centifen,
                         b.amount_fen, 0, {due_on}, b.late_fee_bps_per_day, b.late_fee_cap_bps, false, 'unpaid', now()
                    FROM community_households h JOIN community_buildings bl ON bl.id = h.building_id,
                         (SELECT * FROM fees_bills WHERE estate_id = {estate} ORDER BY id LIMIT 1) b
                   WHERE bl.estate_id = {estate}
                     AND NOT EXISTS (SELECT 1 FROM fees_bills x WHERE x.household_id = h.id AND x.item_id = b.item_id
                                     AND x.period = {period})""")

    return grow


@case("/api/v1/fees/estates/{estate_id}/bills")
def _estate_bills(w: World) -> Call:
    period = w.scalar(f"SELECT min(period) FROM fees_bills WHERE estate_id = {_estate(w)}")
    grow = _grow_household_bills(w, f"'{period}'::date", f"'{period}'::date + 30")
    grow()
    return _estate_call(w, query={"period": str(period)[:7]}, grow=grow)


@case("/api/v1/fees/estates/{estate_id}/arrears")
def _arrears(w: World) -> Call:
    period = "date_trunc('month', current_date - 90)::date"
    grow = _grow_household_bills(w, period, "current_date - 60")
    grow()
    return _estate_call(w, grow=grow)


@case("/api/v1/fees/estates/{estate_id}/items")
def _fee_items(w: World) -> Call:
    def grow() -> None:
        w.clone("fees_items", f"estate_id = {_estate(w)}", name=UNIQUE)

    grow()
    return _estate_call(w, grow=grow)


@case("/api/v1/fees/items/{item_id}/readings")
def _readings(w: World) -> Call:
    item = w.scalar("SELECT item_id FROM fees_meter_readings ORDER BY id LIMIT 1")
    grow_households = _grow_households(w)
    period = w.scalar(f"SELECT max(period) FROM fees_meter_readings WHERE item_id = {item}")

    def grow() -> None:  # readings of new households
        grow_households()
        w.sql(f"""INSERT INTO fees_meter_readings (public_id, item_id, household_id, period, previous_reading,
                         current_reading, usage, read_on)
                  SELECT 'st' || substr(md5(random()::text || h.id), 1, 20), {item}, h.id, '{period}', 100, 150, 50,
                         '{period}'
                    FROM community_households h JOIN community_buildings b ON b.id = h.building_id
                   WHERE b.estate_id = {_estate(w)} AND NOT EXISTS (
                         SELECT 1 FROM fees_meter_readings r WHERE r.household_id = h.id AND r.item_id = {item}
                            AND r.period = '{period}')""")

    grow()
    return Call(
        w.staff, {"item_id": w.public_id("fees_items", f"id = {item}")}, query={"period": str(period)[:7]}, grow=grow
    )


@case("/api/v1/fees/receipts")
def _fee_receipts(w: World) -> Call:
    resident = w.resident_of(w.daughter)
    estate = _estate(w)

    def grow() -> None:
        w.sql(f"""INSERT INTO fees_orders (public_id, household_id, estate_id, community_id, payee_id,
                         created_by_user_id, for_resident_id, status, principal_fen, late_fee_fen, amount_fen,
                         priced_on, expires_at, paid_at, refunded_fen)
                  SELECT 'st' || substr(md5(random()::text || g), 1, 20), b.household_id, b.estate_id, b.community_id,
                         b.payee_id, {w.daughter.id}, {resident}, 'paid', 1000, 0, 1000, current_date, now(), now(), 0
                    FROM generate_series(1, {ROWS}) g,
                         (SELECT * FROM fees_bills WHERE estate_id = {estate} ORDER BY id LIMIT 1) b""")
        w.sql(f"""INSERT INTO fees_receipts (public_id, number, estate_id, year, seq, fee_order_id, household_id,
                         community_id, payee_id, payer_user_id, document, principal_fen, late_fee_fen, total_fen,
                         refunded_fen, payment_public_id, out_trade_no, channel, paid_at)
                  SELECT 'st' || substr(md5(random()::text || o.id), 1, 20), 'ST' || o.id, o.estate_id, 2026,
                         o.id, o.id, o.household_id, o.community_id, o.payee_id, {w.daughter.id},
                         jsonb_build_object('payee', jsonb_build_object('id', 'p1', 'name', '物业'),
                                            'estate', '幸福家园小区',
                                            'household', jsonb_build_object('id', 'h1', 'address', '1号楼'),
                                            'paid_for', NULL, 'lines', '[]'::jsonb), 1000,
                         0, 1000, 0, 'st', 'ST' || o.id, 'sandbox', now() - make_interval(mins => o.id::int)
                    FROM fees_orders o WHERE NOT EXISTS (SELECT 1 FROM fees_receipts r WHERE r.fee_order_id = o.id)""")

    grow()
    return Call(w.daughter, grow=grow)


@case("/open311/v2/services.json")
def _open311_services(w: World) -> Call:
    grow = _complaint_categories(w).grow
    return Call(None, query={"jurisdiction_id": _community_public_id(w)}, grow=grow)


@case("/open311/v2/requests.json")
def _open311_requests(w: World) -> Call:
    grow = _grow_complaints(w, "{n}", "{n}")
    grow()
    return Call(None, query={"jurisdiction_id": _community_public_id(w)}, grow=grow)
