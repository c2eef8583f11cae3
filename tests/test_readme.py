"""Every example in README.md runs as written, against a fake Toggl server, and the packaging facts it
states hold (licence, Python versions, the nox sessions).

- ```python programs run in-process (in a fresh directory holding an ``accounts.csv``) with
  ``TOGGL_API_TOKEN`` set for a threaded fake server seeded as ``toggl-prefs fake-server`` seeds its own.
- ```python blocks that define tests run under pytest (pytester), in pytest-asyncio's strict mode as
  written and in auto mode (the ```toml block's setting) without their markers.
- ```sh lines that start with ``toggl-prefs`` run through the CLI's ``main`` with ``TOGGL_BASE_URL``
  set; ``fake-server`` runs as a process, and the first example is pointed at it.
- The Dask recipe runs for real on a local cluster of worker processes.

Clients built without ``base_url`` (the README's) read ``TOGGL_BASE_URL``, as the command line does,
so the examples reach the fake server without a word changed.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import toggl_prefs as tp
from toggl_prefs import _urls
from toggl_prefs.cli import main as cli_main
from toggl_prefs.testing import SAMPLE_PREFERENCES, FakeTogglServer, add_sample_account

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra installs tomli on Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
ACCOUNTS = 3  # as `toggl-prefs fake-server` (its default)


class Block(NamedTuple):
    lang: str
    code: str
    line: int
    heading: str

    @property
    def id(self) -> str:
        return f"L{self.line}-{re.sub(r'[^a-z0-9]+', '-', self.heading.lower()).strip('-')}"


def _blocks(text: str) -> list[Block]:
    found: list[Block] = []
    heading, lang, start, lines = "", None, 0, list[str]()
    for number, line in enumerate(text.splitlines(), 1):
        if lang is None and line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif lang is None and line.startswith("```"):
            lang, start, lines = line[3:].strip(), number + 1, []
        elif lang is not None and line.startswith("```"):
            found.append(Block(lang, "\n".join(lines) + "\n", start, heading))
            lang = None
        elif lang is not None:
            lines.append(line)
    assert lang is None, "an unclosed code block in README.md"
    return found


BLOCKS = _blocks(README)
PYTHON = [b for b in BLOCKS if b.lang == "python"]
TEST_MODULES = [b for b in PYTHON if re.search(r"^(async )?def test_", b.code, re.M)]
PROGRAMS = [b for b in PYTHON if b not in TEST_MODULES]
SHELL_LINES = [
    command.strip()
    for b in BLOCKS
    if b.lang == "sh"
    for line in b.code.splitlines()
    for command in line.split("  #")[0].split("&&")  # `pip install ... && toggl-prefs demo`
    if command.strip().startswith("toggl-prefs ")
]


def test_the_readme_has_the_examples_this_module_runs() -> None:
    assert len(PROGRAMS) >= 8 and len(TEST_MODULES) >= 2 and len(SHELL_LINES) >= 15
    assert {b.lang for b in BLOCKS} <= {"python", "sh", "toml", "yaml", "csv"}  # no block left unchecked


def test_shell_blocks_hold_one_command_per_line() -> None:
    """A pasted line runs as written: no `|` meaning "or", no [optional] parts (an install `&&` the
    command it enables, as in the first block, is one thing to paste)."""
    for b in BLOCKS:
        if b.lang != "sh":
            continue
        for line in b.code.splitlines():
            command = line.split("  #")[0]
            assert not re.search(r"\s\|\s|\w\|\w|\[-", command), f"README.md:{b.line}: {line}"


# -- fixtures: a fake API, and the environment a reader would have -------------------------------------


@pytest.fixture
def fake_api() -> Iterator[FakeTogglServer]:
    with FakeTogglServer() as server:
        for n in range(1, ACCOUNTS + 1):
            add_sample_account(server, api_token=f"token-{n}", key=f"user{n}", workspace_id=1000 + n)
        yield server


def _point_default_base_url_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Make a client built without ``base_url`` (the README's) use ``url`` instead of Toggl."""
    monkeypatch.setenv("TOGGL_BASE_URL", url)
    if str(tp.AsyncTogglClient(tp.ApiToken("probe")).base_url) == url:
        return  # the library reads TOGGL_BASE_URL itself
    original = _urls.check_base_url

    def redirected(base_url: Any) -> Any:
        chosen = url if str(base_url).rstrip("/") == _urls.DEFAULT_BASE_URL else base_url
        return original(chosen)

    for name, module in list(sys.modules.items()):
        if name.startswith("toggl_prefs") and getattr(module, "check_base_url", None) is original:
            monkeypatch.setattr(module, "check_base_url", redirected)


