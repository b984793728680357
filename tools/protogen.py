#!/usr/bin/env python3
"""protogen.py - generate Sluice's Kafka protocol codecs from Apache Kafka's
JSON message definitions.

    python3 tools/protogen.py --spec ../shared/kafka-spec --out src/proto/gen
    python3 tools/protogen.py --jars build/kafka/libs --out src/proto/gen
      (the second reads the definitions a released Kafka ships in its jars)

Reads <spec>/{message,metadata,group-coordinator,transaction-coordinator,
storage,raft}/*.json (JSON with // comments) and writes:

  messages.h  one C struct per message and nested struct, the per-message
              functions proto_<msg>_init/_decode/_encode, proto_api_key enum,
              descriptor externs.
  messages.c  descriptor tables (offsets, version ranges, defaults, tags) read
              by the generic engine in src/proto/codec.c, the thin
              per-message functions, and the API / record tables.

Naming: message "ProduceRequest" -> proto_produce_request; nested struct
"TopicProduceData" -> proto_produce_request_topic_produce_data; field
"TransactionalId" -> transactional_id. Arrays are
`struct { int32_t n; T *v; } name;` (n == -1: null). A struct field that is
nullable in any version is a pointer (NULL: null). Unknown tagged fields of
every struct live in `proto_tagged_fields unknown_tags`.

Python 3 standard library only; output is deterministic.
"""
import argparse
import glob
import json
import os
import re
import sys

DIRS = ["message", "metadata", "group-coordinator", "transaction-coordinator",
        "share-coordinator", "storage", "raft"]
VMAX = 0x7FFF
PRIMS = {
    "bool": ("PROTO_T_BOOL", "bool"),
    "int8": ("PROTO_T_INT8", "int8_t"),
    "int16": ("PROTO_T_INT16", "int16_t"),
    "uint16": ("PROTO_T_UINT16", "uint16_t"),
    "int32": ("PROTO_T_INT32", "int32_t"),
    "uint32": ("PROTO_T_UINT32", "uint32_t"),
    "int64": ("PROTO_T_INT64", "int64_t"),
    "float64": ("PROTO_T_FLOAT64", "double"),
    "string": ("PROTO_T_STRING", "proto_str"),
    "bytes": ("PROTO_T_BYTES", "proto_bytes"),
    "records": ("PROTO_T_RECORDS", "proto_bytes"),
    "uuid": ("PROTO_T_UUID", "proto_uuid"),
}
C_KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do",
    "double", "else", "enum", "extern", "float", "for", "goto", "if", "inline",
    "int", "long", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned",
    "void", "volatile", "while", "bool", "true", "false",
}
LISTENERS = {"zkBroker": "PROTO_LISTENER_ZK_BROKER",
             "broker": "PROTO_LISTENER_BROKER",
             "controller": "PROTO_LISTENER_CONTROLLER"}


def die(msg):
    sys.exit("protogen: " + msg)


def strip_comments(text):
    """Remove // comments outside string literals."""
    out = []
    for line in text.split("\n"):
        ins = False
        esc = False
        cut = len(line)
        for i, c in enumerate(line):
            if ins:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    ins = False
            elif c == '"':
                ins = True
            elif c == "/" and line[i + 1:i + 2] == "/":
                cut = i
                break
        out.append(line[:cut])
    return "\n".join(out)


def parse(path, text):
    try:
        return json.loads(strip_comments(text))
    except json.JSONDecodeError as e:
        die("%s: %s" % (path, e))


def load(path):
    with open(path, encoding="utf-8") as f:
        return parse(path, f.read())


# Where each spec folder lives inside Apache Kafka's jars (Maven Central):
# --jars reads the definitions a released Kafka was built from.
JAR_DIRS = [
    ("kafka-clients-", "common/message/", "message"),
    ("kafka-metadata-", "common/metadata/", "metadata"),
    ("kafka-group-coordinator-", "common/message/", "group-coordinator"),
    ("kafka-transaction-coordinator-", "common/message/", "transaction-coordinator"),
    ("kafka-share-coordinator-", "common/message/", "share-coordinator"),
    ("kafka-storage-", "message/", "storage"),
    ("kafka-raft-", "common/message/", "raft"),
]


