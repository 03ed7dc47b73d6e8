"""Signed values: made by copbot, not altered, not reusable across purposes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.settings import ConfigError, Settings
from bot.signing import Expired, Signing
from storage import sqlite as sqlite3
from storage.database import migrate
from storage.secret_key import stored_secret
from tests.support.fakes import ManualClock

SECRET = b"s" * 32
CLOCK = ManualClock()  # never moved: these tests are about who signed, not when


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_a_signed_value_reads_back_unchanged(value: str) -> None:
    signer = Signing(SECRET, CLOCK).signer("anonymous-reply")
    assert signer.unsign(signer.sign(value)) == value


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200))
def test_anything_not_signed_by_copbot_is_refused(token: str) -> None:
    assert Signing(SECRET, CLOCK).signer("anonymous-reply").unsign(token) is None


def test_a_token_has_exactly_one_spelling() -> None:
    """Base64's last character can have spare bits; another spelling of the same bytes
    is another token, and refused."""
    signer = Signing(SECRET, CLOCK).signer("p")
    token = signer.sign("16 bytes of text")  # 22 characters: 4 spare bits; a MAC's 43: 2
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for part in (0, -1):  # the value's encoding and the signature's
        parts = token.split(".")
        spare = len(parts[part]) * 6 % 8  # bits past the last whole byte
        last = alphabet.index(parts[part][-1])
        twin = alphabet[last ^ 1]  # the lowest bit is always spare here
        assert spare and last >> spare == alphabet.index(twin) >> spare
        parts[part] = parts[part][:-1] + twin
        same_bytes = ".".join(parts)
        assert base64.urlsafe_b64decode(parts[part] + "==") == base64.urlsafe_b64decode(
            token.split(".")[part] + "=="
        )
        assert signer.unsign(same_bytes) is None
    assert signer.unsign(token) == "16 bytes of text"


def test_an_altered_value_or_signature_is_refused() -> None:
    signer = Signing(SECRET, CLOCK).signer("p")
    token = signer.sign("C0123:1700000000.000100")
    value, issued, mac = token.split(".")
    other_value = Signing(SECRET, CLOCK).signer("p").sign("C9999:1700000000.000100").split(".")[0]
    assert signer.unsign(f"{other_value}.{issued}.{mac}") is None
    assert signer.unsign(f"{value}.{issued}.{mac[:-2]}AA") is None
    assert signer.unsign(f"{value}.{int(issued) + 1}.{mac}") is None  # a later issue time
    assert signer.unsign(f"{value}.{mac}") is None  # the time left out
    assert signer.unsign(token + ".") is None


def test_a_value_signed_for_one_purpose_is_refused_for_another() -> None:
    signing = Signing(SECRET, CLOCK)
    token = signing.signer("anonymous-reply").sign("thread")
    assert signing.signer("console-link").unsign(token) is None
    assert Signing(b"t" * 32, CLOCK).signer("anonymous-reply").unsign(token) is None


def test_a_short_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Signing(b"short", CLOCK)
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"COPBOT_SECRET_KEY": "hunter2-but-short"})
    assert "hunter2" not in refused.value.words
    assert "hunter2" not in repr(Settings.from_env({"COPBOT_SECRET_KEY": "hunter2" * 6}))


def test_each_database_makes_its_own_key_once(tmp_path: Path) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    migrate(first)
    migrate(second)
    key = stored_secret(first)
    assert len(key) == 32
    migrate(first)  # again: the key stays
    assert stored_secret(first) == key
    assert stored_secret(second) != key


def test_an_unmigrated_database_says_so(tmp_path: Path) -> None:
    path = tmp_path / "bare.db"
    sqlite3.connect(path).close()
    with pytest.raises(sqlite3.OperationalError):
        stored_secret(path)


def test_a_value_older_than_max_age_is_refused_as_expired_and_younger_ones_read() -> None:
    clock = ManualClock()
    signer = Signing(SECRET, clock).signer("anonymous-reply")
    token = signer.sign("thread")
    day = timedelta(hours=6)
    clock.advance(day)
    assert signer.unsign(token, max_age=day) == "thread"  # exactly its lifetime: still fine
    clock.advance(timedelta(seconds=1))
    with pytest.raises(Expired):
        signer.unsign(token, max_age=day)
    assert signer.unsign(token) == "thread"  # a reader that sets no lifetime
    # Expired is only for copbot's own tokens: anything else is simply not signed.
    assert signer.unsign("dGhyZWFk.0.AAAA", max_age=day) is None


def test_a_token_from_before_issue_times_reads_only_where_no_lifetime_is_asked() -> None:
    # How tokens were made before: the value and an HMAC of it alone (Teams cards posted
    # then still carry them).
    key = hmac.new(SECRET, b"copbot signer:teams-form", hashlib.sha256).digest()
    mac = hmac.new(key, b"where", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    legacy = f"{b64(b'where')}.{b64(mac)}"
    signer = Signing(SECRET, CLOCK).signer("teams-form")
    assert signer.unsign(legacy) == "where"
    with pytest.raises(Expired):
        signer.unsign(legacy, max_age=timedelta(hours=6))
