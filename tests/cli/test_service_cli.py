"""``swapzy up`` and ``swapzy submit`` as a user runs them: real processes, real ports.

``up`` starts an embedded Valkey, the web app and a worker (children in sessions of their own);
``submit`` finds the queue through ``data_dir/run/services.json``, waits for the result and
prints the share link. Ctrl-C on ``up`` stops everything it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from cli.up_command import STOP_TIMEOUT_S as KILL_AFTER_S
from core.config import MediaLimits
from core.errors import ServiceUnavailable, UnsupportedMedia
from gpu_worker.media import load_clip
from jobs.connect import SERVICES_FILE
from tests.cli.test_swap_cli import Run, assert_one_clean_line, swapzy
from tests.conftest import SampleFiles
from tests.fixtures_redis import free_port
from tests.jobs.service import wait_until

USAGE_ERROR = 2  # the command-line parser's own code
START_TIMEOUT_S = 90.0  # first start on a busy machine: Valkey, migrations, two Python children
STOP_TIMEOUT_S = 20.0


# --- processes -------------------------------------------------------------------------------


def _ppid(pid: int) -> int | None:
    """The parent of ``pid`` from /proc (None when it is gone or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and parens
    return None if fields[0] == "Z" else int(fields[1])


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children in their own sessions included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (ppid := _ppid(int(entry.name))) is not None:
            parents[int(entry.name)] = ppid
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    return _ppid(pid) is not None


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part).strip()


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# --- swapzy up / swapzy submit ---------------------------------------------------------------


def service_env(folder: Path, port: int, **extra: str) -> dict[str, str]:
    """No SWAPZY_ variables of the caller's, a data folder of the test's own, the web port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWAPZY_")}
    env.update(
        SWAPZY_DATA_DIR=str(folder / "var"),
        SWAPZY_WEB_PORT=str(port),
        SWAPZY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        COLUMNS="200",  # keep any message on one terminal line
        **extra,
    )
    return env


@dataclass
class Up:
    """A running ``swapzy up``: its process, folder, environment and output files."""

    process: subprocess.Popen[bytes]
    folder: Path
    env: dict[str, str]
    base: str
    seen: set[int] = field(default_factory=set)  # every process seen below it

    @property
    def services_file(self) -> Path:
        return self.folder / "var" / "run" / SERVICES_FILE

    def output(self) -> str:
        out = (self.folder / "up.out").read_text(errors="replace")
        return f"--- stdout\n{out}\n--- stderr\n{self.stderr()}"

    def stderr(self) -> str:
        return (self.folder / "up.err").read_text(errors="replace")

    def children(self) -> set[int]:
        found = descendants(self.process.pid)
        self.seen |= found
        return found

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(
                f"swapzy up exited with {self.process.returncode}:\n{self.output()}"
            )
        try:
            return httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def submit(self, *args: str) -> Run:
        return swapzy("submit", *args, cwd=self.folder, env=self.env)


def shut_down(up: Up) -> None:
    """Ctrl-C, then whatever is left is killed: nothing outlives the test, whatever happened."""
    with contextlib.suppress(AssertionError):
        up.children()
    if up.process.poll() is None:
        up.process.send_signal(signal.SIGINT)
        try:
            up.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            up.children()
            up.process.kill()
            up.process.wait()
    for pid in up.seen:
        if alive(pid) and any(m in command_line(pid) for m in ("cli.main", "valkey-server")):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def swapzy_up(folder: Path, sample: SampleFiles, **extra_env: str) -> Iterator[Up]:
    """``swapzy up`` in ``folder`` (with the sample files copied in), once /readyz says 200."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample.target, folder / "sample.gif")
    shutil.copy(sample.source, folder / "sample-face.jpg")
    port = free_port()
    env = service_env(folder, port, **extra_env)
    with (folder / "up.out").open("wb") as out, (folder / "up.err").open("wb") as err:
        # A process group of its own, as in a terminal: Ctrl-C reaches up and what shares it.
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "up"],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    up = Up(process, folder, env, f"http://127.0.0.1:{port}")
    try:
        wait_until(up.ready, "swapzy up to be ready (/readyz 200)", START_TIMEOUT_S)
        up.children()
        yield up
    finally:
        shut_down(up)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, sample_files: SampleFiles) -> Iterator[Up]:
    """One ``swapzy up`` (noop engine) shared by the tests that only submit to it."""
    with swapzy_up(tmp_path_factory.mktemp("up"), sample_files, SWAPZY_ENGINE="noop") as up:
        yield up


LINK = re.compile(r"(http://127\.0\.0\.1:\d+)/m/jobs/(\w+)/swapzy\.gif\?exp=\d+&sig=[\w-]+")


