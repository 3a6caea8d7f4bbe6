"""What fees shows of a payee (its public id and name), read in one place.

Payments exports ``payee_id_of`` (public id → integer id) but nothing for the way back; until it does, this module is
the only place fees reads ``payments_payees``, read-only.
"""

from __future__ import annotations

from app.extensions import db
from payments.models import Payee


def payee_brief(payee_id: int) -> dict[str, str]:
    payee = db.session.get(Payee, payee_id)
    return {"id": payee.public_id, "name": payee.name}
