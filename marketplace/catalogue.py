"""Products: what vendors list (stock changes only by conditional UPDATE), and what residents browse."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager

from app import files
from app.accounts.residents import resident_for_user
from app.api import decode_cursor, encode_cursor
from app.db import atomic
from app.errors import ValidationFailed
from app.extensions import db
from marketplace.errors import ProductNotFound, StockWouldGoNegative
from marketplace.models import GRAMS_PER_UNIT, Product, ProductUnit, StorageZone, Vendor, VendorCommunity, VendorStatus
from marketplace.vendors import vendor_for

log = logging.getLogger(__name__)

EDITABLE = (
    "name",
    "category",
    "description",
    "price_fen",
    "original_price_fen",
    "low_stock_threshold",
    "on_shelf",
    "shelf_life_days",
)


def line_amount_fen(price_fen: int, quantity: int, *, unit: ProductUnit, weighed: bool, estimated_weight_g: int | None):
    """What a line costs: price × quantity, or for weighed goods price per unit weight × estimated weight × quantity
    (rounded half up to the fen)."""
    if not weighed:
        return price_fen * quantity
    grams = GRAMS_PER_UNIT[unit]
    return (price_fen * estimated_weight_g * quantity * 2 + grams) // (2 * grams)


def _check_product(data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    weighed = data.get("weighed", False)
    unit = ProductUnit(data["unit"]) if "unit" in data else None
    if weighed and (unit not in GRAMS_PER_UNIT):
        errors["unit"] = ["称重商品的单位须为斤或公斤"]
    if weighed and not data.get("estimated_weight_g"):
        errors["estimated_weight_g"] = ["称重商品须填写预估重量（克）"]
    if not weighed and data.get("estimated_weight_g") is not None:
        errors["estimated_weight_g"] = ["仅称重商品可填写预估重量"]
    original = data.get("original_price_fen")
    if original is not None and "price_fen" in data and original < data["price_fen"]:
        errors["original_price_fen"] = ["原价不能低于售价"]
    if errors:
        raise ValidationFailed(details={"fields": errors})


IMAGE_OWNER_KIND = "market_product"
# Product images are public files: anyone may read them, and the listing shows them by plain URL.
files.register_owner_kind(IMAGE_OWNER_KIND, lambda _user, _owner_id: True)


def _set_images(user, product: Product, image_ids: list[str]) -> None:
    """Attach the uploads (public images the caller uploaded) to the product and show them in this order."""
    image_ids = list(dict.fromkeys(image_ids))
    for image_id in image_ids:
        stored = files.attach(image_id, IMAGE_OWNER_KIND, product.id, by_user=user)
        if not stored.is_public:
            raise ValidationFailed(
                details={"fields": {"image_ids": {image_id: ["商品图片须以 visibility=public 上传"]}}}
            )
    product.image_ids = image_ids


def create_product(user, vendor_public_id: str, data: dict[str, Any]) -> Product:
    with atomic():
        vendor = vendor_for(user, vendor_public_id, "marketplace.product.manage")
        _check_product(data)
        product = Product(
            vendor_id=vendor.id,
            name=data["name"],
            category=data["category"],
            description=data.get("description"),
            unit=ProductUnit(data["unit"]),
            price_fen=data["price_fen"],
            original_price_fen=data.get("original_price_fen"),
            stock=data.get("stock", 0),
            low_stock_threshold=data.get("low_stock_threshold", 5),
            on_shelf=data.get("on_shelf", False),
            storage_zone=StorageZone(data.get("storage_zone", "ambient")),
            shelf_life_days=data.get("shelf_life_days"),
            weighed=data.get("weighed", False),
            estimated_weight_g=data.get("estimated_weight_g"),
        )
        product.vendor = vendor
        db.session.add(product)
        db.session.flush()
        if data.get("image_ids"):
            _set_images(user, product, data["image_ids"])
        log.info("product %s listed by user %s for vendor %s", product.id, user.id, vendor.id)
        return product


def product_for(user, public_id: str, action: str, *, lock: bool = False) -> Product:
    from app.auth.scopes import authorize

    query = sa.select(Product).where(Product.public_id == public_id).options(sa.orm.joinedload(Product.vendor))
    if lock:
        query = query.with_for_update(of=Product).execution_options(populate_existing=True)
    product = db.session.scalar(query)
    if product is None:
        raise ProductNotFound()
    authorize(user, action, product, not_found=ProductNotFound)
    return product


def update_product(user, public_id: str, data: dict[str, Any]) -> Product:
    """Edit a listing; ``stock_delta`` restocks or writes off with one conditional UPDATE (never a stock read back
    and written: a sale between the two would be lost)."""
    with atomic():
        product = product_for(user, public_id, "marketplace.product.manage", lock=True)
        merged = {
            "unit": product.unit.value,
            "weighed": product.weighed,
            "estimated_weight_g": product.estimated_weight_g,
            "price_fen": product.price_fen,
            "original_price_fen": product.original_price_fen,
            **{k: v for k, v in data.items() if k not in ("stock_delta", "image_ids")},
        }
        _check_product(merged)
        for field in EDITABLE:
            if field in data:
                setattr(product, field, data[field])
        if "storage_zone" in data:
            product.storage_zone = StorageZone(data["storage_zone"])
        for field in ("weighed", "estimated_weight_g"):
            if field in data:
                setattr(product, field, data[field])
        if "unit" in data:
            product.unit = ProductUnit(data["unit"])
        if "image_ids" in data:
            _set_images(user, product, data["image_ids"])
        db.session.flush()
        delta = data.get("stock_delta")
        if delta:
            changed = db.session.execute(
                sa.update(Product)
                .where(Product.id == product.id, Product.stock + delta >= 0)
                .values(stock=Product.stock + delta)
                .returning(Product.stock)
            ).scalar()
            if changed is None:
                raise StockWouldGoNegative(details={"stock_delta": delta})
            db.session.refresh(product)
        log.info("product %s updated by user %s", product.id, user.id)
        return product


def vendor_products(user, vendor_public_id: str, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Every listing of a vendor, on shelf or not, for its staff."""
    from app.api import keyset_page

    vendor = vendor_for(user, vendor_public_id, "marketplace.product.manage")
    query = sa.select(Product).where(Product.vendor_id == vendor.id).options(sa.orm.joinedload(Product.vendor))
    return keyset_page(db.session, query, [Product.id], cursor=cursor, limit=limit)


