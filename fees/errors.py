"""Errors of fee items, meter readings, bills, fee orders and receipts."""

from __future__ import annotations

from app.errors import Conflict, NotFound, ValidationFailed


class FeeItemNotFound(NotFound):
    code, message = "fee_item_not_found", "收费项目不存在"


class BillNotFound(NotFound):
    code, message = "bill_not_found", "账单不存在"


class FeeOrderNotFound(NotFound):
    code, message = "fee_order_not_found", "缴费单不存在"


class ReceiptNotFound(NotFound):
    code, message = "fee_receipt_not_found", "收据不存在"


class BillingRunNotFound(NotFound):
    code, message = "billing_run_not_found", "出账记录不存在"


class FeeItemExists(Conflict):
    code, message = "fee_item_exists", "该小区已有同名收费项目"


class ReadingExists(Conflict):
    code, message = "reading_exists", "该户本期已录入读数"


class ReadingInvalid(ValidationFailed):
    code, message = "reading_invalid", "读数有误"


class ImportFailed(ValidationFailed):
    code, message = "import_failed", "导入失败，文件中有错误，未导入任何数据"


class BillNotUnpaid(Conflict):
    code, message = "bill_not_unpaid", "该账单已缴清、已减免或已作废"


class BillLocked(Conflict):
    code, message = "bill_locked", "该账单正在另一笔缴费中，请稍后再试"


class BillsOfOneHousehold(ValidationFailed):
    code, message = "bills_of_other_household", "只能合并缴纳同一户的账单"


class MixedPayees(ValidationFailed):
    code, message = "mixed_payees", "不同收款单位的账单不能合并缴纳，请分别缴纳"


class NothingToPay(ValidationFailed):
    code, message = "nothing_to_pay", "所选账单没有需要缴纳的金额"


class OrderNotCancellable(Conflict):
    code, message = "fee_order_not_cancellable", "缴费单正在支付或已完成，不能取消"


class DiscountTooLarge(ValidationFailed):
    code, message = "discount_too_large", "减免金额超过了应缴金额"


class ItemNotMetered(ValidationFailed):
    code, message = "item_not_metered", "该收费项目不按表计费，无需录入读数"


class NoFloorArea(ValidationFailed):
    code, message = "no_floor_area", "该户没有登记建筑面积，无法按面积计费"