def load_jars(libdir):
    """(folder, path, dict) for every definition inside the jars of libdir."""
    import zipfile
    out = []
    jars = sorted(os.listdir(libdir))
    for prefix, inner, folder in JAR_DIRS:
        cands = [j for j in jars if j.startswith(prefix) and j.endswith(".jar")
                 and j[len(prefix):len(prefix) + 1].isdigit()
                 and "-test" not in j and "-sources" not in j]
        if not cands:
            die("no %s*.jar in %s" % (prefix, libdir))
        jar = os.path.join(libdir, cands[0])
        with zipfile.ZipFile(jar) as z:
            for name in sorted(z.namelist()):
                if name.startswith(inner) and name.endswith(".json") and "/" not in name[len(inner):]:
                    path = "%s!/%s" % (cands[0], name)
                    out.append((folder, path, parse(path, z.read(name).decode("utf-8"))))
    return out


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def vrange(spec, what):
    """'0+', '1-3', '5', 'none' -> (lo, hi); empty is (1, 0)."""
    if spec is None or spec == "none" or spec == "":
        return (1, 0)
    spec = str(spec).strip()
    m = re.fullmatch(r"(\d+)\+", spec)
    if m:
        return (int(m.group(1)), VMAX)
    m = re.fullmatch(r"(\d+)-(\d+)", spec)
    if m:
        return (int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"(\d+)", spec)
    if m:
        return (int(m.group(1)), int(m.group(1)))
    die("bad version range %r in %s" % (spec, what))


def vr_c(r):
    return "{%d, %s}" % (r[0], "PROTO_VMAX" if r[1] == VMAX else str(r[1]))


def cstr(s):
    if s is None:
        return "NULL"
    out = '"'
    for ch in s:
        if ch in '"\\':
            out += "\\" + ch
        elif 32 <= ord(ch) < 127:
            out += ch
        else:
            for byte in ch.encode("utf-8"):
                out += "\\%03o" % byte
    return out + '"'


def parse_int(v, what):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    s = str(v).strip()
    try:
        neg = s.startswith("-")
        body = s[1:] if neg else s
        if body.lower().startswith("0x"):
            n = int(body, 16)
        elif len(body) > 1 and body.startswith("0"):
            n = int(body, 8)
        else:
            n = int(body, 10)
        return -n if neg else n
    except ValueError:
        die("bad integer default %r in %s" % (v, what))


class Struct:
    def __init__(self, msg, jname, fields, where):
        self.msg = msg
        self.jname = jname
        self.cname = None
        self.fields = []  # list of Field
        self.raw_fields = fields
        self.where = where


class Field:
    pass


INT_RANGES = {"int8": (-128, 127), "int16": (-32768, 32767),
              "uint16": (0, 65535), "int32": (-2**31, 2**31 - 1),
              "uint32": (0, 2**32 - 1), "int64": (-2**63, 2**63 - 1)}


