"""Every kafka-<tool>.sh alias: --help prints usage and exits 0; an unknown
flag prints the error and usage and exits 1 (Kafka's convention)."""

import os

import pytest

import harness
from toolcli import run

ALIASES = [l.strip() for l in open(os.path.join(harness.ROOT, "src", "tools", "aliases.txt"))
           if l.strip() and l.strip() != "run-class"]


@pytest.mark.parametrize("tool", ALIASES)
def test_help_and_bad_flag(tool):
    r = run(tool, "--help")
    assert r.returncode == 0, (tool, r.stderr)
    assert (r.stdout + r.stderr).strip()
    r = run(tool, "--no-such-flag-xyz")
    assert r.returncode == 1, tool
    assert "no-such-flag-xyz is not a recognized option" in r.stderr
