"""A strict reader of the Prometheus text exposition format 0.0.4, and the
checks of prometheus.test.

  prom_check.py validate FILE            exits 1 naming the first fault
  prom_check.py compare PROM TEXT JSON   the export against `stats` (text)
                                         and `--json stats` (update times)
  prom_check.py hostile PROM             the rows prometheus.test wrote by hand
"""
import json
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def unescape(s, quote, where):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s):
                fail("%s: backslash at the end" % where)
            n = s[i + 1]
            if n == "\\":
                out.append("\\")
            elif n == "n":
                out.append("\n")
            elif n == '"' and quote:
                out.append('"')
            else:
                fail("%s: unknown escape \\%s" % (where, n))
            i += 2
            continue
        if c == '"' and quote:
            fail("%s: bare double quote" % where)
        out.append(c)
        i += 1
    return "".join(out)


def parse_labels(s, where):
    """s: the text after '{'; returns (dict, rest after '}')."""
    labels, i = {}, 0
    while True:
        if s[i:i + 1] == "}":
            return labels, s[i + 1:]
        m = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", s[i:])
        if not m:
            fail("%s: bad label at %r" % (where, s[i:i + 20]))
        name = m.group(1)
        if name.startswith("__"):
            fail("%s: reserved label name %s" % (where, name))
        j = i + m.end()
        raw = []
        while True:
            if j >= len(s):
                fail("%s: unterminated label value" % where)
            if s[j] == "\\":
                raw.append(s[j:j + 2])
                j += 2
                continue
            if s[j] == '"':
                break
            raw.append(s[j])
            j += 1
        if name in labels:
            fail("%s: label %s twice" % (where, name))
        labels[name] = unescape("".join(raw), True, where)
        i = j + 1
        if s[i:i + 1] == ",":
            i += 1
        elif s[i:i + 1] != "}":
            fail("%s: expected , or } after a label" % where)


def validate(data):
    """Returns {(name, ((label, value), ...)): (value, type, help)}."""
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        fail("not UTF-8: %s" % e)
    if text and not text.endswith("\n"):
        fail("the last line has no newline")
    series, types, helps, done = {}, {}, {}, set()
    family = None
    for no, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d" % no
        if "\r" in line:
            fail("%s: carriage return" % where)
        if line == "":
            fail("%s: empty line" % where)
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.match(name):
                    fail("%s: bad metric name %r" % (where, name))
                if name in done:
                    fail("%s: %s comes back after other families" % (where, name))
                if family is not None and name != family:
                    done.add(family)
                family = name
                if parts[1] == "HELP":
                    if name in helps:
                        fail("%s: second HELP for %s" % (where, name))
                    helps[name] = unescape(parts[3] if len(parts) > 3 else "", False, where)
                else:
                    if name in types:
                        fail("%s: second TYPE for %s" % (where, name))
                    if any(k[0] == name for k in series):
                        fail("%s: TYPE after samples of %s" % (where, name))
                    if len(parts) != 4 or parts[3] not in TYPES:
                        fail("%s: bad TYPE line" % where)
                    types[name] = parts[3]
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)\Z", line)
        if not m:
            fail("%s: not a sample: %r" % (where, line))
        name, rest = m.group(1), m.group(2)
        labels = {}
        if rest.startswith("{"):
            labels, rest = parse_labels(rest[1:], where)
        fields = rest.split(" ")
        if len(fields) not in (2, 3) or fields[0] != "":
            fail("%s: expected ' VALUE [TIMESTAMP]': %r" % (where, rest))
        try:
            value = float(fields[1])
        except ValueError:
            fail("%s: bad value %r" % (where, fields[1]))
        if name != family:
            if name in done:
                fail("%s: %s comes back after other families" % (where, name))
            if family is not None:
                done.add(family)
            family = name
        if name not in types:
            fail("%s: sample of %s before (or without) its TYPE" % (where, name))
        if types[name] == "counter" and (not name.endswith("_total") or value < 0):
            fail("%s: counter %s without _total or negative" % (where, name))
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            fail("%s: series %s twice" % (where, key))
        series[key] = (value, types[name], helps.get(name))
    for name in types:
        if name not in helps:
            fail("%s has no HELP" % name)
    return series


LABELLED = {"stanzas_in": ("stanzas_in", "kind"), "stanzas_out": ("stanzas_out", "kind"),
            "errors": ("errors_by_condition", "condition")}


def expected_key(row):
    """The series a stats row becomes (as ctlprom.c maps it)."""
    if "." in row:
        prefix, rest = row.split(".", 1)
        if prefix in LABELLED:
            fam, label = LABELLED[prefix]
            return ("chanstat_%s_total" % fam, ((label, rest),))
    name = "chanstat_" + re.sub(r"[^a-zA-Z0-9_:]", "_", row)
    if row == "db_commit_us_max":
        return (name, ())
    return (name if name.endswith("_total") else name + "_total", ())


def main():
    cmd = sys.argv[1]
    prom = validate(open(sys.argv[2], "rb").read())
    if cmd == "validate":
        print("valid: %d series" % len(prom))
    elif cmd == "compare":
        rows = {}
        lines = open(sys.argv[3]).read().splitlines()
        if not lines or lines[0].split() != ["NAME", "VALUE", "UPDATED"]:
            fail("unexpected text output: %r" % lines[:2])
        for l in lines[1:]:
            name, value, _ = l.split()
            rows[name] = float(value)
        got = dict((k, v[0]) for k, v in prom.items()
                   if k[0] != "chanstat_stats_updated_seconds")
        want = dict((expected_key(r), v) for r, v in rows.items())
        if got != want:
            fail("series differ from the text form:\n only in prometheus: %s\n only in text: %s"
                 "\n different: %s" % (
                     sorted(set(got) - set(want)), sorted(set(want) - set(got)),
                     [(k, got[k], want[k]) for k in set(got) & set(want) if got[k] != want[k]]))
        upd = max(r["updated"] for r in json.load(open(sys.argv[4]))["stats"])
        import datetime
        t = datetime.datetime.strptime(upd, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        if prom[("chanstat_stats_updated_seconds", ())][0] != t:
            fail("chanstat_stats_updated_seconds is not the latest update %s" % upd)
        if len(want) < 30:
            fail("only %d counters" % len(want))
        print("equal: %d series" % len(want))
    elif cmd == "hostile":
        conds = dict((dict(k[1])["condition"], v[0]) for k, v in prom.items()
                     if k[0] == "chanstat_errors_by_condition_total")
        want = 'q"uote \\back\nslash é 中'
        if conds.get(want) != 7:
            fail("the hostile condition did not come through: %r" % conds)
        if conds.get("bad\ufffdutf8\ufffd") != 8:
            fail("invalid UTF-8 / control characters not replaced: %r" % conds)
        names = [k[0] for k in prom]
        if "chanstat_ev_l_name___TYPE_x_gauge_total" not in names:
            fail("the hostile row name was not sanitised: %s" % names)
        print("hostile rows contained: %d series" % len(prom))


main()
