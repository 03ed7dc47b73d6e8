"""Signed values: made by copbot, not altered, not reusable across purposes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.settings import ConfigError, Settings
from bot.signing import Signing
from storage import sqlite as sqlite3
from storage.database import migrate
from storage.secret_key import stored_secret

SECRET = b"s" * 32


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_a_signed_value_reads_back_unchanged(value: str) -> None:
    signer = Signing(SECRET).signer("anonymous-reply")
    assert signer.unsign(signer.sign(value)) == value


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200))
def test_anything_not_signed_by_copbot_is_refused(token: str) -> None:
    assert Signing(SECRET).signer("anonymous-reply").unsign(token) is None


def test_an_altered_value_or_signature_is_refused() -> None:
    signer = Signing(SECRET).signer("p")
    token = signer.sign("C0123:1700000000.000100")
    value, mac = token.split(".")
    other_value = Signing(SECRET).signer("p").sign("C9999:1700000000.000100").split(".")[0]
    assert signer.unsign(f"{other_value}.{mac}") is None
    assert signer.unsign(f"{value}.{mac[:-2]}AA") is None
    assert signer.unsign(token + ".") is None


def test_a_value_signed_for_one_purpose_is_refused_for_another() -> None:
    signing = Signing(SECRET)
    token = signing.signer("anonymous-reply").sign("thread")
    assert signing.signer("console-link").unsign(token) is None
    assert Signing(b"t" * 32).signer("anonymous-reply").unsign(token) is None


def test_a_short_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Signing(b"short")
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
