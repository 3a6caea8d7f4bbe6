"""The benchmark dataset, generated set-based in PostgreSQL (``INSERT … SELECT generate_series``), reproducibly.

Full scale: one district, 3 streets, 20 communities, 40,000 households, 100,000 residents (4,000 aged 80+, every
one with an account), 50 vendors, 5,000 listings, 100,000 past orders (one line each), 2,000 notices and, when
the ``neighbours`` tables exist, 50,000 posts. ``--scale 0.1`` divides every count above the communities by 10.
Randomness comes from PostgreSQL's ``setseed`` (``--seed``), so two runs with one seed give the same rows.

    python -m bench.dataset --database-url postgresql+psycopg://postgres@127.0.0.1/linli_bench --scale 0.1
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import sqlalchemy as sa

STREETS = 3
COMMUNITIES = 20
VENDORS = 50
BUILDINGS_PER_COMMUNITY = 10
#: The platform admin who posts notices in the fan-out scenario (accounts_users.id).
ADMIN_USER_ID = 1


@dataclass(frozen=True)
class Sizes:
    households: int
    residents: int
    elderly: int
    listings: int
    orders: int
    notices: int
    posts: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        def n(full: int, floor: int) -> int:
            return max(floor, round(full * scale))

        return cls(
            households=n(40_000, COMMUNITIES * BUILDINGS_PER_COMMUNITY),
            residents=n(100_000, 1_000),
            elderly=n(4_000, 40),
            listings=n(5_000, VENDORS * 4),
            orders=n(100_000, 100),
            notices=n(2_000, 20),
            posts=n(50_000, 100),
        )


def _pid(prefix: str, expression: str = "g") -> str:
    """A 16-character public id, unique per table and reproducible: a prefix and the row number, zero-padded."""
    return f"'{prefix}' || lpad(({expression})::text, {16 - len(prefix)}, '0')"


def statements(sizes: Sizes, seed: float) -> list[tuple[str, str]]:
    """(label, SQL) in dependency order; every id is explicit so later statements can compute their foreign keys."""
    s = sizes
    communities_first = 1 + 1 + STREETS  # district 1, streets 2..4, communities 5..24
    buildings = COMMUNITIES * BUILDINGS_PER_COMMUNITY
    community_of_building = f"{communities_first} + ((b - 1) / {BUILDINGS_PER_COMMUNITY})"
    return [
        ("seed", f"SELECT setseed({seed})"),
        (
            "regions",
            f"""
            INSERT INTO community_regions (id, public_id, kind, parent_id, parent_kind, name, code)
            SELECT 1, 'bdistrict0000001', 'district', NULL, NULL, '基准区', 'B000'
            UNION ALL
            SELECT 1 + g, {_pid("bstreet")}, 'street', 1, 'district', '街道' || g, 'B1' || lpad(g::text, 2, '0')
              FROM generate_series(1, {STREETS}) g
            UNION ALL
            SELECT {communities_first - 1} + g, {_pid("bcomm")}, 'community', 2 + ((g - 1) % {STREETS}), 'street',
                   '社区' || g, 'B2' || lpad(g::text, 2, '0')
              FROM generate_series(1, {COMMUNITIES}) g
            """,
        ),
        (
            "estates",
            f"""
            INSERT INTO community_estates (id, public_id, community_id, kind, name)
            SELECT g, {_pid("best")}, {communities_first - 1} + g, 'estate', '小区' || g
              FROM generate_series(1, {COMMUNITIES}) g
            """,
        ),
        (
            "buildings",
            f"""
            INSERT INTO community_buildings (id, public_id, estate_id, community_id, name, floors)
            SELECT b, {_pid("bbld", "b")}, 1 + ((b - 1) / {BUILDINGS_PER_COMMUNITY}), {community_of_building},
                   b || '号楼', 18
              FROM generate_series(1, {buildings}) b
            """,
        ),
        (
            "households",
            f"""
            INSERT INTO community_households (id, public_id, building_id, community_id, room, floor, floor_area_dm2)
            SELECT h, {_pid("bhh", "h")}, b, {community_of_building}, (h / {buildings})::text || '室',
                   1 + (h % 18), 6000 + (random() * 8000)::int
              FROM generate_series(1, {s.households}) h, LATERAL (SELECT 1 + ((h - 1) % {buildings}) AS b) x
            """,
        ),
        (
            "users",
            f"""
            INSERT INTO accounts_users (id, public_id, display_name, is_active, phone, phone_verified_at)
            SELECT g, {_pid("busr")}, '居民' || g, true, '+86139' || lpad(g::text, 8, '0'), now()
              FROM generate_series(1, {s.residents + VENDORS}) g
            """,
        ),
        (
            "admin",
            f"INSERT INTO auth_role_assignments (user_id, role, scope_kind, scope_id) "
            f"VALUES ({ADMIN_USER_ID}, 'admin', 'platform', NULL)",
        ),
        (
            # Residents 1..elderly are 80+; the rest are 18–79.
            "residents",
            f"""
            INSERT INTO accounts_residents (id, public_id, user_id, real_name, gender, birth_date, hukou_status,
                                            verification_status, verified_at, registered_community_id)
            SELECT g, {_pid("bres")}, g, '居民' || g, CASE WHEN g % 2 = 0 THEN 'female' ELSE 'male' END,
                   CASE WHEN g <= {s.elderly} THEN current_date - ((80 + random() * 15) * 365.25)::int
                        ELSE current_date - ((18 + random() * 61) * 365.25)::int END,
                   'local', 'verified', now(), {communities_first} + ((((g - 1) % {s.households})) % {buildings})
                   / {BUILDINGS_PER_COMMUNITY}
              FROM generate_series(1, {s.residents}) g
            """,
        ),
        (
            "memberships",
            f"""
            INSERT INTO accounts_household_memberships (id, public_id, household_id, resident_id, role, status,
                                                        starts_on)
            SELECT g, {_pid("bmem")}, 1 + ((g - 1) % {s.households}), g,
                   CASE WHEN g <= {s.households} THEN 'head' ELSE 'family' END, 'active', current_date - 365
              FROM generate_series(1, {s.residents}) g
            """,
        ),
        (
            "payees",
            f"""
            INSERT INTO payments_payees (id, public_id, name, kind)
            SELECT g, {_pid("bpay")}, '商户' || g, 'vendor' FROM generate_series(1, {VENDORS}) g
            """,
        ),
        (
            # Vendor v is owned by user residents + v and serves communities v, v+1, v+2 (mod 20).
            "vendors",
            f"""
            INSERT INTO marketplace_vendors (id, public_id, name, kind, licence_no, food_licence_no, contact_name,
                                             contact_phone, opening_hours, payee_id, status, applicant_user_id,
                                             decided_at)
            SELECT g, {_pid("bven")}, '商户' || g, 'grocery', 'L' || g, 'F' || g, '店主' || g,
                   '1380000' || lpad(g::text, 4, '0'), '08:00-20:00', g, 'approved', {s.residents} + g, now()
              FROM generate_series(1, {VENDORS}) g;
            INSERT INTO auth_role_assignments (user_id, role, scope_kind, scope_id)
            SELECT {s.residents} + g, 'owner', 'vendor', g FROM generate_series(1, {VENDORS}) g;
            INSERT INTO marketplace_vendor_communities (vendor_id, community_id)
            SELECT v, {communities_first} + ((v - 1 + k) % {COMMUNITIES})
              FROM generate_series(1, {VENDORS}) v, generate_series(0, 2) k
            """,
        ),
        (
            "listings",
            f"""
            INSERT INTO marketplace_products (id, public_id, vendor_id, name, category, description, unit, price_fen,
                                              original_price_fen, stock, on_shelf, storage_zone, shelf_life_days,
                                              created_at, updated_at)
            SELECT g, {_pid("bprd")}, 1 + ((g - 1) % {VENDORS}), '商品' || g,
                   (ARRAY['蔬菜', '水果', '肉禽', '粮油', '日用'])[1 + g % 5], '新鲜直达 ' || g, '份',
                   p, p + 100, 1000000, true, 'ambient', 7, now() - (g || ' minutes')::interval, now()
              FROM generate_series(1, {s.listings}) g, LATERAL (SELECT 100 + (random() * 5000)::int AS p) x
            """,
        ),
        (
            "orders",
            f"""
            INSERT INTO marketplace_orders (id, public_id, vendor_id, resident_id, placed_by_user_id, community_id,
                                            fulfilment, status, total_fen, expires_at, paid_at, created_at,
                                            updated_at)
            SELECT g, {_pid("bord")}, v, r, r, {communities_first} + ((v - 1) % {COMMUNITIES}), 'locker',
                   'completed', 1000, t + interval '15 minutes', t, t, t
              FROM generate_series(1, {s.orders}) g,
                   LATERAL (SELECT 1 + ((g - 1) % {VENDORS}) AS v, 1 + (random() * ({s.residents} - 1))::int AS r,
                                   now() - (random() * 180 || ' days')::interval AS t) x;
            INSERT INTO marketplace_order_lines (order_id, product_id, name, unit, storage_zone, price_fen, quantity,
                                                 weighed, amount_fen)
            SELECT o.id, p.id, p.name, p.unit, p.storage_zone, 1000, 1, false, 1000
              FROM marketplace_orders o
              JOIN marketplace_products p ON p.id = o.vendor_id + {VENDORS} * ((o.id / {VENDORS}) % ({s.listings}
                                                                                                    / {VENDORS}))
            """,
        ),
        (
            "notices",
            f"""
            INSERT INTO notices_notices (id, public_id, region_id, title, body, urgent, status, audience,
                                         published_at, created_by_user_id, channel, pinned, created_at, updated_at)
            SELECT g, {_pid("bntc")}, {communities_first} + ((g - 1) % {COMMUNITIES}), '通知' || g,
                   '社区通知正文 ' || g, false, 'published', '{{}}'::jsonb, t, {ADMIN_USER_ID}, 'announcement',
                   false, t, t
              FROM generate_series(1, {s.notices}) g,
                   LATERAL (SELECT now() - (random() * 365 || ' days')::interval AS t) x
            """,
        ),
    ]


def posts_statement(sizes: Sizes) -> str:
    communities_first = 1 + 1 + STREETS
    return f"""
        INSERT INTO neighbours_posts (public_id, community_id, author_user_id, topic, text, status, created_at)
        SELECT {_pid("bpst")}, {communities_first} + ((r - 1) % {COMMUNITIES}), r,
               (ARRAY['pets', 'sports', 'parenting', 'secondhand', 'help', 'other'])[1 + g % 6],
               '邻里帖子 ' || g, 'published', now() - (random() * 90 || ' days')::interval
          FROM generate_series(1, {sizes.posts}) g,
               LATERAL (SELECT 1 + ((g * 7919) % {sizes.residents}) AS r) x
    """


SEQUENCES = (
    "community_regions",
    "community_estates",
    "community_buildings",
    "community_households",
    "accounts_users",
    "accounts_residents",
    "accounts_household_memberships",
    "payments_payees",
    "marketplace_vendors",
    "marketplace_products",
    "marketplace_orders",
    "notices_notices",
)


def _run(connection: sa.Connection, sql: str) -> None:
    """Send SQL as is (no parameters, so ``%`` is the modulo operator)."""
    connection.connection.driver_connection.execute(sql)


def generate(engine: sa.Engine, *, scale: float = 1.0, seed: float = 0.42) -> dict[str, float]:
    """Fill an empty, migrated database; returns seconds per step (and the row counts under ``rows:``)."""
    sizes = Sizes.at(scale)
    timings: dict[str, float] = {}
    with engine.begin() as connection:
        for label, sql in statements(sizes, seed):
            started = time.perf_counter()
            for part in sql.split(";\n"):
                if part.strip():
                    _run(connection, part)
            timings[label] = time.perf_counter() - started
        has_posts = connection.scalar(sa.text("SELECT to_regclass('neighbours_posts') IS NOT NULL"))
        if has_posts:
            started = time.perf_counter()
            _run(connection, posts_statement(sizes))
            timings["posts"] = time.perf_counter() - started
        for table in SEQUENCES:
            _run(connection, f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with engine.begin() as connection:
        _run(connection, "ANALYZE")
    timings["posts_generated"] = float(sizes.posts if has_posts else 0)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=float, default=0.42)
    args = parser.parse_args()
    engine = sa.create_engine(args.database_url)
    started = time.perf_counter()
    timings = generate(engine, scale=args.scale, seed=args.seed)
    for label, seconds in timings.items():
        print(f"{label:>16}: {seconds:7.2f}")
    print(f"{'total':>16}: {time.perf_counter() - started:7.2f} s")


if __name__ == "__main__":
    main()
