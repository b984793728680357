#!/usr/bin/env python3
"""Generates src/broker/config.def and docs/configuration.md from Apache
Kafka's own configuration definitions (kafka-4.3.1-configs.jsonl, written by
dump.sh from the Kafka jars).

  tools/kafka-configdef/gen_config_def.py            rewrite both files
  tools/kafka-configdef/gen_config_def.py --check    exit 1 if they are stale

Kept from the current config.def: each key's enum id (code refers to them).
Sluice's own deviations (defaults that differ on purpose, notes) live in
DEVIATIONS below, not in the generated files.

"Implemented" is decided from the code, not by hand: a key is implemented
when some source file other than the config table and its describe/alter
code reads it (its enum id or its quoted name appears in src/), or it is
listed in IMPLEMENTED_ELSEWHERE. Every other key is accepted, validated,
stored and described like Kafka's, and flagged CFG_F_NOIMPL so the broker
says at start-up that it has no effect yet.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DUMP = os.path.join(HERE, "kafka-4.3.1-configs.jsonl")
DEF = os.path.join(ROOT, "src", "broker", "config.def")
DOC = os.path.join(ROOT, "docs", "configuration.md")

# Defaults Sluice changes on purpose (a bare `sluice server` must start as
# a single node) and notes on keys whose behaviour differs. The key stays
# Kafka's in every other respect.
DEVIATIONS = {
    ("broker", "node.id"): ("1", "defaults to 1 so a bare start works (Kafka: required)."),
    ("broker", "process.roles"): ("broker,controller", "defaults to broker,controller (Kafka: required); sluice runs only with the broker role."),
    ("broker", "listeners"): ("PLAINTEXT://127.0.0.1:9092", "defaults to PLAINTEXT://127.0.0.1:9092 (Kafka: PLAINTEXT://:9092)."),
    ("broker", "controller.listener.names"): ("CONTROLLER", "defaults to CONTROLLER (Kafka: required); without such a listener the controller runs in-process only."),
    ("broker", "log.dir"): ("./sluice-data", "defaults to ./sluice-data (Kafka: /tmp/kafka-logs)."),
    ("broker", "socket.receive.buffer.bytes"): ("-1", "defaults to -1 (the OS default; Kafka: 102400): a fixed 100 KB receive window made 1 KB produce cost the broker 0.75 s of CPU per GB instead of 0.45 s and run 25% slower (bench/PROFILE.md); Kafka itself runs ~5% faster with -1 on the same load. Setting 102400 gives Kafka's behaviour."),
    ("broker", "group.consumer.migration.policy"): (None, "online conversion between classic and consumer groups is not implemented; groups behave as with disabled."),
}

# Keys Kafka's broker reads outside any ConfigDef: the configs of the
# built-in StandardAuthorizer (org.apache.kafka.metadata.authorizer), taken
# from the broker's properties when authorizer.class.name names it. Kafka
# neither describes nor validates them (Boolean.parseBoolean, split(";")),
# so Sluice only knows them (no unknown-key warning).
PLUGIN_KEYS = [
    dict(scope="plugin", name="super.users", type="STRING", default=None, hasDefault=True,
         doc="StandardAuthorizer: semicolon-separated list of principals (User:name) that are "
             "allowed every operation."),
    dict(scope="plugin", name="allow.everyone.if.no.acl.found", type="STRING", default=None,
         hasDefault=True,
         doc="StandardAuthorizer: when true, a resource with no matching ACL is accessible to "
             "everyone (Boolean.parseBoolean of the value; default false)."),
]

# Keys read by code the grep below cannot see (looked up by string through
# a helper, or applied by the table code itself).
IMPLEMENTED_ELSEWHERE = {
    ("broker", "broker.id"),                    # brk_config_finish: node.id alias
    ("broker", "replica.alter.log.dirs.io.max.bytes.per.second"),  # recorded only
    ("broker", "process.roles"),                # brk_config_finish: broker role required
    ("broker", "group.consumer.min.session.timeout.ms"),  # configs.c: group config bounds
    ("broker", "group.consumer.max.session.timeout.ms"),
    ("broker", "group.consumer.min.heartbeat.interval.ms"),
    ("broker", "group.consumer.max.heartbeat.interval.ms"),
    ("group", "consumer.session.timeout.ms"),   # group/handlers.c reads them by name
    ("group", "consumer.heartbeat.interval.ms"),
    ("topic", "unclean.leader.election.enable"),  # controller/cluster_ctl.c by name
    ("topic", "leader.replication.throttled.replicas"),  # replica/quota.c by name
    ("topic", "follower.replication.throttled.replicas"),
}

# Files whose mention of a key does not make it implemented (the table, its
# parser, the describe/alter handlers, the admin tool).
NOT_USES = {"src/broker/config.def", "src/broker/config.c", "src/broker/config.h",
            "src/broker/configs.c", "src/tools/tool_configs.c"}

SCOPES = [  # dump scope, id prefix, flags, section title
    ("broker", "BRK_CFG_", [], "broker configs (KafkaConfig / AbstractKafkaConfig.CONFIG_DEF)"),
    ("broker-quota", "BRK_CFG_", ["CFG_F_QUOTA"], "broker quota configs (DynamicConfig.Broker; alterable per broker, never described)"),
    ("topic", "BRK_TCFG_", ["CFG_F_TOPIC"], "topic configs (LogConfig; synonyms: broker keys, with unit multipliers)"),
    ("group", "BRK_GCFG_", ["CFG_F_GROUP"], "group configs (GroupConfig; synonym: the broker key)"),
    ("client-metrics", "BRK_MCFG_", ["CFG_F_CLIENT_METRICS"], "client-metrics configs (ClientMetricsConfigs)"),
    ("plugin", "BRK_PCFG_", ["CFG_F_PLUGIN"], "broker plugin configs outside KafkaConfig (StandardAuthorizer; never described)"),
]

TYPES = {"BOOLEAN": "CFG_BOOL", "INT": "CFG_INT", "SHORT": "CFG_SHORT", "LONG": "CFG_LONG",
         "DOUBLE": "CFG_DOUBLE", "STRING": "CFG_STRING", "LIST": "CFG_LIST",
         "PASSWORD": "CFG_PASSWORD", "CLASS": "CFG_CLASS"}


def cstr(s):
    if s is None:
        return "NULL"
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append("\\%03o" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def old_ids():
    """(scope, name) -> enum id, from the current config.def."""
    ids = {}
    if not os.path.exists(DEF):
        return ids
    text = open(DEF, encoding="utf-8").read()
    for m in re.finditer(r'^CFG\((\w+), "([^"]+)",', text, re.M):
        ident, name = m.group(1), m.group(2)
        scope = ("topic" if ident.startswith("BRK_TCFG_") else
                 "group" if ident.startswith("BRK_GCFG_") else
                 "client-metrics" if ident.startswith("BRK_MCFG_") else "broker")
        ids[(scope, name)] = ident
    return ids


def make_id(prefix, name):
    return prefix + re.sub(r"[^A-Z0-9]", "_", name.upper())


def src_text():
    chunks = []
    for d, _, files in os.walk(os.path.join(ROOT, "src")):
        for f in files:
            p = os.path.join(d, f)
            rel = os.path.relpath(p, ROOT)
            if rel in NOT_USES or not f.endswith((".c", ".h", ".def")):
                continue
            chunks.append(open(p, encoding="utf-8", errors="replace").read())
    return "\n".join(chunks)


def validator(d):
    """(valid "a|b", extra flags) for string/list validators."""
    cls = (d.get("validatorClass") or "").rsplit("$", 1)[-1]
    v = d.get("validator")
    flags = []
    valid = None
    if cls in ("ValidString", "ValidList", "CaseInsensitiveValidString") and v and v.startswith("["):
        items = [x.strip() for x in v[1:-1].split(",") if x.strip()]
        if items:
            valid = "|".join(items)
        if cls == "CaseInsensitiveValidString":
            flags.append("CFG_F_ICASE")
    if cls == "NonEmptyString":
        flags.append("CFG_F_NONEMPTY")
    return valid, flags


def load():
    rows = [json.loads(l) for l in open(DUMP, encoding="utf-8")]
    syn = {r["name"]: r["synonym"] for r in rows if r["scope"] == "topic-synonyms"}
    return [r for r in rows if r["scope"] != "topic-synonyms"] + PLUGIN_KEYS, syn


def build():
    rows, topic_syn = load()
    ids = old_ids()
    code = src_text()
    entries = []
    used_ids = set()
    for scope, prefix, sflags, title in SCOPES:
        sec = sorted((r for r in rows if r["scope"] == scope), key=lambda r: r["name"])
        for r in sec:
            key = ("broker" if scope in ("broker-quota", "plugin") else scope, r["name"])
            ident = ids.get(key) or make_id(prefix, r["name"])
            assert ident not in used_ids, ident
            used_ids.add(ident)
            flags = list(sflags)
            dev = DEVIATIONS.get(key)
            default = r["default"]
            if dev and dev[0] is not None:
                default = dev[0]
            if default is None:
                flags.append("CFG_F_NULLDEF")
            if not r["hasDefault"]:  # described without a DEFAULT synonym
                flags.append("CFG_F_REQUIRED")
            if r.get("dynamic") and scope == "broker":
                flags.append("CFG_F_DYNAMIC")
                if r["dynamic"] == "per-broker":
                    flags.append("CFG_F_PER_BROKER")
            if scope == "broker-quota":
                flags += ["CFG_F_DYNAMIC", "CFG_F_PER_BROKER"]
            if r.get("internal"):
                flags.append("CFG_F_INTERNAL")
            valid, vflags = validator(r)
            flags += vflags
            implemented = (key in IMPLEMENTED_ELSEWHERE or
                           re.search(r"\b%s\b" % re.escape(ident), code) is not None)
            if not implemented:
                flags.append("CFG_F_NOIMPL")
            if scope == "topic":
                synonyms = topic_syn.get(r["name"])
            elif scope == "group" and r.get("synonym"):
                synonyms = r["synonym"] + ":1"
            else:
                synonyms = None
            entries.append(dict(scope=scope, id=ident, name=r["name"], type=TYPES[r["type"]],
                                kafka_type=r["type"], default=default,
                                kafka_default=r["default"], has_default=r["hasDefault"],
                                min=r.get("min"), max=r.get("max"), valid=valid,
                                validator=r.get("validator"), flags=flags, synonyms=synonyms,
                                doc=r.get("doc") or "", importance=r.get("importance"),
                                dynamic=r.get("dynamic"), implemented=implemented,
                                note=dev[1] if dev else None, title=title))
    impl_syn = set()
    for e in entries:
        if e["scope"] in ("topic", "group") and e["implemented"] and e["synonyms"]:
            impl_syn.update(x.split(":")[0] for x in e["synonyms"].split(","))
    for e in entries:
        if e["scope"] == "broker" and not e["implemented"] and e["name"] in impl_syn:
            e["implemented"] = True
            e["flags"].remove("CFG_F_NOIMPL")
    missing = set(ids) - {(("broker" if e["scope"] in ("broker-quota", "plugin") else e["scope"]), e["name"])
                          for e in entries}
    if missing:
        sys.exit("gen_config_def: keys in config.def that Kafka 4.3.1 does not define: %s"
                 % sorted(missing))
    return entries


HEADER = """\
/*
 * config.def - THE configuration table (see config.h). GENERATED by
 * tools/kafka-configdef/gen_config_def.py from Apache Kafka 4.3.1's own
 * ConfigDefs (tools/kafka-configdef/dump.sh); edit the generator, not this
 * file. One line per key:
 *   CFG(id, name, type, default, min, max, valid, flags, synonyms, doc)
 * Every broker, topic, group and client-metrics key of Kafka 4.3.1 with its
 * type, default, range (min/max as Kafka prints them, NULL: unbounded),
 * allowed values ("a|b"), dynamic scope (CFG_F_DYNAMIC, CFG_F_PER_BROKER)
 * and Kafka's documentation. Defaults that differ on purpose are listed in
 * the generator's DEVIATIONS (and docs/configuration.md). CFG_F_NOIMPL:
 * accepted, validated, stored and described, but Sluice does not act on the
 * value yet (the broker logs that at start-up when such a key is set).
 * For topic configs `synonyms` lists the broker keys that supply the value
 * when the topic has no override, in Kafka's order, each with a multiplier
 * to the topic key's unit; for group configs, the broker key.
 */
