"""Accounts for bulk runs: the type, the file loaders, and sharding. Credentials never appear in a
repr, an error message or a journal."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson

from .._auth import ApiToken, BasicAuth
from ..errors import TogglFieldError, TogglValidationError


class AccountsFileError(ValueError):
    """An accounts file that cannot be read: says which line and why, never a credential."""


@attrs.frozen
class Account:
    """One account of a bulk run: a ``key`` naming it (for results and journals) and its ``auth``."""

    key: str = attrs.field()
    auth: ApiToken | BasicAuth = attrs.field(repr=True)  # ApiToken/BasicAuth reprs hide the secret

    @key.validator
    def _check_key(self, _: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise TogglValidationError("an account key must be a non-empty str")

    @auth.validator
    def _check_auth(self, _: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, (ApiToken, BasicAuth)):
            raise TogglFieldError(f"account {self.key!r}: auth must be ApiToken or BasicAuth")


def _account(key: Any, row: dict[str, Any], where: str) -> Account:
    key = str(key or "").strip()
    if not key:
        raise AccountsFileError(f"{where}: no key")
    token = (row.get("api_token") or "").strip()
    email = (row.get("email") or "").strip()
    password = row.get("password") or ""
    try:
        if token:
            return Account(key, ApiToken(token))
        if email and password:
            return Account(key, BasicAuth(email, password))
    except ValueError as exc:  # the credential itself is malformed; say so without echoing it
        raise AccountsFileError(f"{where} (account {key!r}): {exc}") from None
    raise AccountsFileError(f"{where} (account {key!r}): needs api_token, or email and password")


def iter_accounts(path: str | Path) -> Iterator[Account]:
    """Read accounts lazily from a CSV file (header ``key,api_token`` or ``key,email,password``) or
    a JSON-lines file (``.jsonl`` / ``.ndjson``: one object per line with the same names).
    Duplicate keys are an :class:`AccountsFileError`."""
    path = Path(path)
    seen: set[str] = set()
    rows = _jsonl_rows(path) if path.suffix.lower() in (".jsonl", ".ndjson") else _csv_rows(path)
    for where, row in rows:
        account = _account(row.get("key"), row, where)
        if account.key in seen:
            raise AccountsFileError(f"{where}: duplicate account key {account.key!r}")
        seen.add(account.key)
        yield account


def load_accounts(path: str | Path) -> list[Account]:
    """All accounts of a CSV or JSON-lines file (see :func:`iter_accounts`)."""
    return list(iter_accounts(path))


def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = {f.strip() for f in reader.fieldnames or []}
        if "key" not in fields or not ({"api_token"} <= fields or {"email", "password"} <= fields):
            raise AccountsFileError(
                f"{path}: the header must be key,api_token or key,email,password (got {sorted(fields)})"
            )
        for number, row in enumerate(reader, start=2):
            clean = {(k or "").strip(): v for k, v in row.items()}
            if not any((v or "").strip() for v in clean.values() if isinstance(v, str)):
                continue  # blank line
            yield f"{path}:{number}", clean


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise AccountsFileError(f"{path}:{number}: not a JSON object") from None
            if not isinstance(row, dict):
                raise AccountsFileError(f"{path}:{number}: not a JSON object")
            yield f"{path}:{number}", row


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Whether ``key`` belongs to shard ``(index, count)``: a stable hash (the same on every host
    and Python version), so N processes can split one accounts file without overlap."""
    if shard is None:
        return True
    index, count = shard
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count == index


def check_shard(shard: tuple[int, int] | None) -> tuple[int, int] | None:
    if shard is None:
        return None
    index, count = shard
    if not (isinstance(index, int) and isinstance(count, int) and count >= 1 and 0 <= index < count):
        raise TogglValidationError(f"shard must be (index, count) with 0 <= index < count, not {shard!r}")
    return index, count


async def aiter_accounts(accounts: Iterable[Account] | AsyncIterable[Account]) -> AsyncIterator[Account]:
    """Iterate a plain or async iterable of accounts, checking each item."""
    if isinstance(accounts, AsyncIterable):
        async for account in accounts:
            yield _checked(account)
    else:
        for account in accounts:
            yield _checked(account)


def _checked(account: Any) -> Account:
    if not isinstance(account, Account):
        raise TogglFieldError(f"accounts must be Account objects, not {type(account).__name__}")
    return account


def write_accounts_csv(accounts: Iterable[tuple[str, str]], path: str | Path) -> None:
    """Write ``(key, api_token)`` pairs as an accounts CSV (used by tests, demos and benchmarks)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["key", "api_token"])
    writer.writerows(accounts)
    Path(path).write_text(buffer.getvalue(), encoding="utf-8")
