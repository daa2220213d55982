"""What a process loads as it starts (a web worker, the job runner, `orderhub intake run` for a
large upload, any command): a library only some actions need is loaded when first used, so
that every start does not pay for it. The spreadsheet library (openpyxl, with numpy behind it)
cost about 0.18 s of a 1.6 s start on the benchmark's machine."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.smoke


def test_starting_does_not_load_the_spreadsheet_library(tmp_path):
    code = ("import os, sys, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'orderhub.settings'); "
            "django.setup(); from django.urls import get_resolver; get_resolver().url_patterns; "
            "print('openpyxl' in sys.modules)")
    env = {"PATH": "/usr/bin:/bin", "ORDERHUB_DATA_DIR": str(tmp_path)}   # the embedded default: no server needed
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
