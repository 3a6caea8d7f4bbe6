"""Reviews: a rating (1–5) with a comment and public photos per completed order (one per order, by a unique
constraint), one reply from the vendor (a conditional UPDATE), and the averages shown on products and vendors."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app import files
from app.api import keyset_page
from app.auth.scopes import authorize, register_action
from app.db import atomic, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from marketplace.aftersales_errors import OrderNotCompleted, ReviewAlreadyReplied, ReviewExists, ReviewNotFound
from marketplace.aftersales_models import Review
from marketplace.models import OrderLine, OrderStatus
from marketplace.vendors import get_vendor

log = logging.getLogger(__name__)

PHOTO_OWNER_KIND = "market_review"
# Review photos are public files: every resident browsing the vendor sees them by plain URL.
files.register_owner_kind(PHOTO_OWNER_KIND, lambda _user, _owner_id: True)

register_action("marketplace.review.reply", ("owner", "clerk"))


def review_order(user, order_public_id: str, data: dict[str, Any]) -> Review:
    """The resident (or a ``marketplace`` delegate) rates a completed order, once.

    :raises OrderNotCompleted: the order is not completed.
    :raises ReviewExists: the order was already rated.
    """
    from marketplace.orders import order_for_resident

    with atomic():
        order = order_for_resident(user, order_public_id)
        if order.status is not OrderStatus.completed:
            raise OrderNotCompleted(details={"status": order.status.value})
        review = Review(
            order_id=order.id,
            vendor_id=order.vendor_id,
            resident_id=order.resident_id,
            author_user_id=user.id,
            rating=data["rating"],
            comment=data.get("comment"),
            photo_ids=list(dict.fromkeys(data.get("photo_ids") or [])),
        )
        try:
            with atomic(savepoint=True):
                db.session.add(review)
                db.session.flush()
        except IntegrityError:
            raise ReviewExists() from None
        for photo_id in review.photo_ids:
            stored = files.attach(photo_id, PHOTO_OWNER_KIND, review.id, by_user=user)
            if not stored.is_public:
                raise ValidationFailed(
                    details={"fields": {"photo_ids": {photo_id: ["评价图片须以 visibility=public 上传"]}}}
                )
        review.order = order
        log.info("order %s rated %s by user %s", order.id, review.rating, user.id)
        return review


def reply(user, review_public_id: str, text: str) -> Review:
    """The vendor answers a review, once.

    :raises ReviewAlreadyReplied: it already has a reply.
    """
    with atomic():
        review = db.session.scalar(
            sa.select(Review).where(Review.public_id == review_public_id).options(selectinload(Review.order))
        )
        if review is None:
            raise ReviewNotFound()
        authorize(user, "marketplace.review.reply", review, not_found=ReviewNotFound)
        # The guard: one statement sets the reply only where there is none, so two replies at once keep the first.
        done = db.session.execute(
            sa.update(Review)
            .where(Review.id == review.id, Review.reply.is_(None))
            .values(reply=text, replied_by_user_id=user.id, replied_at=utcnow())
            .returning(Review.id)
            .execution_options(synchronize_session=False)
        ).scalar()
        if done is None:
            raise ReviewAlreadyReplied()
        db.session.refresh(review, ["reply", "replied_by_user_id", "replied_at"])
        return review


def vendor_reviews(vendor_public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """A vendor's reviews, newest first (anyone signed in may read them)."""
    vendor = get_vendor(vendor_public_id)
    query = sa.select(Review).where(Review.vendor_id == vendor.id).options(selectinload(Review.order))
    return keyset_page(db.session, query, [Review.id], cursor=cursor, limit=limit)


# --- averages ---------------------------------------------------------------------------------------------------


def _summary(average, count) -> dict[str, Any]:
    return {"average": round(float(average), 2) if count else None, "count": int(count or 0)}


def vendor_ratings(vendor_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Average rating and count per vendor (one query for any number of vendors)."""
    ids = set(vendor_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Review.vendor_id, sa.func.avg(Review.rating), sa.func.count())
        .where(Review.vendor_id.in_(ids))
        .group_by(Review.vendor_id)
    ).all()
    found = {vendor_id: _summary(average, count) for vendor_id, average, count in rows}
    return {vendor_id: found.get(vendor_id, _summary(None, 0)) for vendor_id in ids}


def product_ratings(product_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Average rating and count per product: the ratings of the orders that contained it (one query)."""
    ids = set(product_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(OrderLine.product_id, sa.func.avg(Review.rating), sa.func.count())
        .join(Review, Review.order_id == OrderLine.order_id)
        .where(OrderLine.product_id.in_(ids))
        .group_by(OrderLine.product_id)
    ).all()
    found = {product_id: _summary(average, count) for product_id, average, count in rows}
    return {product_id: found.get(product_id, _summary(None, 0)) for product_id in ids}


def with_ratings(products: list) -> list:
    """Set ``rating`` (and the vendor's) on products about to be shown: two queries for a whole page."""
    products = [p for p in products if p is not None]
    by_product = product_ratings(p.id for p in products)
    by_vendor = vendor_ratings(p.vendor_id for p in products)
    for product in products:
        product.rating = by_product[product.id]
        product.vendor_rating = by_vendor[product.vendor_id]
    return products
