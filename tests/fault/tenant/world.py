"""The cast of the cross-tenant matrix and the registry its domain modules fill.

A factory gets the ``World`` and the HTTP method and returns a ``Case``: the path parameters of a fresh resource
that ``case.owner`` may act on (made through the API or the services, as a real user would), an optional body that
is valid for the owner, and who else may or may not reach it. The matrix then calls the operation as:

- anonymous → 401 (unless the operation is public);
- ``neighbour`` (a resident of the same community, another household), ``other_vendor`` (a vendor serving the same
  community) and ``staff_b`` (staff of the neighbouring community) → 404 with an error body and nothing else;
- every caller named in ``case.forbidden`` (e.g. ``"delegate"``: a family member bound to the owner without the
  scope the operation needs; ``"grid_a"``: a grid worker of the owner's community when the action is staff-only;
  ``"clerk"``: a vendor clerk when the action is the owner's) → 403;
- finally ``case.owner`` → ``case.owner_status`` (any 2xx by default; never 401, 403 or 404).

Callers named in ``case.visible_to`` legitimately reach the resource (say why in the factory): they are not called
as outsiders, and a GET as each of them must answer 2xx. Nothing an outsider sends may change the resource: the
owner's call comes last and must still work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.accounts.models import User

#: Callers who must get 404 unless the case names them in ``visible_to``.
OUTSIDERS = ("neighbour", "other_vendor", "staff_b")


@dataclass
class Case:
    params: dict[str, str]
    owner: str | User = "owner"
    body: dict | None = None
    query: dict | None = None
    #: Status the owner's call must get: an int, a set of ints, or None for any 2xx.
    owner_status: int | set[int] | None = None
    forbidden: tuple[str, ...] = ()
    visible_to: tuple[str, ...] = ()
    #: More callers who must get 404 (e.g. ``"resident_b"`` from ``Case.extra``: a resident of community B).
    outsiders: tuple[str, ...] = ()
    #: A body for one caller instead of ``body`` (e.g. a delegate naming the resident they act for).
    bodies: dict[str, dict] = field(default_factory=dict)
    #: Extra callers (name → user) a factory adds for this case, usable in ``forbidden`` or ``visible_to``.
    extra: dict[str, User] = field(default_factory=dict)


Factory = Callable[["World", str], Case]

#: path template → {method → factory}
FACTORIES: dict[str, dict[str, Factory]] = {}

#: (method, path template) → why the matrix does not call it (public by nature, a device or gateway credential …).
EXEMPT: dict[tuple[str, str], str] = {}

METHODS = ("get", "post", "put", "patch", "delete")


def resource(path: str, methods: tuple[str, ...] | str = METHODS) -> Callable[[Factory], Factory]:
    """Register ``factory`` for the operations ``methods`` of ``path`` (a path template as in /openapi.json)."""
    methods = (methods,) if isinstance(methods, str) else methods

    def decorator(factory: Factory) -> Factory:
        for method in methods:
            registered = FACTORIES.setdefault(path, {})
            assert method not in registered, f"two factories for {method.upper()} {path}"
            registered[method] = factory
        return factory

    return decorator


#: (method, path template) → why a public operation under a personal path segment is public by design.
PUBLIC_BY_DESIGN: dict[tuple[str, str], str] = {}


def exempt(method: str, path: str, reason: str) -> None:
    """Leave an operation out of the matrix (say why: a device's or a gateway's credential, a calendar day…)."""
    assert (method, path) not in EXEMPT, f"{method.upper()} {path} is exempted twice"
    EXEMPT[(method, path)] = reason


def public_by_design(method: str, path: str, reason: str) -> None:
    """Allow a public operation whose path names personal data (e.g. Open311's public request list), with why."""
    PUBLIC_BY_DESIGN[(method, path)] = reason


class World:
    """Two communities of one street (A: 幸福社区, B: 和平社区), and everyone who might reach A's data.

    ``owner`` lives in A room 101 (verified, with an account); ``neighbour`` in A room 102; ``delegate`` is the
    owner's child bound with only the ``notices`` scope (``delegate_without(scope)`` gives one bound with every
    scope but that one); ``vendor`` (its owner user ``vendor_owner``) and ``other_vendor`` both serve A;
    ``staff_a``, ``grid_a`` and ``staff_b`` hold community roles; ``admin`` is a platform admin. Domain modules add
    what they need with ``world.once(key, build)``.
    """

    def __init__(self, *, tree, make_user, make_resident, join, make_staff, client, auth_header, run_jobs) -> None:
        from tests.marketplace.fixtures import add_vendor

        self.tree = tree
        self.make_user = make_user
        self.make_resident = make_resident
        self.join = join
        self.make_staff = make_staff
        self.client = client
        self._auth_header = auth_header
        #: Run the due outbox jobs now (fan-out of a published notice, a booking's confirmation …).
        self.run_jobs = run_jobs
        self._headers: dict[int, dict[str, str]] = {}
        self._cache: dict[str, Any] = {}

        self.admin = make_user("平台管理员", platform_roles=("admin",))
        self.staff_a = make_staff(tree.a, "staff", name="幸福社区工作人员")
        self.grid_a = make_staff(tree.a, "grid_worker", name="幸福社区网格员")
        self.staff_b = make_staff(tree.b, "staff", name="和平社区工作人员")
        self.owner, self.owner_resident = make_resident(
            "业主张三", born=date(1950, 5, 1), sequence="911", community=tree.a, verified=True
        )
        join(self.owner_resident, tree.rooms_a["101"], "head")
        self.neighbour, self.neighbour_resident = make_resident(
            "邻居李四", born=date(1952, 6, 2), sequence="921", community=tree.a, verified=True
        )
        join(self.neighbour_resident, tree.rooms_a["102"], "head")
        self.vendor_owner = make_user("绿园老板")
        self.vendor = add_vendor(self.vendor_owner, [tree.a], name="绿园生鲜")
        self.other_vendor_owner = make_user("对门老板")
        self.other_vendor = add_vendor(self.other_vendor_owner, [tree.a], name="对门超市")
        self.delegate = self.delegate_without("notices", keep_only=("notices",))

    # -- building blocks -------------------------------------------------------------------------------------------

    def once(self, key: str, build: Callable[[], Any]) -> Any:
        """Build something shared by several factories (a service centre, a provider…) once per world."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def delegate_without(self, scope: str, *, keep_only: tuple[str, ...] | None = None) -> User:
        """A family member of the owner, bound (active, approved) with every delegation scope except ``scope``."""
        from app.accounts.resident_models import DELEGATION_SCOPES
        from tests.community.fixtures import make_delegation

        def build() -> User:
            scopes = keep_only or tuple(s for s in DELEGATION_SCOPES if s != scope)
            user, resident = self.make_resident(
                f"子女(无{scope})", born=date(1980, 1, 1), sequence=f"9{len(self._cache) % 10}3", community=self.tree.a
            )
            make_delegation(resident, self.owner_resident, scopes)
            return user

        return self.once(f"delegate_without:{scope}", build)

    def user(self, name: str | User, case: Case | None = None) -> User | None:
        if not isinstance(name, str):
            return name
        if name == "anonymous":
            return None
        if case is not None and name in case.extra:
            return case.extra[name]
        if name == "other_vendor":
            return self.other_vendor_owner
        if name == "vendor":
            return self.vendor_owner
        return getattr(self, name)

    def headers(self, user: User | None) -> dict[str, str]:
        if user is None:
            return {}
        if user.id not in self._headers:
            self._headers[user.id] = self._auth_header(user)
        return dict(self._headers[user.id])

    def call(self, who: str | User | None, method: str, path: str, **kwargs):
        """``world.call("owner", "post", "/api/v1/…", json=…)`` → the test client's response."""
        user = who if who is None or not isinstance(who, str) else self.user(who)
        headers = {**self.headers(user), **kwargs.pop("headers", {})}
        return getattr(self.client, method)(path, headers=headers, **kwargs)

    def ok(self, who, method: str, path: str, status: int | tuple[int, ...] = (200, 201), **kwargs) -> dict:
        """Like ``call`` but asserts the status (setup steps of factories) and returns the JSON body."""
        response = self.call(who, method, path, **kwargs)
        expected = (status,) if isinstance(status, int) else status
        assert response.status_code in expected, (method, path, response.status_code, response.get_json())
        return response.get_json()