class Message:
    def __init__(self, path, d, folder):
        self.path = path
        self.folder = folder
        self.jname = d["name"]
        self.kind = d["type"]
        self.api_key = d.get("apiKey", -1)
        self.valid = vrange(d.get("validVersions"), path)
        self.flex = vrange(d.get("flexibleVersions"), path)
        self.unstable = bool(d.get("latestVersionUnstable", False))
        self.listeners = d.get("listeners", [])
        self.deprecated = vrange(d.get("deprecatedVersions"), path)
        self.cname = "proto_" + snake(self.jname)
        self.structs = []  # post-order: children first
        self.by_name = {}
        self.common = {cs["name"]: cs for cs in d.get("commonStructs", [])}
        self.root = self.build_struct(None, d.get("fields", []), self.cname)
        self.root.cname = self.cname

    def struct_for(self, jname, fields, where):
        """Return the Struct for a nested type, defining it once."""
        if fields is None:
            if jname not in self.common:
                die("%s: unknown struct type %s" % (self.path, jname))
            if jname in self.by_name:
                return self.by_name[jname]
            fields = self.common[jname]["fields"]
        elif jname in self.by_name:
            prev = self.by_name[jname]
            if json.dumps(prev.raw_fields, sort_keys=True) != json.dumps(fields, sort_keys=True):
                die("%s: struct %s defined twice differently" % (self.path, jname))
            return prev
        cname = "%s_%s" % (self.cname, snake(jname))
        s = self.build_struct(jname, fields, cname)
        return s

    def build_struct(self, jname, fields, cname):
        s = Struct(self, jname, fields, self.path)
        s.cname = cname
        if jname is not None:
            self.by_name[jname] = s  # before children: allows detection above
        names = set()
        for fd in fields:
            f = Field()
            f.jname = fd["name"]
            f.cname = snake(f.jname)
            if f.cname in C_KEYWORDS or f.cname == "unknown_tags":
                f.cname += "_"
            if f.cname in names:
                die("%s: duplicate field %s" % (self.path, f.jname))
            names.add(f.cname)
            t = fd["type"]
            f.array = t.startswith("[]")
            base = t[2:] if f.array else t
            what = "%s %s" % (self.path, f.jname)
            f.tagged = vrange(fd.get("taggedVersions"), what)
            f.tag = parse_int(fd.get("tag", -1), "tag")
            if (f.tag == -1) != (f.tagged[0] > f.tagged[1]):
                die("%s: tag without taggedVersions or the reverse" % what)
            vs = fd.get("versions")
            if vs is None:
                if f.tag == -1:
                    die("%s: no versions" % what)
                vs = fd.get("taggedVersions")
            f.versions = vrange(vs, what)
            if f.tag != -1 and f.tagged != f.versions:
                # Kafka requires tagged fields to be tagged wherever present.
                if not (f.tagged[0] <= f.versions[0] and f.tagged[1] >= f.versions[1]):
                    die("%s: taggedVersions must cover versions" % what)
            f.nullable = vrange(fd.get("nullableVersions"), what)
            f.ignorable = bool(fd.get("ignorable", False))
            f.map_key = bool(fd.get("mapKey", False))
            f.entity = fd.get("entityType")
            fl = fd.get("flexibleVersions")
            f.flex_none = fl is not None and vrange(fl, what)[0] > vrange(fl, what)[1]
            if fl is not None and not f.flex_none:
                die("%s: field-level flexibleVersions other than none unsupported" % what)
            f.sub = None
            if base in PRIMS:
                f.ptype, f.ctype = PRIMS[base]
                if "fields" in fd:
                    die("%s: primitive with fields" % what)
            else:
                f.ptype = "PROTO_T_STRUCT"
                f.sub = self.struct_for(base, fd.get("fields"), what)
                f.ctype = f.sub.cname
            has_nullable = f.nullable[0] <= f.nullable[1]
            f.ptr = (not f.array) and f.ptype == "PROTO_T_STRUCT" and has_nullable
            if has_nullable and not f.array and base not in (
                    "string", "bytes", "records", "uuid") and f.ptype != "PROTO_T_STRUCT":
                die("%s: nullable %s" % (what, base))
            # defaults
            dflt = fd.get("default", None) if "default" in fd else ""
            f.def_null = False
            f.def_int = 0
            f.def_f64 = 0.0
            f.def_str = None
            if "default" in fd:
                dv = fd["default"]
                if dv is None or dv == "null":
                    if not (f.array or base in ("string", "bytes", "records", "uuid")
                            or f.ptype == "PROTO_T_STRUCT"):
                        die("%s: null default on %s" % (what, base))
                    if base == "uuid" and not f.array:
                        pass  # zero uuid
                    else:
                        f.def_null = True
                elif f.array or f.ptype == "PROTO_T_STRUCT":
                    die("%s: default on array/struct" % what)
                elif base == "bool":
                    if str(dv).lower() not in ("true", "false"):
                        die("%s: bad bool default" % what)
                    f.def_int = 1 if str(dv).lower() == "true" else 0
                elif base in INT_RANGES:
                    f.def_int = parse_int(dv, what)
                    lo, hi = INT_RANGES[base]
                    if not lo <= f.def_int <= hi:
                        die("%s: default out of range" % what)
                elif base == "float64":
                    f.def_f64 = float(dv)
                elif base == "string":
                    f.def_str = str(dv)
                else:
                    die("%s: default unsupported for %s" % (what, base))
            else:
                if base == "records" and not f.array:
                    f.def_null = True  # Kafka: records default to null
            if f.ptr and not f.def_null:
                die("%s: nullable struct must default to null" % what)
            if f.def_null and not f.array and base in ("string", "bytes", "records"):
                # null default needs nullability in every version present
                pass
            del dflt
            s.fields.append(f)
        self.structs.append(s)
        return s


