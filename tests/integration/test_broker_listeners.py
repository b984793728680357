"""Issue 3: several named listeners; Metadata answers with the advertised
address of the listener the client came in through."""

import harness


def test_two_listeners_advertise_different_addresses(broker_factory):
    b = broker_factory(start=False, name="listeners")
    internal, external = b.port, harness.free_port()
    b.start({
        "listeners": "INTERNAL://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d" % (internal, external),
        "advertised.listeners": "INTERNAL://127.0.0.1:%d,EXTERNAL://localhost:%d" % (
            internal, external),
        "listener.security.protocol.map": "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
        "inter.broker.listener.name": "INTERNAL",
    })
    via_internal = "127.0.0.1:%d" % internal
    via_external = "127.0.0.1:%d" % external

    def brokers_seen_through(bootstrap):
        md = harness.admin(bootstrap).list_topics(timeout=20)
        return {(bid, bm.host, bm.port) for bid, bm in md.brokers.items()}

    assert brokers_seen_through(via_internal) == {(1, "127.0.0.1", internal)}
    assert brokers_seen_through(via_external) == {(1, "localhost", external)}

    # kcat's view of the same thing.
    out = harness.kcat("-b", via_external, "-L").stdout
    assert "broker 1 at localhost:%d" % external in out
    out = harness.kcat("-b", via_internal, "-L").stdout
    assert "broker 1 at 127.0.0.1:%d" % internal in out

    # Both listeners serve clients: produce through one, read through the other.
    t = harness.create_topic(via_internal, harness.unique_topic("two"))
    harness.produce(via_external, t, [b"in through EXTERNAL"], partition=0)
    assert [m.value() for m in harness.consume(via_internal, t, 1)] == [b"in through EXTERNAL"]
    assert [r.value for r in harness.kp_consume(via_external, t, 1)] == [b"in through EXTERNAL"]
