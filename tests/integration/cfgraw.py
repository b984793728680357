"""Raw DescribeConfigs / AlterConfigs / IncrementalAlterConfigs (non-flexible
versions) for config tests that must see the broker's own answer: error
code, error message and every field of each config entry, which client
libraries reshape or hide (librdkafka cannot even name the cluster-default
broker resource "")."""
import struct

from harness import kafka_request, karray, kstr

BROKER, TOPIC, GROUP, CLIENT_METRICS = 4, 2, 32, 16
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def _nstr(s):
    return struct.pack(">h", -1) if s is None else kstr(s)


class _R:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, fmt):
        v = struct.unpack_from(">" + fmt, self.b, self.o)
        self.o += struct.calcsize(">" + fmt)
        return v[0] if len(v) == 1 else v

    def s(self):
        n = self.take("h")
        if n < 0:
            return None
        v = self.b[self.o:self.o + n].decode()
        self.o += n
        return v


def incremental_alter(bootstrap, rtype, name, ops, validate_only=False):
    """ops: [(key, op, value)]. Returns (error_code, error_message)."""
    body = karray([struct.pack(">b", rtype) + kstr(name) + karray(
        [kstr(k) + struct.pack(">b", op) + _nstr(v) for k, op, v in ops])]) + \
        struct.pack(">?", validate_only)
    r = _R(kafka_request(bootstrap, 44, 0, body))
    r.take("i")
    assert r.take("i") == 1
    return r.take("h"), r.s()


def alter(bootstrap, rtype, name, kvs, validate_only=False):
    """Legacy AlterConfigs v0; kvs: [(key, value)]. (error_code, message)."""
    body = karray([struct.pack(">b", rtype) + kstr(name) + karray(
        [kstr(k) + _nstr(v) for k, v in kvs])]) + struct.pack(">?", validate_only)
    r = _R(kafka_request(bootstrap, 33, 0, body))
    r.take("i")
    assert r.take("i") == 1
    return r.take("h"), r.s()


def describe(bootstrap, rtype, name, keys=None, synonyms=True, documentation=True):
    """DescribeConfigs v3 of one resource: (error_code, error_message,
    {name: entry dict}) with value, read_only, source, sensitive, synonyms
    [(name, value, source)], config_type, documentation."""
    body = karray([struct.pack(">b", rtype) + kstr(name) + (
        struct.pack(">i", -1) if keys is None else karray([kstr(k) for k in keys]))]) + \
        struct.pack(">??", synonyms, documentation)
    r = _R(kafka_request(bootstrap, 32, 3, body))
    r.take("i")
    assert r.take("i") == 1
    err, msg = r.take("h"), r.s()
    r.take("b")
    r.s()
    out = {}
    for _ in range(max(r.take("i"), 0)):
        e = {"name": r.s(), "value": r.s(), "read_only": r.take("?"),
             "source": r.take("b"), "sensitive": r.take("?")}
        e["synonyms"] = [(r.s(), r.s(), r.take("b")) for _ in range(max(r.take("i"), 0))]
        e["config_type"] = r.take("b")
        e["documentation"] = r.s()
        out[e["name"]] = e
    return err, msg, out