def load_all(spec, jars=None):
    if jars:
        found = load_jars(jars)
    else:
        found = [(folder, path, load(path)) for folder in DIRS
                 for path in sorted(glob.glob(os.path.join(spec, folder, "*.json")))]
    msgs = []
    for folder, path, d in found:
        if d.get("type") == "header":
            continue  # hand-written in src/proto/header.c
        msgs.append(Message(path, d, folder))
    if not msgs:
        die("no JSON found under %s" % (jars or spec))
    # global name uniqueness
    seen = {}
    for m in msgs:
        for s in m.structs:
            if s.cname in seen and seen[s.cname] is not s:
                die("C name collision: %s (%s and %s)" % (s.cname, m.path, seen[s.cname].where))
            seen[s.cname] = s
    return msgs


def field_decl(f):
    if f.array:
        return "struct {\n        int32_t n;\n        %s *v;\n    } %s;" % (f.ctype, f.cname)
    if f.ptr:
        return "%s *%s;" % (f.ctype, f.cname)
    return "%s %s;" % (f.ctype, f.cname)


def range_comment(f):
    def r(v):
        lo, hi = v
        if lo > hi:
            return "none"
        return "%d+" % lo if hi == VMAX else ("%d" % lo if lo == hi else "%d-%d" % (lo, hi))
    parts = ["v" + r(f.versions)]
    if f.nullable[0] <= f.nullable[1]:
        parts.append("nullable " + r(f.nullable))
    if f.tag != -1:
        parts.append("tag %d" % f.tag)
    if f.def_null:
        parts.append("default null")
    elif f.def_str is not None:
        parts.append("default %s" % json.dumps(f.def_str))
    elif f.def_int:
        parts.append("default %d" % f.def_int)
    if f.entity:
        parts.append(f.entity)
    return ", ".join(parts)


def gen_header(msgs):
    o = []
    w = o.append
    w("/*\n * messages.h - GENERATED by tools/protogen.py from Apache Kafka's JSON")
    w(" * message definitions. Do not edit; run `make proto`.")
    w(" *")
    w(" * One struct per message and nested struct, with")
    w(" *   void proto_<msg>_init(proto_<msg> *m);  (spec defaults)")
    w(" *   int  proto_<msg>_decode(rd *r, arena *a, int16_t version, proto_<msg> *out);")
    w(" *   void proto_<msg>_encode(buf *b, int16_t version, const proto_<msg> *in);")
    w(" * and proto_<msg>_<struct>_init for nested structs. See proto/proto.h for")
    w(" * the value types, ownership (zero-copy strings, arena arrays) and bounds.")
    w(" * Threading: reentrant.\n */")
    w("#ifndef SL_PROTO_GEN_MESSAGES_H\n#define SL_PROTO_GEN_MESSAGES_H\n")
    w('#include "proto/proto.h"\n')
    # api enum
    apis = sorted([m for m in msgs if m.kind == "request"], key=lambda m: m.api_key)
    w("enum proto_api_key {")
    for m in apis:
        nm = m.jname[:-len("Request")]
        w("    PROTO_API_%s = %d," % (snake(nm).upper(), m.api_key))
    w("};")
    w("#define PROTO_API_COUNT %d\n" % len(apis))
    meta = sorted([m for m in msgs if m.folder == "metadata"], key=lambda m: m.api_key)
    w("/* KRaft metadata record types (the apiKey of each metadata/ JSON file). */")
    w("enum proto_metadata_type {")
    for m in meta:
        w("    PROTO_MD_%s = %d," % (snake(m.jname).upper(), m.api_key))
    w("};\n")
    for m in msgs:
        w("/* ---- %s (%s/%s, versions %s) ---- */" % (
            m.jname, m.folder, os.path.basename(m.path), vr_text(m.valid)))
        for s in m.structs:
            w("typedef struct %s %s;" % (s.cname, s.cname))
        for s in m.structs:
            w("struct %s {" % s.cname)
            for f in s.fields:
                w("    %s /* %s */" % (field_decl(f), range_comment(f)))
            w("    proto_tagged_fields unknown_tags;")
            w("};")
        w("extern const proto_msg_desc %s_desc;" % m.cname)
        for s in m.structs:
            w("void %s_init(%s *m);" % (s.cname, s.cname))
        w("int %s_decode(rd *r, arena *a, int16_t version, %s *out);" % (m.cname, m.cname))
        w("void %s_encode(buf *b, int16_t version, const %s *in);\n" % (m.cname, m.cname))
    w("#endif")
    return "\n".join(o) + "\n"


