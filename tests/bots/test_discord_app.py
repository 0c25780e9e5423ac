"""``swapzy bot discord`` as a process against the fake Discord: ``--sync`` registers the
commands (installable to servers and users, usable in servers, DMs and private channels), the
bot answers on the gateway, stops cleanly on SIGTERM, and a wrong token is one clear line."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import discord

from bots.discord import texts
from tests.bots.discord_objects import FakeUser, Place
from tests.bots.discord_payloads import slash_command
from tests.bots.fake_discord import FakeDiscord
from tests.jobs.service import REPO, service, to_env

DANA = FakeUser(id=306000000000000006, username="dana")
DM = Place("dm", channel_id=406000000000000001)
COMMANDS = [
    "swap",
    "swap-template",
    "help",
    "pro",
    "usage",
    "web",
    "delete-my-data",
    "swapzy-settings",
]


def _swapzy(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_sync_then_run_then_sigterm(
    tmp_path: Path, redis_url: str, sqlite_url: str, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    with service(
        tmp_path,
        redis_url,
        sqlite_url,
        discord_token=fake.token,
        discord_api_url=fake.api_url,
    ) as svc:
        env = to_env(svc.values)
        synced = _swapzy(env, "bot", "discord", "--sync")
        assert synced.returncode == 0, synced.stderr
        assert synced.stdout.strip() == f"Registered {len(COMMANDS)} slash commands with Discord."
        by_name = {c["name"]: c for c in fake.commands}
        assert sorted(by_name) == sorted(COMMANDS)
        assert by_name["swap"]["integration_types"] == [0, 1]
        assert by_name["swap"]["contexts"] == [0, 1, 2]
        assert [o["name"] for o in by_name["swap"]["options"]] == ["gif", "face", "faces"]
        assert [o["type"] for o in by_name["swap"]["options"]] == [11, 11, 3]
        settings = by_name["swapzy-settings"]
        assert (settings["integration_types"], settings["contexts"]) == ([0], [0])
        assert settings["default_member_permissions"] == str(1 << 5)  # Manage Server
        assert not fake.identified  # syncing never touches the gateway

        log = tmp_path / "bot.log"
        with log.open("w") as out:
            bot = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "bot", "discord"],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            fake.wait_ready(60)
            identify = fake.identified[0]
            assert identify["intents"] == discord.Intents.default().value  # nothing privileged
            assert identify["shard"] == [0, 1]  # auto-sharded: the count /gateway/bot advised
            commands_before = list(fake.commands)
            iid = fake.dispatch(slash_command("help", DANA, DM))
            fake.wait_until(lambda: fake.original(iid), 30, "the answer to /help")
            shown = fake.original(iid)
            assert shown is not None and shown.content == texts.HELP
            assert fake.commands == commands_before  # starting did not sync
            bot.send_signal(signal.SIGTERM)
            assert bot.wait(30) == 0, log.read_text()
        finally:
            if bot.poll() is None:
                bot.kill()
                bot.wait()
        assert not [c for c in fake.calls if c.method == "PUT" and c.ok][1:]


def test_a_missing_or_wrong_token_is_one_clear_line(
    tmp_path: Path, redis_url: str, sqlite_url: str, fake_discord: FakeDiscord
) -> None:
    with service(tmp_path, redis_url, sqlite_url, discord_api_url=fake_discord.api_url) as svc:
        missing = _swapzy(to_env(svc.values), "bot", "discord")
        assert missing.returncode == 15
        assert missing.stderr.count("\n") == 1 and "SWAPZY_DISCORD_TOKEN" in missing.stderr
        wrong = _swapzy(to_env({**svc.values, "discord_token": "not-the-token"}), "bot", "discord")
        assert wrong.returncode == 15, wrong.stderr
        # The service's log lines come first; the error is the one last line, no traceback.
        assert "Traceback" not in wrong.stderr
        last = wrong.stderr.strip().splitlines()[-1]
        assert last == (
            "swapzy: Discord refused SWAPZY_DISCORD_TOKEN: copy the bot token again from the "
            "developer portal (Bot > Reset Token)."
        )
