"""Moderation before anything shows: the sensitive-word filter (words as data), WeChat's text check (msgSecCheck
2.0) and asynchronous image check (mediaCheckAsync, result by message push), and staff review of images.

Text: the word filter runs first (a ``reject`` word refuses with ``content_rejected``, ``mask`` words become ``*``);
then, for authors signed in through the mini-program (they have an openid) and when the mini-program is configured,
msgSecCheck with the author's openid: anything but ``pass`` refuses with ``content_risky``, and WeChat unreachable
refuses with 503 ``content_check_unavailable`` (fail closed). Phone-app authors get the word filter only.

Images: every image starts ``pending`` and is shown to its author only. Authors with an openid (and with
``PUBLIC_BASE_URL`` set, so WeChat can fetch the image) go to WeChat's asynchronous check in a job after commit; the
result arrives at ``/api/v1/neighbours/wechat/media-check``, verified by the message-push signature. Everyone
else's images (and those WeChat could not judge) wait for staff in the image worklist.
"""

from __future__ import annotations

import logging
import re
from collections import namedtuple
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app import files, outbox, wechat
from app.community.scope import region_ancestors
from app.db import atomic, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from neighbours.errors import ContentCheckUnavailable, ContentRejected, ContentRisky
from neighbours.models import ImageReview, ImageStatus, Post, PostImage, SensitiveWord, WordAction

log = logging.getLogger(__name__)

IMAGE_OWNER_KIND = "neighbours_post"
MAX_IMAGES = 9
#: How long the image URL handed to WeChat stays valid (its check usually answers within seconds to minutes).
MEDIA_URL_TTL = int(timedelta(days=1).total_seconds())

#: ``files.signed_url`` needs only the file's public id; image rows keep it, so pages sign URLs without loading files.
FileRef = namedtuple("FileRef", "public_id")


# --- sensitive words -----------------------------------------------------------------------------------------------


def words_for(community_id: int) -> list[tuple[str, WordAction]]:
    """Words that apply in a community: platform-wide ones and those of the community, its street and district."""
    regions = sorted(region_ancestors([community_id]))
    rows = db.session.execute(
        sa.select(SensitiveWord.word, SensitiveWord.action).where(
            sa.or_(SensitiveWord.region_id.is_(None), SensitiveWord.region_id.in_(regions))
        )
    ).all()
    return [(row.word, row.action) for row in rows]


def filter_words(text: str, words: list[tuple[str, WordAction]]) -> str:
    """Apply the word list: raise on a ``reject`` word, mask ``mask`` words (case-insensitive, longest first).

    :raises ContentRejected: the text holds a ``reject`` word (named in ``details.words``).
    """
    lowered = text.lower()
    rejected = sorted({word for word, action in words if action is WordAction.reject and word in lowered})
    if rejected:
        raise ContentRejected(details={"words": rejected})
    masks = sorted({word for word, action in words if action is WordAction.mask and word in lowered}, key=len)
    for word in reversed(masks):
        text = re.sub(re.escape(word), "*" * len(word), text, flags=re.IGNORECASE)
    return text


# --- WeChat ----------------------------------------------------------------------------------------------------


def wechat_enabled() -> bool:
    config = current_app.config
    return bool(config.get("WECHAT_MINI_APPID") and config.get("WECHAT_MINI_SECRET"))


def screen_text(user, community_id: int, text: str, *, scene: int) -> str:
    """The text as it may be published, or an error (see the module docstring).

    :raises ContentRejected: :raises ContentRisky: :raises ContentCheckUnavailable:
    """
    text = text.strip()
    if not text:
        raise ValidationFailed(details={"fields": {"json": {"text": ["内容不能为空"]}}})
    text = filter_words(text, words_for(community_id))
    if user.wechat_openid and wechat_enabled():
        try:
            result = wechat.msg_sec_check(user.wechat_openid, text, scene=scene)
        except wechat.WeChatClientException as error:
            log.warning("msgSecCheck failed for user %s: %s", user.id, error)
            raise ContentCheckUnavailable() from None
        if result.get("suggest") != "pass":
            log.info("msgSecCheck refused text of user %s: %s", user.id, result)
            raise ContentRisky(details={"suggest": result.get("suggest"), "label": result.get("label")})
    return text


def _image_review_for(user) -> ImageReview:
    config = current_app.config
    if user.wechat_openid and wechat_enabled() and config.get("PUBLIC_BASE_URL"):
        return ImageReview.wechat
    return ImageReview.staff