# --- resident browsing --------------------------------------------------------------------------------------------

#: sort → (columns, ascending)
SORTS = {
    "newest": ((Product.id,), False),
    "price_asc": ((Product.price_fen, Product.id), True),
    "price_desc": ((Product.price_fen, Product.id), False),
}


def _visible(community_ids: set[int]):
    """Products on shelf from approved vendors serving any of ``community_ids``, each with its vendor (one join)."""
    served = sa.select(VendorCommunity.vendor_id).where(VendorCommunity.community_id.in_(community_ids))
    return (
        sa.select(Product)
        .join(Vendor, Vendor.id == Product.vendor_id)
        .where(Product.on_shelf, Vendor.status == VendorStatus.approved, Vendor.id.in_(served))
        .options(contains_eager(Product.vendor))
    )


def browsing_communities(user) -> set[int]:
    resident = resident_for_user(user)
    return resident.scope_community_ids() if resident is not None else set()


def browse_products(user, **args: Any) -> dict[str, Any]:
    """A page of what vendors serving the resident's communities offer (see ``products_page``)."""
    return products_page(browsing_communities(user), **args)


def products_page(
    community_ids: set[int] | frozenset[int],
    *,
    category: str | None = None,
    q: str | None = None,
    vendor_id: str | None = None,
    sort: str = "newest",
    cursor: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """A page of what vendors serving ``community_ids`` offer. The page is one SELECT joined to its vendors, so the
    number of statements does not grow with the page size; no COUNT(*)."""
    query = _visible(community_ids)
    if category:
        query = query.where(Product.category == category)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(sa.or_(Product.name.ilike(pattern), Product.description.ilike(pattern)))
    if vendor_id:
        query = query.where(Vendor.public_id == vendor_id)
    columns, ascending = SORTS[sort]
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != len(columns) or not all(isinstance(v, int) for v in values):
            raise ValidationFailed("分页游标无效", details={"fields": {"query": {"cursor": ["无效的游标"]}}})
        key, after = sa.tuple_(*columns), sa.tuple_(*[sa.literal(v) for v in values])
        query = query.where(key > after if ascending else key < after)
    order = [c.asc() if ascending else c.desc() for c in columns]
    rows = db.session.scalars(query.order_by(*order).limit(limit + 1)).unique().all()
    items, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor([getattr(items[-1], c.key) for c in columns]) if more else None
    return {"items": items, "next_cursor": next_cursor}


def browse_product(user, public_id: str) -> Product:
    return visible_product(browsing_communities(user), public_id)


def visible_product(community_ids: set[int] | frozenset[int], public_id: str) -> Product:
    product = db.session.scalar(_visible(community_ids).where(Product.public_id == public_id))
    if product is None:
        raise ProductNotFound()
    return product


# What the browse views answer, dumped (``catalogue_cache`` keeps it as JSON per set of communities).


def browse_page(community_ids: frozenset[int], **args: Any) -> dict[str, Any]:
    """``GET /products``: a page with ratings, dumped; two rating queries for the whole page."""
    from marketplace.reviews import with_ratings
    from marketplace.schemas import ProductPageSchema

    page = products_page(community_ids, **args)
    with_ratings(page["items"])
    return ProductPageSchema().dump(page)


def product_page(community_ids: frozenset[int], public_id: str) -> dict[str, Any]:
    """``GET /products/<id>``: one product with its ratings, dumped."""
    from marketplace.reviews import with_ratings
    from marketplace.schemas import ProductSchema

    return ProductSchema().dump(with_ratings([visible_product(community_ids, public_id)])[0])