"""


def render_def(entries):
    out = [HEADER]
    title = None
    for e in entries:
        if e["title"] != title:
            title = e["title"]
            out.append("\n/* ---- %s ---- */\n" % title)
        if e["note"]:
            out.append("/* sluice: %s */\n" % e["note"])
        flags = " | ".join(e["flags"]) if e["flags"] else "0"
        out.append("CFG(%s, %s, %s, %s, %s, %s, %s, %s, %s,\n    %s)\n" % (
            e["id"], cstr(e["name"]), e["type"], cstr(e["default"]), cstr(e["min"]),
            cstr(e["max"]), cstr(e["valid"]), flags, cstr(e["synonyms"]), cstr(e["doc"])))
    return "".join(out)


def md(s):
    return (s or "").replace("|", "\\|").replace("\n", " ")


def render_doc(entries):
    n = len(entries)
    ni = sum(1 for e in entries if not e["implemented"])
    out = ["# Configuration keys\n\n",
           "Generated by `tools/kafka-configdef/gen_config_def.py` from Apache Kafka 4.3.1's own\n",
           "configuration definitions; do not edit. Sluice accepts every key Kafka 4.3.1 accepts,\n",
           "with Kafka's types, defaults, validation and dynamic scope (`sluice server`, AlterConfigs,\n",
           "IncrementalAlterConfigs, DescribeConfigs, `kafka-configs`). Keys marked **no** in the\n",
           "*implemented* column are accepted, validated, stored and described but have no effect on\n",
           "Sluice's behaviour yet; when one is set in the server configuration the broker logs\n",
           "`'<key>' is accepted but has no effect yet (not implemented by sluice; ...)` at start-up.\n",
           "A key that is not Kafka's is warned about and ignored; an invalid value of a known key\n",
           "stops the start with an error naming the key.\n\n",
           "%d keys, %d implemented, %d not implemented yet.\n\n" % (n, n - ni, ni),
           "Dynamic: *cluster-wide* keys can be altered for one broker or as the cluster default,\n",
           "*per-broker* keys only for one broker, *read-only* keys only in the server configuration.\n\n"]
    out.append("## Sluice's deviations\n\n| key | note |\n|---|---|\n")
    for e in entries:
        if e["note"]:
            out.append("| `%s` | %s |\n" % (e["name"], md(e["note"])))
    title = None
    for e in entries:
        if e["title"] != title:
            title = e["title"]
            out.append("\n## %s\n\n" % (title[0].upper() + title[1:]))
            out.append("| key | type | default | valid values | dynamic | implemented |\n"
                       "|---|---|---|---|---|---|\n")
        dyn = ("per-broker" if "CFG_F_PER_BROKER" in e["flags"] else
               "cluster-wide" if "CFG_F_DYNAMIC" in e["flags"] else
               "read-only" if e["scope"] == "broker" else
               "as an unknown key" if e["scope"] == "plugin" else "yes")
        default = e["kafka_default"] if e["has_default"] else "(required)"
        if e["note"] and e["default"] != e["kafka_default"] and e["default"] is not None:
            default = "%s (sluice: %s)" % (default, e["default"])
        valid = e["validator"] or ""
        out.append("| `%s` | %s | %s | %s | %s | %s |\n" % (
            e["name"], e["kafka_type"].lower(), md("null" if default is None else default),
            md(valid), dyn, "yes" if e["implemented"] else "no"))
    return "".join(out)


def main():
    entries = build()
    want = {DEF: render_def(entries), DOC: render_doc(entries)}
    if "--check" in sys.argv:
        stale = [p for p, t in want.items()
                 if not os.path.exists(p) or open(p, encoding="utf-8").read() != t]
        if stale:
            print("stale: %s (run %s)" % (", ".join(stale), sys.argv[0]))
            sys.exit(1)
        return
    for p, t in want.items():
        with open(p, "w", encoding="utf-8") as f:
            f.write(t)
    print("%d keys (%d not implemented) -> %s, %s" % (
        len(entries), sum(1 for e in entries if not e["implemented"]),
        os.path.relpath(DEF, ROOT), os.path.relpath(DOC, ROOT)))


if __name__ == "__main__":
    main()
