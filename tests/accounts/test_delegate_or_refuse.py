"""``delegate_or_refuse``: the one answer of every domain to a caller reaching a resident's (or household's) thing."""

from datetime import date

import pytest

from app.accounts.delegation import delegate_or_refuse
from app.accounts.errors import DelegationDenied
from app.accounts.resident_models import Delegation, DelegationStatus, Relationship
from app.db import atomic
from app.errors import NotFound
from app.extensions import db as database


class ThingNotFound(NotFound):
    code, message = "thing_not_found", "不存在"


@pytest.fixture
def family(tree, make_resident, join):
    """A-101: the head (no account) and his wife (no account); their daughter (account) in B-101; a neighbour."""
    _none, head = make_resident("王建国", born=date(1944, 5, 20), sequence="992", account=False, community=tree.a)
    _none, wife = make_resident("李秀兰", born=date(1946, 2, 1), sequence="982", account=False, community=tree.a)
    daughter_user, daughter = make_resident("王丽", born=date(1972, 3, 8), sequence="994")
    neighbour_user, _neighbour = make_resident("邻居刘", born=date(1960, 1, 1), sequence="995")
    join(head, tree.rooms_a["101"], "head")
    join(wife, tree.rooms_a["101"], "family")
    join(daughter, tree.rooms_b["101"], "head")
    return head, wife, daughter_user, daughter, neighbour_user


def _delegate(actor, subject, scopes, status=DelegationStatus.active):
    with atomic():
        database.session.add(
            Delegation(
                actor_resident_id=actor.id,
                subject_resident_id=subject.id,
                relationship=Relationship.child,
                scopes=list(scopes),
                status=status,
            )
        )


def test_a_delegate_with_the_scope_is_let_in_without_it_403_and_anyone_else_404(tree, family, make_staff):
    head, _wife, daughter_user, daughter, neighbour_user = family
    _delegate(daughter, head, ["eldercare"])
    with atomic():
        assert delegate_or_refuse(daughter_user, "eldercare", resident_id=head.id).id == head.id
        with pytest.raises(DelegationDenied) as denied:
            delegate_or_refuse(daughter_user, "appointments", resident_id=head.id, not_found=ThingNotFound)
        assert denied.value.details == {"reason": "scope_missing", "scope": "appointments"}
        # Not bound at all, staff of another community, staff without a reason: the domain's 404, never 403 or 422.
        for outsider in (neighbour_user, make_staff(tree.b), make_staff(tree.a), make_staff(tree.a, "grid_worker")):
            assert delegate_or_refuse(outsider, "eldercare", resident_id=head.id) is None
            with pytest.raises(ThingNotFound):
                delegate_or_refuse(outsider, "eldercare", resident_id=head.id, not_found=ThingNotFound)


def test_for_a_household_the_member_whose_delegation_allows_the_scope_answers_first(family, tree):
    head, wife, daughter_user, daughter, neighbour_user = family
    household_id = tree.rooms_a["101"].id
    _delegate(daughter, wife, ["eldercare"])
    with pytest.raises(DelegationDenied), atomic():
        delegate_or_refuse(daughter_user, "bills", household_id=household_id)
    # The wife's membership sorts first (family < head); the head's delegation allowing bills must still win.
    _delegate(daughter, head, ["bills"])
    with atomic():
        assert delegate_or_refuse(daughter_user, "bills", household_id=household_id).id == head.id
    with atomic():
        assert delegate_or_refuse(neighbour_user, "bills", household_id=household_id) is None
