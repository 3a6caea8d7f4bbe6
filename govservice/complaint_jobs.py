"""Periodic jobs of complaints: escalate what is overdue to the street, close answers left unconfirmed."""

from __future__ import annotations

from app import outbox
from govservice import complaints


@outbox.periodic("govservice.complaints.escalate", "5 * * * *")
def escalate_overdue_complaints(_slot: str) -> int:
    """Hourly: complaints past their last working day go to the street for supervision (督办), once each."""
    return complaints.escalate_overdue()


@outbox.periodic("govservice.complaints.close_unconfirmed", "20 * * * *")
def close_unconfirmed_complaints(_slot: str) -> int:
    """Hourly: answers the resident neither confirmed nor reopened within the confirmation period are resolved."""
    return complaints.close_unconfirmed()
