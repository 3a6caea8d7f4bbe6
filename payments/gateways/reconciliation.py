"""对账: parse the gateways' statements in their real formats and match them line by line with our records.

Pure functions over bytes and plain records; the job in ``payments.gateways.jobs`` downloads, loads our side and
stores the report.

- WeChat Pay trade statement (bill_type ALL): CSV (the download is gzipped) whose every data field starts with a
  backtick, so spreadsheets keep long numbers as text; after the rows a summary header (``总交易单数,…``) and one
  summary row. Refund rows have trade state ``REFUND`` and carry the refund number, amount and state.
- Alipay trade statement: a zip of GBK CSV files; ``…_业务明细.csv`` holds the lines between ``#`` comment header
  and footer lines, ``…_业务明细(汇总).csv`` the totals. Business type ``交易`` is a payment, ``退款`` a refund
  (keyed by our ``out_request_no``).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from payments.gateways.common import yuan_to_fen


class StatementError(ValueError):
    """The statement is not in the expected format, or its own totals disagree with its lines."""


@dataclass(frozen=True)
class StatementLine:
    """One line of a statement, in our vocabulary.

    ``kind`` is ``payment`` (keyed by out_trade_no) or ``refund`` (keyed by out_refund_no / out_request_no);
    ``state`` is ``paid`` for a payment, and ``succeeded`` / ``pending`` / ``failed`` for a refund.
    """

    kind: str
    key: str
    amount_fen: int
    state: str
    out_trade_no: str
    channel_txn_id: str = ""
    at: str = ""
    merchant: str = ""


@dataclass(frozen=True)
class Record:
    """One of our payments or refunds, as the reconciler needs it.

    ``state`` for a payment is ``paid`` once money was received (paid or paid_unapplied), else our status
    (``created``, ``closed``); for a refund our status (``pending``, ``succeeded``, ``failed``).
    """

    kind: str
    key: str
    amount_fen: int
    state: str
    out_trade_no: str = ""


@dataclass(frozen=True)
class Mismatch:
    """``missing_here`` (the gateway has it, we do not), ``missing_there`` (we settled it, the statement lacks it),
    ``amount_differs`` or ``state_differs``."""

    problem: str
    kind: str
    key: str
    out_trade_no: str = ""
    ours_amount_fen: int | None = None
    theirs_amount_fen: int | None = None
    ours_state: str | None = None
    theirs_state: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ReconciliationResult:
    lines: int = 0
    matched: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)


# --- WeChat Pay ----------------------------------------------------------------------------------------------

WECHAT_REFUND_STATES = {"SUCCESS": "succeeded", "PROCESSING": "pending"}


def _unbacktick(value: str) -> str:
    value = value.strip()
    return value[1:] if value.startswith("`") else value


def parse_wechat_trade_bill(content: bytes) -> list[StatementLine]:
    """Parse a WeChat Pay trade statement (the CSV text; ``gzip.decompress`` the download first).

    :raises StatementError: unknown header, or the summary's count and amounts disagree with the lines.
    """
    text = content.decode("utf-8-sig")
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise StatementError("empty WeChat statement")
    header = [cell.strip() for cell in rows[0]]
    needed = (
        "交易时间",
        "特约商户号",
        "微信订单号",
        "商户订单号",
        "交易状态",
        "订单金额",
        "商户退款单号",
        "退款金额",
        "退款状态",
    )
    missing = [name for name in needed if name not in header]
    if missing:
        raise StatementError(f"WeChat statement lacks columns {missing}")
    col = {name: header.index(name) for name in header}
    lines: list[StatementLine] = []
    summary: list[str] | None = None
    data_rows = 0
    for index, row in enumerate(rows[1:], start=1):
        first = row[0].strip()
        if first == "总交易单数":
            summary = [_unbacktick(cell) for cell in rows[index + 1]] if index + 1 < len(rows) else None
            summary_header = [cell.strip() for cell in row]
            break
        if not first.startswith("`"):
            raise StatementError(f"WeChat statement row {index + 1} does not start with a backtick")
        cells = [_unbacktick(cell) for cell in row]
        data_rows += 1
        state = cells[col["交易状态"]]
        common = {
            "out_trade_no": cells[col["商户订单号"]],
            "channel_txn_id": cells[col["微信订单号"]],
            "at": cells[col["交易时间"]],
            "merchant": cells[col["特约商户号"]],
        }
        if state == "REFUND":
            refund_state = cells[col["退款状态"]]
            lines.append(
                StatementLine(
                    kind="refund",
                    key=cells[col["商户退款单号"]],
                    amount_fen=yuan_to_fen(cells[col["退款金额"]]),
                    state=WECHAT_REFUND_STATES.get(refund_state, "failed"),
                    **common,
                )
            )
        elif state == "SUCCESS":
            lines.append(
                StatementLine(
                    kind="payment",
                    key=common["out_trade_no"],
                    amount_fen=yuan_to_fen(cells[col["订单金额"]]),
                    state="paid",
                    **common,
                )
            )
        # REVOKED and other states moved no money: nothing to match.
    if summary is None:
        raise StatementError("WeChat statement has no summary rows")
    totals = dict(zip(summary_header, summary, strict=False))
    if "总交易单数" in totals and int(totals["总交易单数"]) != data_rows:
        raise StatementError(f"WeChat summary counts {totals['总交易单数']} rows, the statement has {data_rows}")
    if "退款总金额" in totals:
        refunded = sum(line.amount_fen for line in lines if line.kind == "refund")
        if yuan_to_fen(totals["退款总金额"]) != refunded:
            raise StatementError("WeChat summary refund total disagrees with the refund rows")
    return lines


# --- Alipay --------------------------------------------------------------------------------------------------

ALIPAY_DETAIL = re.compile(r"业务明细\.csv$")


def parse_alipay_trade_bill(content: bytes) -> list[StatementLine]:
    """Parse an Alipay trade statement: the zip as downloaded.

    :raises StatementError: no detail file, unknown header, or the footer's counts disagree with the lines.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as error:
        raise StatementError("Alipay statement is not a zip") from error
    lines: list[StatementLine] = []
    found = False
    for info in archive.infolist():
        name = _zip_name(info)
        if not ALIPAY_DETAIL.search(name):
            continue  # the (汇总) summary file
        found = True
        lines.extend(_parse_alipay_detail(archive.read(info).decode("gbk")))
    if not found:
        raise StatementError("Alipay statement has no 业务明细 file")
    return lines