def _reader_setup(monkeypatch: pytest.MonkeyPatch, where: Path, base_url: str) -> None:
    monkeypatch.chdir(where)
    (where / "accounts.csv").write_text(
        "key,api_token\n" + "".join(f"{k},token-{n}\n" for n, k in enumerate(["alice", "bob", "carol"], 1))
    )
    for name in ("TOGGL_EMAIL", "TOGGL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOGGL_API_TOKEN", "token-1")
    _point_default_base_url_at(monkeypatch, base_url)


# The Dask recipe's scheduler, replaced by a real local cluster of two worker processes (which
# inherit TOGGL_BASE_URL and reach the fake server on loopback): the only words of it changed.
_SCHEDULER = 'Client("tcp://scheduler:8786")'
_LOCAL_CLUSTER = (
    'Client(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40)'
)


def _run_program(block: Block, monkeypatch: pytest.MonkeyPatch, where: Path) -> None:
    code = block.code
    if "from distributed import Client" in code:  # the Dask recipe, run for real on a local cluster
        assert _SCHEDULER in code
        code = code.replace(_SCHEDULER, _LOCAL_CLUSTER).replace("/shared/", f"{where}/")
    exec(compile(code, f"README.md:{block.line}", "exec"), {"__name__": "__main__"})  # noqa: S102


def _meaningless(output: str) -> list[str]:
    """Printed lines made only of ``None``: what an empty account shows."""
    return [line for line in output.splitlines() if line.split() and set(line.split()) == {"None"}]


# -- the examples --------------------------------------------------------------------------------------


def _check_output(block: Block, output: str, tokens: Iterable[str]) -> None:
    assert output.strip(), f"README.md:{block.line} printed nothing"
    assert not _meaningless(output), output
    assert not any(token in output for token in tokens)  # examples never show a credential


# The first example runs in the next test, against the `toggl-prefs fake-server` process (each takes
# seconds: the client keeps to Toggl's 1 request/second).
@pytest.mark.parametrize("block", PROGRAMS[1:], ids=[b.id for b in PROGRAMS[1:]])
def test_python_example_runs(
    block: Block,
    fake_api: FakeTogglServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _reader_setup(monkeypatch, tmp_path, fake_api.base_url)
    _run_program(block, monkeypatch, tmp_path)
    _check_output(block, capsys.readouterr().out, [f"token-{n}" for n in range(1, ACCOUNTS + 1)])


@pytest.mark.parametrize("block", TEST_MODULES, ids=[b.id for b in TEST_MODULES])
@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_test_examples_pass_under_pytest(block: Block, mode: str, pytester: pytest.Pytester) -> None:
    code = block.code
    if mode == "auto":  # as configured by the README's ```toml block: markers not needed
        (toml,) = [b.code for b in BLOCKS if b.lang == "toml"]
        assert 'asyncio_mode = "auto"' in toml
        pytester.makepyprojecttoml(toml)
        code = re.sub(r"^@pytest\.mark\.asyncio\n", "", code, flags=re.M)
    pytester.makepyfile(test_example=code)
    expected = len(re.findall(r"^(?:async )?def test_", code, re.M))
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-o",
        f"asyncio_mode={mode}",
    )
    result.assert_outcomes(passed=expected)


