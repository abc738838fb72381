/* ctlprom.c - chanstatctl stats --format=prometheus: the stats table in
 * the Prometheus text exposition format 0.0.4, for node_exporter's
 * textfile collector.
 *
 * Counters live in chanstatd's memory and reach the `stats` table of the
 * database at most once a second (cs_stats.h); this reads that table, as
 * the text and JSON forms do, so the three agree on one snapshot.  Each
 * row becomes one sample: "name" gives chanstat_name_total (a counter)
 * or chanstat_name (the gauges below); "stanzas_in.KIND",
 * "stanzas_out.KIND" and "errors.CONDITION" become one family with a
 * label.  There are no per-channel series: a node with a million
 * channels would export a million; `chanstatctl status` and
 * `subscriptions` answer for one channel.  Rows are written by chanstatd
 * but may be written by hand too, so every name is sanitised and every
 * label value escaped: no row can break the format. */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_admin.h"
#include "cs_util.h"
#include "ctl.h"

/* Families with a label, by the row name's prefix before the dot. */
static const struct {
    const char *prefix, *family, *label, *help;
} labelled[] = {
    {"stanzas_in", "stanzas_in", "kind", "stanzas read from the component link, by kind"},
    {"stanzas_out", "stanzas_out", "kind", "stanzas written to the component link, by kind"},
    {"errors", "errors_by_condition", "condition",
     "stanza errors sent, by RFC 6120 condition (the first 24 conditions seen)"},
};

/* Values that go up and down, or hold a maximum: gauges. */
static const char *const gauges[] = {"db_commit_us_max"};

/* Help for the counters of cs_stats.h; others get a generic line. */
static const struct {
    const char *name, *help;
} helps[] = {
    {"subscriptions", "subscription requests handled"},
    {"fanout_deliveries", "presence stanzas fanned out to watchers"},
    {"messages_routed", "messages delivered to an owner at once"},
    {"messages_stored", "messages stored offline"},
    {"messages_flushed", "stored messages delivered"},
    {"errors_sent", "stanza errors sent, all conditions"},
    {"link_reconnects", "successful handshakes after the first"},
    {"db_commits", "database commits"},
    {"db_commit_us_total", "microseconds spent in database commits"},
    {"db_commit_us_max", "the longest database commit since start, in microseconds"},
    {"db_commit_failures", "database commits that failed"},
    {"edits_applied", "change-log entries (sqlite3, chanstatctl) applied"},
    {"roster_items_set", "items written to users' rosters (XEP-0356)"},
    {"roster_items_removed", "items removed from users' rosters (XEP-0356)"},
    {"roster_users_synced", "users whose roster was brought in step (XEP-0356)"},
    {"binds_skipped", "owners bound by the presence permission"},
    {"subscriptions_rate_limited", "subscription stanzas dropped by the flood limit"},
    {"presence_refused", "presence answered with an error or dropped as invalid"},
    {"owner_probes", "owner probes and binding requests sent"},
    {"messages_replied", "owner replies routed to a contact"},
    {"messages_expired", "stored messages dropped after the offline expiry"},
    {"messages_mirrored", "messages passed on along the federation mirror path"},
    {"stanzas_dropped", "inbound stanzas dropped unanswered, as the RFCs say"},
    {"channels_registered", "channels created by in-band registration (XEP-0077)"},
    {"command_steps", "ad-hoc command steps answered (XEP-0050)"},
    {"link_bytes_in", "bytes read from the component link"},
    {"link_bytes_out", "bytes written to the component link"},
    {"link_input_rejects", "stream restarts for bad input"},
    {"multicast_batches", "fan-out batches sent to the multicast service (XEP-0033)"},
    {"multicast_deliveries", "deliveries asked of the multicast service in those batches"},
    {"multicast_refused", "batches the multicast service refused"},
    {"multicast_fallbacks", "deliveries then sent one stanza each"},
};

struct sample {
    char *family; /* the metric's full name, sanitised */
    const char *type;
    char *help;        /* raw; escaped when written */
    const char *label; /* NULL: none */
    char *value_text;  /* the label's value, raw */
    int64_t value;
    size_t order; /* row order, for a stable sort */
};

struct prom {
    struct sample *v;
    size_t n, cap;
    int64_t updated; /* the latest row's */
};

/* chanstat_ + s with every byte outside [a-zA-Z0-9_:] made '_'. */
static char *metric_name(const char *s, size_t len, const char *suffix)
{
    struct strbuf sb = {0};
    strbuf_append_str(&sb, "chanstat_");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == ':';
        strbuf_append(&sb, ok ? &c : "_", 1);
    }
    if (suffix &&
        !(sb.len >= strlen(suffix) && strcmp(sb.data + sb.len - strlen(suffix), suffix) == 0))
        strbuf_append_str(&sb, suffix);
    return sb.data;
}