def _zip_name(info: zipfile.ZipInfo) -> str:
    # Alipay's zips store GBK names without the UTF-8 flag; zipfile then decodes them as cp437.
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _parse_alipay_detail(text: str) -> list[StatementLine]:
    header: list[str] | None = None
    lines: list[StatementLine] = []
    footer_counts: dict[str, int] = {}
    for raw in text.splitlines():
        if not raw.strip():
            continue
        if raw.startswith("#"):
            for label, kind in (("交易合计", "payment"), ("退款合计", "refund")):
                match = re.search(label + r"：\s*(\d+)\s*笔", raw)
                if match:
                    footer_counts[kind] = int(match.group(1))
            continue
        cells = [cell.strip() for cell in next(csv.reader([raw]))]
        if header is None:
            header = cells
            needed = ("支付宝交易号", "商户订单号", "业务类型", "完成时间", "订单金额（元）", "退款批次号/请求号")
            missing = [name for name in needed if name not in header]
            if missing:
                raise StatementError(f"Alipay statement lacks columns {missing}")
            col = {name: header.index(name) for name in header}
            continue
        business = cells[col["业务类型"]]
        amount = abs(Decimal(cells[col["订单金额（元）"]]))
        common = {
            "out_trade_no": cells[col["商户订单号"]],
            "channel_txn_id": cells[col["支付宝交易号"]],
            "at": cells[col["完成时间"]],
        }
        if business == "交易":
            lines.append(
                StatementLine(
                    kind="payment", key=common["out_trade_no"], amount_fen=yuan_to_fen(amount), state="paid", **common
                )
            )
        elif business == "退款":
            lines.append(
                StatementLine(
                    kind="refund",
                    key=cells[col["退款批次号/请求号"]],
                    amount_fen=yuan_to_fen(amount),
                    state="succeeded",
                    **common,
                )
            )
    if header is None:
        raise StatementError("Alipay detail file has no header")
    for kind, count in footer_counts.items():
        if sum(1 for line in lines if line.kind == kind) != count:
            raise StatementError(f"Alipay footer counts {count} {kind} lines, the file has another number")
    return lines


# --- matching ------------------------------------------------------------------------------------------------

#: Our state that agrees with each statement state.
AGREEING = {
    ("payment", "paid"): {"paid"},
    ("refund", "succeeded"): {"succeeded"},
    ("refund", "pending"): {"pending"},
    ("refund", "failed"): {"failed"},
}


def reconcile(
    lines: Iterable[StatementLine], ours: Iterable[Record], *, others: Iterable[Record] = ()
) -> ReconciliationResult:
    """Match a statement with our records of the same day.

    :param ours: our payments paid and refunds succeeded within the statement's day (what it should contain).
    :param others: our records named by statement lines but outside the day (a payment at 23:59:59.9 that the
        gateway booked the next day); they are matched but never reported missing.
    """
    result = ReconciliationResult()
    ours_by_key = {(record.kind, record.key): record for record in ours}
    others_by_key = {(record.kind, record.key): record for record in others}
    seen: set[tuple[str, str]] = set()
    for line in lines:
        result.lines += 1
        key = (line.kind, line.key)
        seen.add(key)
        record = ours_by_key.get(key) or others_by_key.get(key)
        if record is None:
            result.mismatches.append(
                Mismatch(
                    "missing_here",
                    line.kind,
                    line.key,
                    line.out_trade_no,
                    theirs_amount_fen=line.amount_fen,
                    theirs_state=line.state,
                )
            )
        elif record.amount_fen != line.amount_fen:
            result.mismatches.append(
                Mismatch(
                    "amount_differs",
                    line.kind,
                    line.key,
                    line.out_trade_no,
                    record.amount_fen,
                    line.amount_fen,
                    record.state,
                    line.state,
                )
            )
        elif record.state not in AGREEING.get((*key[:1], line.state), {line.state}):
            result.mismatches.append(
                Mismatch(
                    "state_differs",
                    line.kind,
                    line.key,
                    line.out_trade_no,
                    record.amount_fen,
                    line.amount_fen,
                    record.state,
                    line.state,
                )
            )
        else:
            result.matched += 1
    for key, record in ours_by_key.items():
        if key not in seen:
            result.mismatches.append(
                Mismatch(
                    "missing_there",
                    record.kind,
                    record.key,
                    record.out_trade_no,
                    ours_amount_fen=record.amount_fen,
                    ours_state=record.state,
                )
            )
    result.mismatches.sort(key=lambda m: (m.problem, m.kind, m.key))
    return result


CSV_COLUMNS = (
    "problem",
    "kind",
    "key",
    "out_trade_no",
    "ours_amount_fen",
    "theirs_amount_fen",
    "ours_state",
    "theirs_state",
)


def mismatches_csv(rows: Iterable[dict]) -> str:
    """The report as CSV (UTF-8 with BOM so spreadsheets read the Chinese headers), one mismatch per line."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=("gateway", "bill_date", "merchant", *CSV_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()