def vr_text(v):
    lo, hi = v
    if lo > hi:
        return "none"
    return "%d+" % lo if hi == VMAX else ("%d" % lo if lo == hi else "%d-%d" % (lo, hi))


def gen_source(msgs):
    o = []
    w = o.append
    w("/* messages.c - GENERATED by tools/protogen.py; do not edit. Descriptor")
    w(" * tables for the engine in src/proto/codec.c and the API table. */")
    w('#include "proto/gen/messages.h"\n')
    w("#include <stddef.h>")
    w("#include <string.h>\n")
    for m in msgs:
        # forward declare descriptors
        for s in m.structs:
            w("static const proto_struct_desc %s_sd;" % s.cname)
        for s in m.structs:
            if s.fields:
                w("static const proto_field_desc %s_fields[] = {" % s.cname)
                for f in s.fields:
                    off = "offsetof(%s, %s%s)" % (s.cname, f.cname, ".n" if f.array else "")
                    offv = "offsetof(%s, %s.v)" % (s.cname, f.cname) if f.array else "0"
                    w("    {.name = %s, .type = %s, .array = %s, .ignorable = %s, "
                      ".map_key = %s, .def_null = %s, .flex_none = %s, .ptr = %s," % (
                          cstr(f.jname), f.ptype, b(f.array), b(f.ignorable), b(f.map_key),
                          b(f.def_null), b(f.flex_none), b(f.ptr)))
                    extra = ""
                    if f.def_f64:
                        extra += ", .def_f64 = %r" % f.def_f64
                    w("     .versions = %s, .nullable = %s, .tagged = %s, .tag = %d," % (
                        vr_c(f.versions), vr_c(f.nullable), vr_c(f.tagged), f.tag))
                    w("     .off = %s, .off_v = %s, .sub = %s, .def_int = %s, .def_str = %s, "
                      ".entity_type = %s%s}," % (
                          off, offv, "&%s_sd" % f.sub.cname if f.sub else "NULL",
                          int_lit(f.def_int), cstr(f.def_str), cstr(f.entity), extra))
                w("};")
            w("static const proto_struct_desc %s_sd = {%s, sizeof(%s), offsetof(%s, unknown_tags), "
              "%d, %s};" % (s.cname, cstr(s.jname or m.jname), s.cname, s.cname, len(s.fields),
                            "%s_fields" % s.cname if s.fields else "NULL"))
        kind = {"request": "PROTO_KIND_REQUEST", "response": "PROTO_KIND_RESPONSE",
                "data": "PROTO_KIND_DATA", "metadata": "PROTO_KIND_METADATA",
                "coordinator-key": "PROTO_KIND_DATA",
                "coordinator-value": "PROTO_KIND_DATA"}[m.kind]
        w("const proto_msg_desc %s_desc = {%s, %s, %s, %d, %s, %s, %s, &%s_sd};" % (
            m.cname, cstr(m.jname), cstr(m.folder), kind, m.api_key, vr_c(m.valid),
            vr_c(m.flex), b(m.unstable), m.cname))
        for s in m.structs:
            w("void %s_init(%s *m) { proto_struct_init(&%s_sd, m); }" % (s.cname, s.cname, s.cname))
        w("int %s_decode(rd *r, arena *a, int16_t version, %s *out) {" % (m.cname, m.cname))
        w("    return proto_msg_decode(&%s_desc, r, a, version, out);\n}" % m.cname)
        w("void %s_encode(buf *b, int16_t version, const %s *in) {" % (m.cname, m.cname))
        w("    proto_msg_encode(&%s_desc, b, version, in);\n}" % m.cname)
        # void* adapters
        w("static void %s_init_v(void *p) { %s_init(p); }" % (m.cname, m.cname))
        w("static int %s_decode_v(rd *r, arena *a, int16_t v, void *p) { "
          "return %s_decode(r, a, v, p); }" % (m.cname, m.cname))
        w("static void %s_encode_v(buf *b, int16_t v, const void *p) { %s_encode(b, v, p); }\n"
          % (m.cname, m.cname))
    # API table
    reqs = {m.api_key: m for m in msgs if m.kind == "request"}
    resps = {m.api_key: m for m in msgs if m.kind == "response"}
    keys = sorted(reqs)
    if keys != list(range(len(keys))):
        die("api keys are not dense 0..N-1")
    w("const proto_api_info proto_apis[] = {")
    for k in keys:
        rq, rs = reqs[k], resps.get(k)
        if rs is None:
            die("no response for api key %d" % k)
        if rq.valid != rs.valid:
            die("%s: request/response validVersions differ" % rq.jname)
        ff = rq.flex[0] if rq.flex[0] <= rq.flex[1] else -1
        dep = rq.deprecated[1] if rq.deprecated[0] <= rq.deprecated[1] else -1
        lst = " | ".join(LISTENERS[x] for x in rq.listeners) or "0"
        w("    {%d, %s, %d, %d, %d, %d, %s, %s, &%s_desc, &%s_desc, sizeof(%s), sizeof(%s),"
          % (k, cstr(rq.jname[:-len("Request")]), rq.valid[0], rq.valid[1], ff, dep,
             b(rq.unstable), lst, rq.cname, rs.cname, rq.cname, rs.cname))
        w("     %s_init_v, %s_decode_v, %s_encode_v, %s_init_v, %s_decode_v, %s_encode_v},"
          % (rq.cname, rq.cname, rq.cname, rs.cname, rs.cname, rs.cname))
    w("};")
    w("const int proto_api_count = %d;\n" % len(keys))
    recs = [m for m in msgs if m.kind not in ("request", "response")]
    w("const proto_record_info proto_records[] = {")
    for m in recs:
        w("    {&%s_desc, sizeof(%s), %s_init_v, %s_decode_v, %s_encode_v}," % (
            m.cname, m.cname, m.cname, m.cname, m.cname))
    w("};")
    w("const int proto_record_count = %d;" % len(recs))
    return "\n".join(o) + "\n"


def b(x):
    return "true" if x else "false"


def int_lit(v):
    if v == -2**63:
        return "INT64_MIN"
    return "%dLL" % v if abs(v) > 2**31 - 1 else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", help="folder with message/, metadata/, ... (JSON)")
    ap.add_argument("--jars", help="instead: Apache Kafka's libs/ folder (reads the "
                    "JSON inside kafka-clients-*.jar and friends)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if bool(a.spec) == bool(a.jars):
        die("give exactly one of --spec and --jars")
    msgs = load_all(a.spec, a.jars)
    os.makedirs(a.out, exist_ok=True)
    for name, text in (("messages.h", gen_header(msgs)), ("messages.c", gen_source(msgs))):
        path = os.path.join(a.out, name)
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if old != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    print("protogen: %d messages (%d APIs) -> %s" % (
        len(msgs), sum(1 for m in msgs if m.kind == "request"), a.out))


if __name__ == "__main__":
    main()
