"""A bad setting ends any command with one line naming the variable (exit 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_swap_cli import assert_one_clean_line, swapzy


@pytest.mark.parametrize("command", [["worker"], ["web"], ["up"], ["db", "current"], ["demo"]])
def test_an_invalid_setting_is_one_line_and_exit_15(tmp_path: Path, command: list[str]) -> None:
    run = swapzy(*command, cwd=tmp_path, env={"SWAPZY_WEB_PORT": "eighty"})
    assert run.code == 15
    line = assert_one_clean_line(run)
    assert line.startswith("swapzy: Invalid setting SWAPZY_WEB_PORT: Input should be a valid")


def test_production_will_not_start_on_the_development_link_secret(tmp_path: Path) -> None:
    run = swapzy("web", cwd=tmp_path, env={"SWAPZY_ENV": "production"})
    assert run.code == 15
    assert "SWAPZY_STORAGE__LINK_SECRET is still the public development default" in (
        assert_one_clean_line(run)
    )
