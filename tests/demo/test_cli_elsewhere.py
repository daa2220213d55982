"""A newcomer's first hour with the command line: help that lists every command, and no stray
empty database when a command runs in another folder."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
pytestmark = pytest.mark.smoke


def _run(args, cwd, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ORDERHUB_DATA_DIR")}
    base.update(PYTHONPATH=str(SRC), **env)
    return subprocess.run([sys.executable, "-m", "orderhub.cli", *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=120)


def test_a_command_run_elsewhere_refuses_clearly_and_leaves_no_file(tmp_path):
    elsewhere, data = tmp_path / "downloads", tmp_path / "data"
    elsewhere.mkdir()
    r = _run(["intake", "replay"], elsewhere, ORDERHUB_DATA_DIR=str(data))
    assert r.returncode == 2, r.stderr
    assert "no OrderHub database at" in r.stderr and "orderhub migrate" in r.stderr
    assert not (data / "orderhub.sqlite3").exists()
    assert list(elsewhere.iterdir()) == []  # nothing created where the command was run


def test_the_default_data_folder_does_not_follow_the_working_folder(tmp_path):
    code = "from django.conf import settings; import django; django.setup(); print(settings.DATA_DIR)"
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ORDERHUB_DATA_DIR")}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**base, "PYTHONPATH": str(SRC), "DJANGO_SETTINGS_MODULE": "orderhub.settings"})
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == SRC.parent / "var"
    assert list(tmp_path.iterdir()) == []


def test_help_describes_every_command_and_every_intake_subcommand(tmp_path):
    top = _run(["--help"], tmp_path)
    assert top.returncode == 0
    lines = top.stdout.splitlines()
    for cmd in ("demo", "serve", "runner", "migrate", "loaddemo", "token", "audit", "db", "manage",
                "worker", "beat", "intake", "bench"):
        described = [ln for ln in lines if ln.strip().startswith(cmd + " ")]
        assert described and len(described[0].split()) > 1, (cmd, top.stdout)
    intake = _run(["intake", "--help"], tmp_path, ORDERHUB_DATA_DIR=str(tmp_path / "d"))
    assert intake.returncode == 0, intake.stderr
    for sub in ("replay", "poll-imap", "import", "resume", "process-pending", "install-templates", "load-master"):
        assert sub in intake.stdout
