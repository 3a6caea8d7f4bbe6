"""The demo data includes a platform admin a newcomer can sign in as."""

import sqlalchemy as sa

from app.accounts.models import User
from app.auth import issue_access_token
from app.db import atomic
from app.demo import seed_demo
from app.extensions import db as database


def test_the_demo_admin_can_list_jobs(db, client):
    assert "platform_admin" in seed_demo()
    admin = database.session.scalar(sa.select(User).where(User.phone == "+8619900000000"))
    with atomic():
        token = issue_access_token(admin)
    response = client.get("/api/v1/admin/jobs?status=dead", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
