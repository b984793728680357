"""pytest fixtures for the integration tests (see harness.py for helpers).

Target: Sluice (`build/sluice server`) by default, Apache Kafka 4.3.1 (via
scripts/kafka.sh) when SLUICE_TARGET=kafka.

Fixtures
  broker          a fresh broker per test (function scope)
  module_broker   one broker shared by a module's tests (no restarts there!)
  shared_broker   one broker for the whole session, config SHARED_CONFIG
                  (modules that need nothing special share it; no restarts)
  broker_factory  make(config=None, start=True) -> Broker, for tests that
                  need several brokers or to pick config at run time
Broker config: Kafka's keys, on both targets, from
  @pytest.mark.broker_config({"log.segment.bytes": "1048576"}) on a test,
  class or module (pytestmark) - module_broker reads the module's marker -
  or, for `broker`, an indirect parametrize value (a dict).
On a failing test the tail of every running broker's output is appended to
the report.
"""

import os
import subprocess

import pytest

import harness


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "broker_config(dict): Kafka config overrides for the broker fixtures")


def pytest_report_header(config):
    t = harness.TARGET
    what = harness.SLUICE_BIN if t == "sluice" else "Apache Kafka 4.3.1 (scripts/kafka.sh)"
    return ["broker target: %s -> %s" % (t, what)]


def pytest_sessionstart(session):
    if harness.TARGET == "kafka":
        r = subprocess.run([harness.KAFKA_SH, "install"], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.exit("scripts/kafka.sh install failed:\n%s%s" % (r.stdout, r.stderr),
                        returncode=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in harness.active_brokers():
            rep.sections.append(("broker %s (%s)" % (b.bootstrap, b.target), b.log_tail()))


def _marker_config(node):
    m = node.get_closest_marker("broker_config")
    if m is None:
        return {}
    if m.args:
        return dict(m.args[0])
    return dict(m.kwargs)


def _start(tmp_path_factory, name, config):
    d = harness.new_workdir(str(tmp_path_factory.getbasetemp()), name)
    b = harness.Broker(d, config)
    try:
        b.start()
    except Exception:
        b.cleanup()
        raise
    return b


@pytest.fixture
def broker(request, tmp_path_factory):
    config = _marker_config(request.node)
    if getattr(request, "param", None):
        config.update(request.param)
    b = _start(tmp_path_factory, request.node.name[:40].replace("/", "_"), config)
    yield b
    b.cleanup()
    b.check_sanitizers()


@pytest.fixture(scope="module")
def module_broker(request, tmp_path_factory):
    config = _marker_config(request.node)
    b = _start(tmp_path_factory, os.path.basename(str(request.node.fspath))[:-3], config)
    yield b
    b.cleanup()
    b.check_sanitizers()


# The session-wide broker: auto-created topics get 2 partitions, retention
# runs every 500 ms (Kafka's first retention pass comes 30 s after start, so
# tests that need it are best served by a broker started early), and one
# static override (log.segment.bytes) for describe-configs source checks.
SHARED_CONFIG = {"num.partitions": "2", "log.retention.check.interval.ms": "500",
                 "log.segment.bytes": "536870912"}


@pytest.fixture(scope="session")
def shared_broker(tmp_path_factory):
    b = _start(tmp_path_factory, "shared", SHARED_CONFIG)
    yield b
    b.cleanup()
    b.check_sanitizers()


@pytest.fixture
def broker_factory(request, tmp_path_factory):
    made = []

    def make(config=None, start=True, name="b", env=None):
        d = harness.new_workdir(str(tmp_path_factory.getbasetemp()), name)
        b = harness.Broker(d, config, env=env)
        made.append(b)
        if start:
            b.start()
        return b

    yield make
    for b in made:
        b.cleanup()
    for b in made:
        b.check_sanitizers()
