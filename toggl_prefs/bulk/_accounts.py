"""Accounts for bulk runs: the type, the file loaders, duplicate detection and sharding.
Credentials never appear in a repr, an error message or a journal."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import secrets
import stat
import unicodedata
from array import array
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson

from .._auth import ApiToken, BasicAuth
from ..errors import TogglConfigError, TogglFieldError, TogglValidationError

MAX_LINE_BYTES = 64 * 1024
"""The longest line an accounts file may have (a credential is a few dozen characters; a longer
line is a file that went wrong, such as a quote left open)."""
MAX_TOKEN_FILE_BYTES = 4096
TOKEN_SOURCES = ("api_token", "api_token_env", "api_token_file")
COLUMNS = ("key", *TOKEN_SOURCES, "email", "password")
_BOM = b"\xef\xbb\xbf"
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


class AccountsFileError(TogglConfigError):
    """An accounts file that cannot be used: ``path`` and ``line`` (1-based, ``None`` for the
    file as a whole) say where, the message says why, and never holds a credential."""

    def __init__(
        self, message: str, path: str | os.PathLike[str] | None = None, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.path = None if path is None else os.fspath(path)
        self.line = line

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.path, self.line)


@attrs.frozen
class Account:
    """One account of a bulk run: a ``key`` naming it (for results and journals) and its ``auth``."""

    key: str = attrs.field()
    auth: ApiToken | BasicAuth = attrs.field(repr=True)  # ApiToken/BasicAuth reprs hide the secret

    @key.validator
    def _check_key(self, _: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise TogglValidationError("an account key must be a non-empty str")
        if _control(value):
            raise TogglValidationError("an account key must not contain control characters")

    @auth.validator
    def _check_auth(self, _: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, (ApiToken, BasicAuth)):
            raise TogglFieldError(f"account {self.key!r}: auth must be ApiToken or BasicAuth")


def _control(text: str) -> bool:
    """Whether ``text`` holds a control, format or line-separator character (a newline, a NUL, a
    stray BOM, a zero-width space): never part of a credential, always a file gone wrong."""
    return any(not (" " <= ch <= "~") and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


# -- reading files -------------------------------------------------------------------------------------


class _Rows:
    """Turns one parsed row of an accounts file into an :class:`Account`, or an error naming the line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, line: int | None, reason: str) -> AccountsFileError:
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        return AccountsFileError(f"{where}: {reason}", self.path, line)

    def account(self, line: int, row: dict[str, Any]) -> Account:
        values: dict[str, str] = {}
        for name in COLUMNS:
            value = row.get(name)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise self.error(line, f"{name} must be a string, not {type(value).__name__}")
            if name != "password":
                value = value.strip()
            if value:
                values[name] = value
        key = values.pop("key", None)
        if key is None:
            raise self.error(line, "no key")
        for name, value in values.items():
            self._check_text(line, name, value)
        self._check_text(line, "key", key)
        auth = self._auth(line, values)
        try:
            return Account(key, auth)
        except ValueError as exc:  # the key is malformed; say so without echoing it
            raise self.error(line, str(exc)) from None

    def _auth(self, line: int, values: dict[str, str]) -> ApiToken | BasicAuth:
        given = [name for name in TOKEN_SOURCES if name in values]
        if "email" in values or "password" in values:
            given.append("email and password")
        if len(given) > 1:
            raise self.error(line, f"gives {' and '.join(given)}: give exactly one credential per account")
        if not given:
            raise self.error(line, "needs api_token, api_token_env, api_token_file, or email and password")
        if "api_token_env" in values:
            return self._token(line, "api_token_env", self._from_env(line, values["api_token_env"]))
        if "api_token_file" in values:
            return self._token(line, "api_token_file", self._from_file(line, values["api_token_file"]))
        if "api_token" in values:
            return self._token(line, "api_token", values["api_token"])
        if "email" not in values:
            raise self.error(line, "has a password but no email")
        if "password" not in values:
            raise self.error(line, "has an email but no password")
        try:
            return BasicAuth(values["email"], values["password"])
        except ValueError as exc:  # malformed (a ':' in the email); said without echoing it
            raise self.error(line, str(exc)) from None

    def _check_text(self, line: int, name: str, value: str) -> None:
        if _control(value):
            raise self.error(
                line, f"{name} contains a newline or another control character (a quote left open?)"
            )

    def _token(self, line: int, name: str, token: str) -> ApiToken:
        if not token:
            raise self.error(line, f"{name}: the token is empty")
        if _control(token):
            raise self.error(line, f"{name}: the token contains a newline or another control character")
        if '"' in token:
            raise self.error(line, f'{name}: the token contains a quote (a stray " in the file?)')
        if any(ch.isspace() for ch in token):
            raise self.error(line, f"{name}: the token contains a space")
        try:
            return ApiToken(token)
        except ValueError as exc:  # malformed (a ':'); said without echoing it
            raise self.error(line, f"{name}: {exc}") from None

    def _from_env(self, line: int, name: str) -> str:
        value = os.environ.get(name)
        if value is None:
            # A token put in this column by mistake must not be echoed: show only names that look
            # like environment variables (TOGGL_TOKEN_ALICE), never a lowercase token.
            shown = repr(name) if _ENV_NAME.fullmatch(name) else "named there"
            raise self.error(line, f"api_token_env: the environment variable {shown} is not set")
        return value.strip()

    def _from_file(self, line: int, name: str) -> str:
        file = Path(name).expanduser()
        if not file.is_absolute():
            file = self.path.parent / file  # relative to the accounts file, wherever the run starts
        # As for variables: a bare word might be a token in the wrong column; a path is shown.
        shown = repr(str(file)) if ("/" in name or "." in name or "~" in name) else "named there"
        try:
            data = _read_regular_file(file, MAX_TOKEN_FILE_BYTES + 1)
        except _NotRegularFile:
            raise self.error(
                line,
                f"api_token_file: cannot read the file {shown}: not a regular file "
                "(a directory, FIFO or device)",
            ) from None
        except OSError as exc:
            raise self.error(
                line, f"api_token_file: cannot read the file {shown}: {exc.strerror or exc}"
            ) from None
        if len(data) > MAX_TOKEN_FILE_BYTES:
            raise self.error(line, f"api_token_file: the file {shown} is over {MAX_TOKEN_FILE_BYTES} bytes")
        try:
            text = data.removeprefix(_BOM).decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(line, f"api_token_file: the file {shown} is not UTF-8 text") from None
        # One trailing newline is how editors and `echo` end a file; anything more is refused.
        return text.removesuffix("\n").removesuffix("\r")