static bool is_gauge(const char *name)
{
    for (size_t i = 0; i < CS_ARRAY_SIZE(gauges); i++) {
        if (strcmp(name, gauges[i]) == 0)
            return true;
    }
    return false;
}

static void on_row(void *ud, const char *name, int64_t value, int64_t updated)
{
    struct prom *p = ud;
    struct sample *s;
    const char *dot = strchr(name, '.');

    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
    }
    s = &p->v[p->n];
    *s = (struct sample){.value = value, .order = p->n, .type = "counter"};
    p->n++;
    if (updated > p->updated)
        p->updated = updated;
    for (size_t i = 0; dot && i < CS_ARRAY_SIZE(labelled); i++) {
        if (strlen(labelled[i].prefix) == (size_t)(dot - name) &&
            strncmp(name, labelled[i].prefix, (size_t)(dot - name)) == 0) {
            s->family = metric_name(labelled[i].family, strlen(labelled[i].family), "_total");
            s->help = xstrdup(labelled[i].help);
            s->label = labelled[i].label;
            s->value_text = xstrdup(dot + 1);
            return;
        }
    }
    if (is_gauge(name)) {
        s->type = "gauge";
        s->family = metric_name(name, strlen(name), NULL);
    } else {
        s->family = metric_name(name, strlen(name), "_total");
    }
    for (size_t i = 0; i < CS_ARRAY_SIZE(helps); i++) {
        if (strcmp(name, helps[i].name) == 0)
            s->help = xstrdup(helps[i].help);
    }
    if (s->help == NULL) {
        struct strbuf sb = {0};
        strbuf_printf(&sb, "the stats table's row %s", name);
        s->help = sb.data;
    }
}

static int by_family(const void *a, const void *b)
{
    const struct sample *x = a, *y = b;
    int c = strcmp(x->family, y->family);
    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The length of the valid UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), 0 if none. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
            return 0;
        return 3;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* s as a HELP text (quote false: backslash and newline escaped) or a
 * label value (quote true: the double quote too).  Other control
 * characters and bytes that are no UTF-8 become U+FFFD: the format is
 * UTF-8, read line by line. */
static void put_escaped(const char *s, bool quote)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (*p == '\\') {
            fputs("\\\\", stdout);
        } else if (*p == '\n') {
            fputs("\\n", stdout);
        } else if (*p == '"' && quote) {
            fputs("\\\"", stdout);
        } else if (n == 0 || *p < 0x20 || *p == 0x7f) {
            fputs("\xEF\xBF\xBD", stdout);
            n = 1;
        } else {
            fwrite(p, 1, n, stdout);
        }
        p += n ? n : 1;
    }
}

static void print(struct prom *p)
{
    const char *family = NULL;
    for (size_t i = 0; i < p->n; i++) {
        struct sample *s = &p->v[i];
        bool dup = false;
        if (family == NULL || strcmp(family, s->family) != 0) {
            family = s->family;
            printf("# HELP %s ", s->family);
            put_escaped(s->help, false);
            printf("\n# TYPE %s %s\n", s->family, s->type);
        } else {
            /* Two rows naming one series (a hand-written row whose name
             * sanitises to another's): the first is kept. */
            for (size_t j = i; j-- > 0 && strcmp(p->v[j].family, family) == 0;) {
                if (s->label == NULL || p->v[j].label == NULL ||
                    strcmp(p->v[j].value_text, s->value_text) == 0)
                    dup = true;
            }
            if (dup)
                continue;
        }
        fputs(s->family, stdout);
        if (s->label) {
            printf("{%s=\"", s->label);
            put_escaped(s->value_text, true);
            fputs("\"}", stdout);
        }
        printf(" %" PRId64 "\n", s->value);
    }
    if (p->n > 0)
        printf("# HELP chanstat_stats_updated_seconds when chanstatd last wrote its counters "
               "(Unix time); it writes them every second while it runs\n"
               "# TYPE chanstat_stats_updated_seconds gauge\n"
               "chanstat_stats_updated_seconds %" PRId64 "\n",
               p->updated);
}

int ctl_stats_prometheus(struct ctl *c)
{
    struct prom p = {0};
    int r = admin_stats(c->store, on_row, &p, c->err, sizeof(c->err));
    if (r == 0 && p.n > 0) {
        /* qsort() wants a non-null array even for no rows (C11 7.22.5). */
        qsort(p.v, p.n, sizeof(*p.v), by_family);
        print(&p);
    }
    for (size_t i = 0; i < p.n; i++) {
        free(p.v[i].family);
        free(p.v[i].help);
        free(p.v[i].value_text);
    }
    free(p.v);
    if (r != 0)
        fprintf(stderr, "chanstatctl: %s\n", c->err);
    return r == 0 ? 0 : admin_exit_code(r);
}