def add_images(user, post: Post, file_ids: list[str]) -> None:
    """Attach the caller's uploads to the post, pending their check (joins the caller's unit of work).

    :raises ValidationFailed: a file is public (it would show before its check) or not an image.
    """
    review = _image_review_for(user)
    errors: dict[str, list[str]] = {}
    for position, file_id in enumerate(file_ids):
        stored = files.attach(file_id, IMAGE_OWNER_KIND, post.id, by_user=user)
        if stored.is_public:
            errors[file_id] = ["动态图片须以 visibility=private 上传，审核通过后才会展示"]
        elif not stored.content_type.startswith("image/"):
            errors[file_id] = ["只能上传图片"]
        db.session.add(
            PostImage(
                post_id=post.id,
                community_id=post.community_id,
                position=position,
                file_id=stored.id,
                file_public_id=stored.public_id,
                review=review,
            )
        )
    if errors:
        raise ValidationFailed(details={"fields": {"image_ids": errors}})
    db.session.flush()
    if file_ids and review is ImageReview.wechat:
        outbox.enqueue(submit_image_checks, post.id, key=f"neighbours:image-checks:{post.id}")


@outbox.job(queue="default", timeout=60)
def submit_image_checks(post_id: int) -> None:
    """Send the post's pending images to WeChat's asynchronous check and keep each ``trace_id``.

    Runs after the post committed; a WeChat failure raises, and the outbox retries (images already sent keep
    their trace id only when this run commits, so a retry may send some again; their first callbacks then name
    unknown trace ids and are ignored).
    """
    post = db.session.get(Post, post_id)
    if post is None:
        return
    images = db.session.scalars(
        sa.select(PostImage)
        .where(
            PostImage.post_id == post_id,
            PostImage.review == ImageReview.wechat,
            PostImage.status == ImageStatus.pending,
            PostImage.trace_id.is_(None),
        )
        .order_by(PostImage.position)
        .with_for_update()
    ).all()
    author = post.author
    base_url = current_app.config.get("PUBLIC_BASE_URL")
    if not images:
        return
    if not author.wechat_openid or not base_url or not wechat_enabled():
        for image in images:
            image.review = ImageReview.staff
        log.warning("post %s: images moved to staff review (WeChat check not available)", post_id)
        return
    with current_app.test_request_context(base_url=base_url):
        for image in images:
            url, _expires = files.signed_url(FileRef(image.file_public_id), user=author, expires_in=MEDIA_URL_TTL)
            image.trace_id = wechat.media_check_async(author.wechat_openid, url, scene=wechat.SCENE_FORUM)
            image.submitted_at = utcnow()
            log.info("image %s of post %s sent to WeChat's media check (trace %s)", image.id, post_id, image.trace_id)
    db.session.flush()


def record_media_check(payload: dict[str, Any]) -> str:
    """Apply a ``wxa_media_check`` result (version 2, JSON) to the image it names; repeats change nothing.

    ``pass`` approves, ``risky`` rejects, ``review`` (or WeChat failing to fetch the image) hands it to staff.
    :return: what happened (for the log and tests): ``approved``, ``rejected``, ``staff``, ``unknown``, ``repeat``.
    """
    trace_id = str(payload.get("trace_id") or "")
    result = payload.get("result") if isinstance(payload.get("result"), dict) else {}
    suggest = result.get("suggest")
    with atomic():
        image = (
            db.session.scalar(sa.select(PostImage).where(PostImage.trace_id == trace_id).with_for_update())
            if trace_id
            else None
        )
        if image is None:
            log.warning("media-check result for unknown trace id %r ignored", trace_id)
            return "unknown"
        if image.status is not ImageStatus.pending or image.review is not ImageReview.wechat:
            return "repeat"
        note = f"wechat:{suggest}:{result.get('label')}"[:200]
        if payload.get("errcode") not in (None, 0) or suggest not in ("pass", "risky"):
            image.review, image.decision_note = ImageReview.staff, note
            outcome = "staff"
        else:
            image.status = ImageStatus.approved if suggest == "pass" else ImageStatus.rejected
            image.decided_at, image.decision_note = utcnow(), note
            outcome = image.status.value
        db.session.flush()
        log.info("media check %s for image %s: %s", trace_id, image.id, outcome)
        return outcome


def image_url(image: PostImage, user) -> str:
    url, _expires = files.signed_url(FileRef(image.file_public_id), user=user)
    return url