class _NotRegularFile(OSError):
    pass


def _read_regular_file(file: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of ``file``, which must be a regular file (symlinks followed, as
    mounted secrets are). Opened without blocking and checked before reading, so that a FIFO nobody
    writes to cannot hang the run and a device (``/dev/zero``) is not read from."""
    fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _NotRegularFile(file)
        return handle.read(limit)


def _lines(path: Path, rows: _Rows) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, decoded, with its line ending (and a leading BOM) removed."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise rows.error(None, f"cannot read the accounts file: {exc.strerror or exc}") from None
    with handle:
        number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise rows.error(
                    number, f"the line is longer than {MAX_LINE_BYTES:,} bytes (a quote left open?)"
                )
            if number == 1:
                if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                    raise rows.error(number, "the file is UTF-16; save it as UTF-8")
                raw = raw.removeprefix(_BOM)
            raw = raw.removesuffix(b"\n").removesuffix(b"\r")
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise rows.error(
                    number, f"not valid UTF-8 (byte {exc.start + 1}); save the file as UTF-8"
                ) from None


def _csv_rows(path: Path, rows: _Rows) -> Iterator[tuple[int, dict[str, Any]]]:
    header: list[str] | None = None
    for number, text in _lines(path, rows):
        if not text.strip():
            continue
        # Each physical line is parsed alone: no field of an accounts file spans lines, so an
        # unclosed quote is an error on its own line instead of swallowing every later row.
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            raise rows.error(number, f"broken CSV quoting ({exc}): a stray or unclosed quote?") from None
        if header is None:
            header = _header(fields, number, rows)
            continue
        if not any(f.strip() for f in fields):
            continue  # a row of empty cells, as spreadsheets write
        extra = fields[len(header) :]
        if len(fields) < len(header) or any(f.strip() for f in extra):
            count = len(fields)
            raise rows.error(
                number, f"{count} field{'s' if count != 1 else ''}, the header has {len(header)}"
            )
        yield number, dict(zip(header, fields, strict=False))  # extra fields are empty (checked above)
    if header is None:
        raise rows.error(1, "no header: the first line must name the columns, such as key,api_token")


def _header(fields: list[str], number: int, rows: _Rows) -> list[str]:
    # Only known column names are ever echoed: a file without a header has a credential here.
    header = [f.strip().lower() for f in fields]
    known = [name for name in header if name in COLUMNS]
    if "key" not in known or not ({*known} & {*TOKEN_SOURCES, "email"}):
        raise rows.error(
            number,
            "the first line must be a header naming key and a credential column: api_token, "
            f"api_token_env, api_token_file, or email,password (found {','.join(known) or 'none of them'})",
        )
    seen: set[str] = set()
    for column, name in enumerate(header, start=1):
        if name in seen and name:
            named = repr(name) if name in COLUMNS else f"number {column}"
            raise rows.error(number, f"the header names a column twice (column {named})")
        seen.add(name)
    if ("email" in seen) != ("password" in seen):
        raise rows.error(number, "the header must have both email and password, or neither")
    return header


def _jsonl_rows(path: Path, rows: _Rows) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, text in _lines(path, rows):
        if not text.strip():
            continue
        try:
            row = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise rows.error(number, "not valid JSON") from None
        if not isinstance(row, dict):
            raise rows.error(number, "not a JSON object")
        yield number, row


class _AccountsFile:
    """The accounts of a file, read lazily; already checked for duplicates (the engine does not
    check them again)."""

    unique = True

    def __init__(self, path: Path) -> None:
        self._iterator = _read(path)

    def __iter__(self) -> Iterator[Account]:
        return self._iterator

    def __next__(self) -> Account:
        return next(self._iterator)


def _read(path: Path) -> Iterator[Account]:
    rows = _Rows(path)
    parse = _jsonl_rows if path.suffix.lower() in (".jsonl", ".ndjson") else _csv_rows
    seen = Duplicates()
    for number, row in parse(path, rows):
        account = rows.account(number, row)
        clash = seen.add(account)
        if clash is not None:
            first = _first_line(path, parse, rows, clash, account, number)
            if clash == "key":
                raise rows.error(number, f"duplicate account key {account.key!r} (first on line {first})")
            raise rows.error(number, f"the same credentials as line {first}: one account listed twice")
        yield account


def _first_line(
    path: Path,
    parse: Callable[[Path, _Rows], Iterator[tuple[int, dict[str, Any]]]],
    rows: _Rows,
    clash: str,
    account: Account,
    before: int,
) -> int | str:
    """The line where ``account``'s key or credentials first appeared (read again: this is the
    error path, and keeping every line number would cost memory on every run)."""
    for number, row in parse(path, rows):
        if number >= before:
            break
        earlier = rows.account(number, row)
        if (earlier.key == account.key) if clash == "key" else (credential(earlier) == credential(account)):
            return number
    return "?"


def iter_accounts(path: str | os.PathLike[str]) -> Iterator[Account]:
    """Read accounts lazily from a CSV file or a JSON-lines file (``.jsonl`` / ``.ndjson``, one
    object per line), UTF-8 (a BOM is fine), blank lines ignored.

    Columns (CSV header, or JSON keys): ``key`` names the account (results and journals use it), and
    each account has exactly one credential:

    - ``api_token``: the API token itself;
    - ``api_token_env``: the name of an environment variable holding the token;
    - ``api_token_file``: a file holding the token (one trailing newline is ignored; a relative
      path is relative to the accounts file);
    - ``email`` and ``password``.

    A CSV may have several of these columns, each row filling one. Any mistake is an
    :class:`AccountsFileError` naming the line, never echoing a credential: a broken or unclosed
    quote, a row with too many or too few fields, a token with a quote, space, newline or other
    control character, a value of the wrong JSON type, an unset variable or unreadable token file,
    a line over 64 KiB, bytes that are not UTF-8, a header naming a column twice, and the same
    account twice (by key, or by credentials under two keys)."""
    return _AccountsFile(Path(path))


def load_accounts(path: str | os.PathLike[str]) -> list[Account]:
    """All accounts of a CSV or JSON-lines file (see :func:`iter_accounts`)."""
    return list(iter_accounts(path))


# -- duplicates ------------------------------------------------------------------------------------------

_SALT = secrets.token_bytes(16)  # credential fingerprints exist only in this process's memory


def credential(account: Account) -> int:
    """A 64-bit fingerprint of the account's credentials (the same login, however spelled, gives
    the same fingerprint; it is keyed per process, so it is no hash of the secret to crack)."""
    auth = account.auth
    if isinstance(auth, ApiToken):
        data = b"t\0" + auth.api_token.encode()
    else:
        data = b"b\0" + auth.email.lower().encode() + b"\0" + auth.password.encode()
    return _fingerprint(data, _SALT)


class Fingerprints:
    """A set of 64-bit fingerprints at 11-23 bytes each (a Python ``set`` of ints costs ~80): an
    open-addressing table in an ``array``, so that checking a million accounts for duplicates
    costs megabytes, not the run's memory bound."""

    _LOAD = 0.7
    _GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: the slot is the top bits of fingerprint * this

    def __init__(self) -> None:
        self._empty(10)

    def _empty(self, bits: int) -> None:
        self._table = array("Q", bytes(8 << bits))
        self._shift = 64 - bits
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, fingerprint: int) -> bool:
        """Add ``fingerprint`` (0 to 2**64 - 1); False when it was already there."""
        fingerprint = fingerprint or 1  # 0 marks an empty slot
        table = self._table
        mask = len(table) - 1
        i = ((fingerprint * self._GOLDEN) & 0xFFFFFFFFFFFFFFFF) >> self._shift
        while (slot := table[i]) != 0:
            if slot == fingerprint:
                return False
            i = (i + 1) & mask
        table[i] = fingerprint
        self._count += 1
        if self._count > len(table) * self._LOAD:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._table
        self._empty(64 - self._shift + 1)
        for fingerprint in old:
            if fingerprint:
                self.add(fingerprint)


def _fingerprint(data: bytes, key: bytes = b"") -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=key).digest(), "big")


class Duplicates:
    """Remembers the accounts of a run by key and by credentials, in a few dozen bytes each."""

    def __init__(self) -> None:
        self._keys = Fingerprints()
        self._credentials = Fingerprints()

    def add(self, account: Account) -> str | None:
        """Note ``account``; ``"key"`` or ``"credentials"`` when one seen before had the same."""
        if not self._keys.add(_fingerprint(account.key.encode())):
            return "key"
        if not self._credentials.add(credential(account)):
            return "credentials"
        return None


# -- sharding and iteration ----------------------------------------------------------------------------


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


def write_accounts_csv(accounts: Iterable[tuple[str, str]], path: str | os.PathLike[str]) -> None:
    """Write ``(key, api_token)`` pairs as an accounts CSV (used by tests, demos and benchmarks)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["key", "api_token"])
    writer.writerows(accounts)
    Path(path).write_text(buffer.getvalue(), encoding="utf-8")
