"""Subscribe-message fields: formatted to their WeChat type, shortened where WeChat allows, refused where not."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app import push
from app.push.events import render
from app.push.fields import FieldRefused, format_field
from tests.fakes.wechat import subscribe_value_ok


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("thing1", "幸福社区停水通知", "幸福社区停水通知"),
        ("thing1", "关于幸福社区一号楼二单元明日上午停水检修的紧急通知", "关于幸福社区一号楼二单元明日上午停水检…"),
        ("thing1", "第一行\n第二行", "第一行 第二行"),
        ("amount2", 3250, "32.50元"),
        ("amount2", Decimal("8"), "8.00元"),
        ("amount2", "¥214.00", "¥214.00"),
        ("time3", datetime(2026, 11, 23, 6, 30, tzinfo=UTC), "2026年11月23日 14:30"),
        ("time3", datetime(2026, 1, 4, 23, 5, tzinfo=UTC), "2026年1月5日 07:05"),
        ("time3", "2026-11-23 14:30", "2026-11-23 14:30"),
        ("time3", "14:30~16:00", "14:30~16:00"),
        ("date4", date(2026, 11, 23), "2026年11月23日"),
        ("date4", datetime(2026, 11, 23, 17, 0, tzinfo=UTC), "2026年11月24日"),
        ("number5", 42, "42"),
        ("number5", Decimal("3.5"), "3.5"),
        ("character_string6", "A1-2345", "A1-2345"),
        ("phrase7", "配送中", "配送中"),
        ("name8", "王秀兰", "王秀兰"),
        ("name8", "John Smith", "John Smith"),
        ("phone_number9", "+86-0766-66888866", "+86-0766-66888866"),
        ("car_number10", "粤A8Z888挂", "粤A8Z888挂"),
        ("letter11", "ABC", "ABC"),
        ("symbol12", "#", "#"),
    ],
)
def test_values_are_formatted_to_their_type_and_the_fake_wechat_accepts_them(key, value, expected):
    formatted = format_field(key, value)
    assert formatted == expected
    assert subscribe_value_ok(key, formatted)


def test_a_thing_over_20_characters_is_shortened_to_20_with_an_ellipsis():
    formatted = format_field("thing1", "一" * 30)
    assert len(formatted) == 20
    assert formatted.endswith("…")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("character_string1", "A" * 33),  # a pickup code cut short would be wrong: refused, never shortened
        ("character_string1", "取件码"),
        ("phrase2", "正在配送途中"),
        ("phrase2", "ok"),
        ("name3", "阿卜杜热合曼买买提江阿不都"),
        ("number4", "12a"),
        ("amount5", 10**12),  # 11 digits of yuan
        ("time6", "明天下午"),
        ("time6", datetime(2026, 11, 23, 14, 30)),  # naive: which zone?
        ("date7", "23/11"),
        ("symbol8", "!!!!!!"),
        ("letter9", "abc1"),
        ("thing10", ""),
        ("thing10", "   "),
    ],
)
def test_values_that_cannot_be_shortened_are_refused_before_any_call(key, value):
    with pytest.raises(FieldRefused) as refused:
        format_field(key, value)
    assert refused.value.key == key


def test_a_key_must_name_a_wechat_type():
    with pytest.raises(ValueError, match="does not name a WeChat field type"):
        push.register_event("test.bad_key", "坏模板", channels=("wechat",), template_id="T", fields={"title1": "t"})


def test_the_wechat_channel_needs_a_template_and_the_sms_channel_a_text():
    with pytest.raises(ValueError, match="template_id"):
        push.register_event("test.no_template", "无模板", channels=("wechat",), fields={"thing1": "t"})
    with pytest.raises(ValueError, match="sms text"):
        push.register_event("test.no_sms_text", "无短信", channels=("sms",))


def test_an_event_cannot_be_registered_twice_differently():
    push.register_event("test.twice", "两次", body="{x}")
    push.register_event("test.twice", "两次", body="{x}")  # the same definition again is harmless
    with pytest.raises(ValueError, match="already registered"):
        push.register_event("test.twice", "不同", body="{x}")


def test_a_field_refused_turns_wechat_off_for_the_send_but_keeps_inbox_and_sms():
    rendered = render(push.get_event("test.pickup"), {"locker": "1号柜", "code": "X" * 40})
    assert rendered.wechat_data is None
    assert rendered.wechat_refused.startswith("character_string2")
    assert rendered.body == "您的包裹已存入1号柜，取件码" + "X" * 40 + "。"
    assert rendered.sms_params == {"locker": "1号柜", "code": "X" * 40}


def test_missing_data_is_an_error_for_the_caller():
    with pytest.raises(ValueError, match="missing"):
        render(push.get_event("test.pickup"), {"locker": "1号柜"})