def assert_result(up: Up, run: Run, out: Path) -> None:
    """Exit 0, the share link as stdout's last line, and ``out`` is that link's GIF."""
    assert run.code == 0, f"{run.stderr}\n{up.output()}"
    assert "Traceback" not in run.stderr, run.stderr
    link = run.stdout.strip().splitlines()[-1]
    match = LINK.fullmatch(link)
    assert match is not None, link
    assert match[1] == up.base
    assert f"Saved {out.name}" in run.stderr
    clip = load_clip(out, MediaLimits())
    assert len(clip) == 24 and clip.size == (320, 240)
    response = httpx.get(link, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content == out.read_bytes()


# --- tests -----------------------------------------------------------------------------------


def test_submit_waits_for_the_swap_and_saves_the_result(running: Up) -> None:
    run = running.submit("sample.gif", "sample-face.jpg", "-o", "out.gif", "-q")
    assert_result(running, run, running.folder / "out.gif")


def test_submit_picks_the_format_from_the_output_extension(running: Up) -> None:
    run = running.submit("sample.gif", "sample-face.jpg", "-o", "out.mp4", "-q")
    assert run.code == 0, f"{run.stderr}\n{running.output()}"
    link = run.stdout.strip().splitlines()[-1]
    assert re.search(r"/m/jobs/\w+/swapzy\.mp4\?exp=", link), link
    clip = load_clip(running.folder / "out.mp4", MediaLimits())
    assert len(clip) == 24 and clip.size == (320, 240)
    bad = running.submit("sample.gif", "sample-face.jpg", "-o", "out.avi", "-q")
    assert bad.code == 13
    assert "-o must end in .gif, .mp4 or .webp" in assert_one_clean_line(bad)


def test_submit_of_a_text_file_exits_4_with_the_media_check_message(running: Up) -> None:
    (running.folder / "notes.gif").write_text("shopping list\n- milk\n")
    run = running.submit("notes.gif", "sample-face.jpg", "-q")
    assert run.code == UnsupportedMedia.exit_code == 4, run.stderr
    line = assert_one_clean_line(run)
    assert line == (
        "swapzy: The GIF/video is a text file, not an animation or image "
        "(GIF, MP4, WebM, WebP, PNG or JPEG)."
    )
    assert run.stdout == ""


def test_submit_without_a_running_service_exits_14(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    env = service_env(tmp_path, free_port())  # a fresh data folder, no SWAPZY_REDIS_URL
    run = swapzy(
        "submit", str(sample_files.target), str(sample_files.source), cwd=tmp_path, env=env
    )
    assert run.code == ServiceUnavailable.exit_code == 14, run.stderr
    assert "`swapzy up`" in assert_one_clean_line(run)
    assert run.stdout == ""


def test_submit_refuses_an_unknown_format_before_anything_else(
    tmp_path: Path, sample_files: SampleFiles
) -> None:
    env = service_env(tmp_path, free_port())
    run = swapzy(
        "submit", str(sample_files.target), str(sample_files.source), "--format", "avi",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert run.code == USAGE_ERROR, run.stderr
    assert "gif, mp4 or webp" in assert_one_clean_line(run)


@pytest.mark.parametrize("engine", ["noop", "classic"])
def test_up_serves_a_submit_then_ctrl_c_stops_everything(
    tmp_path: Path, sample_files: SampleFiles, engine: str
) -> None:
    extra = {"SWAPZY_ENGINE": "noop"} if engine == "noop" else {}  # classic is the default
    with swapzy_up(tmp_path, sample_files, **extra) as up:
        assert f"engine {engine}" in up.stderr()
        run = up.submit("sample.gif", "sample-face.jpg", "-o", "out.gif", "-q")
        assert_result(up, run, tmp_path / "out.gif")

        valkey_url = json.loads(up.services_file.read_text())["redis_url"]
        valkey_port = urlsplit(valkey_url).port
        assert valkey_port is not None and accepts_connections(valkey_port)
        children = up.children()
        commands = sorted(command_line(pid) for pid in children)
        assert any(c.endswith("cli.main web") for c in commands), commands
        assert any(c.endswith("cli.main worker") for c in commands), commands
        assert any("valkey-server" in c for c in commands), commands

        asked = time.monotonic()
        os.killpg(up.process.pid, signal.SIGINT)  # Ctrl-C in up's terminal
        try:
            code = up.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"swapzy up did not stop within {STOP_TIMEOUT_S:.0f} s:\n{up.output()}")
        took = time.monotonic() - asked
        assert code == 0, up.output()
        # The children stopped when asked: none had to wait for up's kill after KILL_AFTER_S.
        assert took < KILL_AFTER_S, f"stopping took {took:.1f} s:\n{up.output()}"
        assert up.stderr().rstrip().endswith("Stopped."), up.output()
        assert "Traceback" not in up.stderr(), up.output()
        # up waited for its children; once it is gone, none of them may be left.
        left = {pid: command_line(pid) for pid in children if alive(pid)}
        assert not left, f"left running: {left}"
        assert not accepts_connections(valkey_port)
        assert not up.services_file.exists()
        # Valkey ignored the terminal's Ctrl-C and was stopped by up, after the children.
        valkey_log = (up.folder / "var" / "run" / "valkey" / "valkey.log").read_text()
        assert "Received SIGTERM" in valkey_log and "SIGINT" not in valkey_log, valkey_log
