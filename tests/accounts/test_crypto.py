"""Documents at rest: AES-256-GCM under a key id, an HMAC for lookup, masked on the way out."""

import base64
from datetime import date

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.accounts import crypto
from app.accounts.residents import DOCUMENT_PURPOSE
from app.config import ConfigError
from app.extensions import db as database
from tests.community.fixtures import id_number

KEY_T1 = b"\x01" * 32  # tests/conftest.py TEST_SECRETS: "t1:" + base64(b"\x01" * 32)
KEY_T2 = b"\x07" * 32


def _raw(resident_id: int) -> dict:
    row = database.session.execute(
        sa.text("SELECT * FROM accounts_residents WHERE id = :id"), {"id": resident_id}
    ).mappings()
    return dict(row.one())


def _decrypt_by_hand(blob: bytes, keys: dict[str, bytes]) -> str:
    """Decrypt following the documented layout only: version | kid length | kid | nonce(12) | AES-GCM."""
    blob = bytes(blob)
    assert blob[0] == 1
    kid = blob[2 : 2 + blob[1]]
    nonce, sealed = blob[2 + blob[1] : 14 + blob[1]], blob[14 + blob[1] :]
    return AESGCM(keys[kid.decode()]).decrypt(nonce, sealed, DOCUMENT_PURPOSE.encode() + b"\x00" + kid).decode()


def test_the_raw_columns_never_hold_the_number(db, make_resident):
    number = id_number(date(1950, 8, 1), "993")
    _user, resident = make_resident("王五", born=date(1950, 8, 1), sequence="993")
    raw = _raw(resident.id)
    flattened = " ".join(
        value.hex() + " " + bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
        for value in raw.values()
    )
    assert number not in flattened
    assert number[6:14] not in flattened.replace("1950-08-01", "")  # the birth date digits only as the date column
    assert raw["document_masked"] == number[:3] + "*" * 11 + number[-4:]


def test_two_encryptions_of_one_number_differ_and_their_lookups_match(db, make_resident, app):
    number = id_number(date(1960, 1, 1), "995")
    first = crypto.encrypt(number, purpose=DOCUMENT_PURPOSE)
    second = crypto.encrypt(number, purpose=DOCUMENT_PURPOSE)
    assert first != second
    assert crypto.lookup_hash(number, purpose=DOCUMENT_PURPOSE) == crypto.lookup_hash(number, purpose=DOCUMENT_PURPOSE)
    for blob in (first, second):
        assert crypto.split(blob)[0] == "t1"
        assert _decrypt_by_hand(blob, {"t1": KEY_T1}) == number


def test_a_stored_document_decrypts_with_aes_256_gcm_under_its_key_id(db, make_resident):
    _user, resident = make_resident("赵六", born=date(1970, 2, 2), sequence="991")
    raw = _raw(resident.id)
    assert _decrypt_by_hand(raw["document_ciphertext"], {"t1": KEY_T1}) == id_number(date(1970, 2, 2), "991")
    assert len(bytes(raw["document_lookup"])) == 32  # HMAC-SHA256


def test_after_adding_a_key_old_ciphertexts_still_decrypt_and_new_ones_use_it(db, app, make_resident, monkeypatch):
    number = id_number(date(1980, 3, 3), "997")
    old = crypto.encrypt(number, purpose=DOCUMENT_PURPOSE)
    lookup_before = crypto.lookup_hash(number, purpose=DOCUMENT_PURPOSE)
    rotated = "t2:" + base64.b64encode(KEY_T2).decode() + "," + app.config["FIELD_ENCRYPTION_KEYS"]
    monkeypatch.setitem(app.config, "FIELD_ENCRYPTION_KEYS", rotated)

    new = crypto.encrypt(number, purpose=DOCUMENT_PURPOSE)
    assert crypto.split(new)[0] == "t2"
    assert crypto.decrypt(old, purpose=DOCUMENT_PURPOSE) == number
    assert crypto.decrypt(new, purpose=DOCUMENT_PURPOSE) == number
    assert _decrypt_by_hand(new, {"t2": KEY_T2}) == number
    assert crypto.lookup_hash(number, purpose=DOCUMENT_PURPOSE) == lookup_before  # lookups survive rotation


def test_a_value_moved_to_another_column_or_key_id_does_not_decrypt(app):
    blob = crypto.encrypt("secret", purpose=DOCUMENT_PURPOSE)
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(blob, purpose="accounts_residents.health_notes")
    relabelled = bytes([1, 2]) + b"t9" + blob[4:]
    with pytest.raises(crypto.DecryptionFailed, match="t9"):
        crypto.decrypt(relabelled, purpose=DOCUMENT_PURPOSE)


@pytest.mark.parametrize(
    "spec",
    ["", "nokey", "k1:not-base64!", "k1:" + base64.b64encode(b"short").decode(), "k1:{k},k1:{k}"],
)
def test_bad_key_settings_fail_loudly(spec):
    spec = spec.replace("{k}", base64.b64encode(KEY_T1).decode())
    with pytest.raises(ConfigError):
        crypto.parse_keys(spec)
