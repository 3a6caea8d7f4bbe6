"""Survey endpoints under /api/v1/notices/surveys: staff draft, publish, list, read results and export them;
residents (or their delegates) open a survey announced to them and answer it once."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from app.api import CursorArgsSchema
from app.auth import current_user
from app.auth.scopes import scoped
from app.idempotency import idempotent
from notices import blp, surveys
from notices.survey_schemas import (
    SurveyAnsweredSchema,
    SurveyAnswerSchema,
    SurveyCreateSchema,
    SurveyPageSchema,
    SurveyResultsSchema,
    SurveySchema,
)


@blp.route("/surveys")
class Surveys(MethodView):
    @idempotent
    @blp.arguments(SurveyCreateSchema)
    @blp.response(201, SurveySchema)
    @scoped("notices.manage")
    def post(self, data):
        """Draft a survey (调查) for an audience, with open and close times

        Questions: single choice, multiple choice, rating 1–5, short text; each required or not. In an anonymous
        survey who answered and what they answered are kept apart and cannot be joined back.
        """
        survey = surveys.create_survey(current_user(), data)
        return surveys.survey_view(survey, staff=True)

    @blp.arguments(CursorArgsSchema, location="query")
    @blp.response(200, SurveyPageSchema)
    @scoped("notices.read")
    def get(self, args):
        """Surveys posted in my communities, streets or districts (newest first)"""
        return surveys.list_surveys(current_user(), cursor=args["cursor"], limit=args["limit"])


@blp.route("/surveys/<string:survey_id>")
class SurveyById(MethodView):
    @blp.response(200, SurveySchema)
    @scoped(also="a resident (or their delegate) the published survey was announced to")
    def get(self, survey_id: str):
        """Open a survey (staff over its region; residents once it was announced to them)"""
        return surveys.open_survey(current_user(), survey_id)


@blp.route("/surveys/<string:survey_id>/publish")
class SurveyPublish(MethodView):
    @blp.response(200, SurveySchema)
    @scoped("notices.manage")
    def post(self, survey_id: str):
        """Publish a draft survey: announced to its audience now, or when it opens"""
        survey = surveys.publish_survey(current_user(), survey_id)
        return surveys.survey_view(survey, staff=True)


@blp.route("/surveys/<string:survey_id>/responses")
class SurveyResponses(MethodView):
    @blp.arguments(SurveyAnswerSchema)
    @blp.response(201, SurveyAnsweredSchema)
    @scoped(also="a resident the survey was announced to, or a delegate with the activities scope (subject_id)")
    def post(self, data, survey_id: str):
        """Answer a survey (once per resident; a delegate answers for an elder with `subject_id`)"""
        return surveys.answer_survey(current_user(), survey_id, data["answers"], subject_id=data["subject_id"])


@blp.route("/surveys/<string:survey_id>/results")
class SurveyResults(MethodView):
    @blp.response(200, SurveyResultsSchema)
    @scoped("notices.read")
    def get(self, survey_id: str):
        """Results per question (counts and percentages) and the response rate against the audience"""
        return surveys.survey_results(current_user(), survey_id)


@blp.route("/surveys/<string:survey_id>/results/export")
class SurveyResultsExport(MethodView):
    @blp.doc(
        responses={
            "200": {"description": "答卷 CSV（每行一份答卷）", "content": {"text/csv": {"schema": {"type": "string"}}}}
        }
    )
    @scoped("notices.read")
    def get(self, survey_id: str):
        """Export every answer sheet as CSV (anonymous surveys carry no name; logged)"""
        filename, text = surveys.export_results(current_user(), survey_id)
        return Response(
            text.encode("utf-8"),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
        )