def test_command_lines_run(
    fake_api: FakeTogglServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _reader_setup(monkeypatch, tmp_path, fake_api.base_url)
    ran = []
    for line in SHELL_LINES:
        argv = shlex.split(line)[1:]
        if argv[0] == "fake-server":
            continue  # runs until stopped: see the next test
        code = cli_main(argv)
        captured = capsys.readouterr()
        assert code == 0, f"{line!r} exited {code}: {captured.err[-1500:]}"
        assert "token-" not in captured.out + captured.err
        ran.append(argv[0])
    assert {"get", "set", "workspace", "alpha", "export", "import", "bulk", "demo"} <= set(ran)
    assert fake_api.accounts["user1"].preferences["beginningOfWeek"] == 1  # the `set` line took effect


def test_first_example_shows_values_against_the_fake_server_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (line,) = [line for line in SHELL_LINES if " fake-server" in line]
    argv = shlex.split(line)[1:]
    argv[argv.index("--port") + 1] = "0"  # any free port
    server = subprocess.Popen(
        [sys.executable, "-m", "toggl_prefs", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:"), server.stderr.read() if server.stderr else ""
        _reader_setup(monkeypatch, tmp_path, base_url)
        _run_program(PROGRAMS[0], monkeypatch, tmp_path)
    finally:
        server.terminate()
        server.communicate(timeout=30)
    output = capsys.readouterr().out
    _check_output(PROGRAMS[0], output, [f"token-{n}" for n in range(1, ACCOUNTS + 1)])
    first = output.splitlines()[0]
    assert first == f"{SAMPLE_PREFERENCES['date_format']} {SAMPLE_PREFERENCES['BeginningOfWeek']}"


# -- what the README and the package metadata say about themselves -------------------------------------


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def test_licence_file_matches_the_metadata() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert "LICENSE" in _pyproject()["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]


def test_python_versions_agree_in_metadata_classifiers_and_nox() -> None:
    project = _pyproject()["project"]
    classified = [
        c.rsplit(" ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert classified == ["3.10", "3.11", "3.12", "3.13"]
    assert project["requires-python"] == f">={classified[0]}"
    nox_tree = ast.parse((ROOT / "noxfile.py").read_text())
    pythons = next(
        ast.literal_eval(node.value)
        for node in ast.walk(nox_tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PYTHONS" for t in node.targets)
    )
    assert pythons == classified
    assert "asyncio.wait_for" in README and "asyncio.timeout" in README  # 3.10 has no asyncio.timeout


def test_project_urls_and_extras() -> None:
    project = _pyproject()["project"]
    assert all(url.startswith("https://") for url in project["urls"].values())
    extras = project["optional-dependencies"]
    assert any(d.startswith("aioresponses") for d in extras["aioresponses"])
    assert any(d.startswith("aioresponses") for d in extras["test"])


def test_the_readme_starts_with_the_two_commands_and_ci_runs_the_same_tests() -> None:
    first = BLOCKS[0]
    assert first.lang == "sh" and README.index("```sh") < README.index("\n## ")
    assert first.code.splitlines() == [
        "pip install -e . && toggl-prefs demo",
        "pip install -e '.[test]' && pytest",
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^pytest\b", ci, re.M), ".ci/run must run the README's test command"


def test_the_accounts_file_with_token_files_loads_as_shown(tmp_path: Path) -> None:
    """The README's accounts file that names token files, with the files where it says they are."""
    from toggl_prefs.bulk import load_accounts

    (block,) = [b for b in BLOCKS if b.lang == "csv"]
    root = tmp_path / "secrets"
    text = block.code.replace("/var/run/secrets/", f"{root}/")
    tokens = {}
    for line in text.splitlines()[1:]:
        key, path = line.split(",")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(f"tok-{key}\n")  # a mounted secret often ends with a newline
        tokens[key] = f"tok-{key}"
    (tmp_path / "accounts.csv").write_text(text)
    accounts = load_accounts(tmp_path / "accounts.csv")
    assert {a.key: a.auth for a in accounts} == {k: tp.ApiToken(v) for k, v in tokens.items()}


def test_the_exit_code_table_lists_the_command_lines_codes() -> None:
    from toggl_prefs.cli._exit import EXIT_CODES

    section = README[README.index("Exit codes, the same for every command") :]
    shown = [int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)]
    assert shown == sorted(int(row.code) for row in EXIT_CODES)
