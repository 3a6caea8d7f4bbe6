"""Errors of the smart lockers and their devices: stable English codes, Chinese messages."""

from app.auth.errors import TooManyRequests
from app.errors import APIError, Conflict, NotFound


class LockerNotFound(NotFound):
    code, message = "locker_not_found", "智能柜不存在"


class LockerExists(Conflict):
    code, message = "locker_exists", "该院落已有同名智能柜"


class LockerCodeInvalid(APIError):
    status, code, message = 422, "locker_code_invalid", "取件码错误或已失效"


class LockerCodesLocked(TooManyRequests):
    """429 ``rate_limited`` like every limit; ``details.reason`` says which one."""

    message = "错误次数过多，该智能柜暂停验码，请稍后再试"

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(retry_after=retry_after, details={"reason": "locker_wrong_codes"})


class LockerOrderNotHere(NotFound):
    code, message = "locker_order_not_here", "该订单没有在此柜预留的格口"


class LockerStateConflict(Conflict):
    code, message = "locker_state_conflict", "格口或订单当前状态不允许此操作"


class LockerCellNotFound(NotFound):
    code, message = "locker_cell_not_found", "格口不存在"


class DeviceUnauthorized(APIError):
    status, code, message = 401, "device_signature_invalid", "设备签名无效"


class DeviceSignatureMissing(DeviceUnauthorized):
    code, message = (
        "device_signature_missing",
        "缺少设备签名头（X-Locker-Timestamp、X-Locker-Nonce、X-Locker-Signature）",
    )


class DeviceTimestampStale(DeviceUnauthorized):
    code, message = "device_timestamp_stale", "设备请求时间戳已过期或与服务器时间相差过大"


class DeviceNonceReplayed(DeviceUnauthorized):
    code, message = "device_nonce_replayed", "设备请求的随机数已使用过（疑似重放）"
