"""Helpers for the command-line tool tests (test_tools_*.py): run Sluice's
kafka-<tool>.sh aliases from build/ (or $SLUICE_TOOLS_DIR) and Apache
Kafka's own tools through scripts/kafka.sh, and normalise outputs that
legitimately differ (row order of Java HashMaps, JVM log lines)."""

import os
import re
import subprocess

import harness

TOOLS_DIR = os.environ.get("SLUICE_TOOLS_DIR", os.path.join(harness.ROOT, "build"))


def run(tool, *args, input=None, timeout=90, check=False):
    """Run build/kafka-<tool>.sh with args; returns CompletedProcess (text)."""
    path = os.path.join(TOOLS_DIR, "kafka-%s.sh" % tool)
    r = subprocess.run([path] + [str(a) for a in args], input=input, capture_output=True,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("kafka-%s.sh %s failed (%d):\nstdout:\n%s\nstderr:\n%s" % (
            tool, " ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
    return r


def kafka(tool, *args, input=None, timeout=180):
    """Apache Kafka's own kafka-<tool> (never checked: callers compare rc)."""
    return harness.kafka_tool("kafka-" + tool, list(args), input=input, timeout=timeout,
                              check=False)


_JVM_NOISE = re.compile(r"^(SLF4J|WARNING: |\[\d{4}-|\s+at |The consumer rebalance protocol)")


def clean_stderr(s):
    """Kafka's stderr minus JVM/log4j noise."""
    return "\n".join(l for l in s.splitlines() if l.strip() and not _JVM_NOISE.match(l))


def sorted_lines(s):
    return sorted(l for l in s.splitlines() if l.strip())


def table(s):
    """Rows of a whitespace-aligned table as lists of cells, header first,
    data rows sorted (Kafka prints some tables in hash order)."""
    rows = [l.split() for l in s.splitlines() if l.strip()]
    if not rows:
        return []
    return [rows[0]] + sorted(rows[1:])
