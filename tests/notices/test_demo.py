"""The demo seeds notices in 幸福社区; the daughter sees the 高龄 health check through her mother's delegation."""

from __future__ import annotations

import sqlalchemy as sa

from app.demo import seed_demo
from app.extensions import db as database
from notices.models import Notice, NoticeStatus
from notices.survey_models import Survey, SurveyStatus
from tests.conftest import extra_app


def test_demo_notices_are_seeded_and_reach_the_daughter(database_url, redis_url, committed_db, run_jobs):
    with extra_app(database_url, redis_url, DEMO_MODE=True) as application:
        assert "notices" in seed_demo()
        statuses = dict(database.session.execute(sa.select(Notice.title, Notice.status)).all())
        assert statuses == {
            "停水通知": NoticeStatus.published,
            "高龄老人免费体检": NoticeStatus.published,
            "党支部主题党日": NoticeStatus.published,
            "重阳节敬老茶话会": NoticeStatus.published,
            "居民议事会": NoticeStatus.scheduled,
        }
        channels = set(database.session.scalars(sa.select(Notice.channel)))
        assert {channel.value for channel in channels} == {"announcement", "organization", "information", "activity"}
        survey = database.session.scalar(sa.select(Survey))
        assert (survey.title, survey.anonymous, survey.status) == ("加装电梯意愿调查", True, SurveyStatus.published)
        run_jobs()
        client = application.test_client()
        token = client.post("/api/v1/auth/dev-login", json={"phone": "+8619900000003"}).json["access_token"]
        inbox = client.get("/api/v1/me/inbox", headers={"Authorization": f"Bearer {token}"}).json["items"]
        health = [item for item in inbox if item["title"] == "高龄老人免费体检"]
        assert len(health) == 1
        assert health[0]["for_resident"] is not None
        opened = client.get(
            f"/api/v1/notices/{health[0]['source']['id']}", headers={"Authorization": f"Bearer {token}"}
        )
        assert opened.status_code == 200
