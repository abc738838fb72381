/* config.c - the directive table, INI parsing, validation and printing. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config_priv.h"
#include "cs_config.h"
#include "cs_error.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_util.h"

#define OFF(f) offsetof(struct config, f)

/* The one table of configuration keys: it drives parsing, defaults and
 * config_print().  doc/config.md and conf/chanstat.conf.sample follow it
 * row by row. */
/* clang-format off */
static const struct directive directives[] = {
    {"component", "domain", DT_STRING, OFF(domain), NULL, 0, 0,
     "component domain served"},
    {"component", "secret", DT_STRING, OFF(secret), NULL, 0, 0,
     "XEP-0114 shared secret"},
    {"component", "server", DT_STRING, OFF(server), "127.0.0.1", 0, 0,
     "host or address of the server's component listener"},
    {"component", "port", DT_INT, OFF(port), "5347", 1, 65535, "its port"},
    {"component", "connect_timeout", DT_SECONDS, OFF(connect_timeout_ms), "10", 1, 600,
     "seconds for TCP connect plus handshake"},
    {"component", "keepalive", DT_SECONDS, OFF(keepalive_ms), "60", 0, 3600,
     "seconds between whitespace keepalives, 0 = off"},
    {"component", "reconnect_min_ms", DT_MS, OFF(reconnect_min_ms), "500", 10, 600000,
     "first reconnect delay"},
    {"component", "reconnect_max_ms", DT_MS, OFF(reconnect_max_ms), "30000", 10, 3600000,
     "reconnect delay cap, >= reconnect_min_ms"},
    {"limits", "max_stanza_bytes", DT_INT, OFF(max_stanza_bytes), "262144", 1024, 16777216,
     "largest inbound stanza; a larger one is cut and answered policy-violation"},
    {"limits", "max_depth", DT_INT, OFF(max_depth), "32", 4, 1000,
     "deepest inbound element nesting"},
    {"limits", "send_buffer_bytes", DT_INT, OFF(send_buffer_bytes), "1048576", 65536,
     1073741824, "output queued before producers and input reading pause"},
    {"limits", "stall_timeout", DT_SECONDS, OFF(stall_timeout_ms), "60", 5, 86400,
     "s output may wait unwritten before the server counts as not reading"},
    {"limits", "subscription_burst", DT_INT, OFF(subscription_burst), "10", 1, 100000,
     "subscription stanzas one sender may send at once"},
    {"limits", "subscriptions_per_minute", DT_INT, OFF(subscriptions_per_minute), "30", 1,
     6000000, "... and per minute after that"},
    {"limits", "domain_subscription_burst", DT_INT, OFF(domain_subscription_burst), "1000", 1,
     10000000, "subscription stanzas all senders of one domain may send at once"},
    {"limits", "domain_subscriptions_per_minute", DT_INT, OFF(domain_subscriptions_per_minute),
     "6000", 1, 60000000, "... and per minute after that"},
    {"limits", "node_subscription_burst", DT_INT, OFF(node_subscription_burst), "10000", 1,
     10000000, "new node subscriptions (leases) all nodes together may ask at once"},
    {"limits", "node_subscriptions_per_minute", DT_INT, OFF(node_subscriptions_per_minute),
     "6000", 1, 60000000, "... and per minute after that"},
    {"limits", "max_pending_per_channel", DT_INT, OFF(max_pending_per_channel), "1000", 1,
     10000000, "pending requests an approve-policy channel keeps"},
    {"limits", "max_message_bytes", DT_INT, OFF(max_message_bytes), "65536", 256, 16777216,
     "largest routed message, <= max_stanza_bytes"},
    {"offline", "max_messages", DT_INT, OFF(offline_max_messages), "100", 0, 1000000,
     "messages kept per channel while its owner is offline"},
    {"offline", "max_bytes", DT_INT, OFF(offline_max_bytes), "1048576", 0, 1073741824,
     "their total size per channel"},
    {"offline", "expiry_days", DT_DAYS, OFF(offline_expiry_ms), "30", 1, 3650,
     "days a stored message is kept"},
    {"registration", "enabled", DT_BOOL, OFF(registration_enabled), "false", 0, 0,
     "users may create channels they own by in-band registration (XEP-0077)"},
    {"registration", "max_channels_per_owner", DT_INT, OFF(registration_max_per_owner), "5", 1,
     100000, "registering is refused to a bare JID owning this many channels"},
    {"registration", "domains", DT_DOMAINS, OFF(registration_domains), "", 0, 0,
     "domains registrants may come from, space or comma separated; empty = any"},
    {"admin", "jids", DT_JIDS, OFF(admin_jids), "", 0, 0,
     "bare JIDs allowed the admin commands (XEP-0050), space or comma separated"},
    {"service", "list_channels", DT_BOOL, OFF(list_channels), "true", 0, 0,
     "disco#items of the domain lists the open and approve channels"},
    {"fanout", "multicast", DT_AUTO_OFF, OFF(multicast), "auto", 0, 0,
     "auto: status to watchers in batches through the server's XEP-0033 service when it offers one; off: one stanza per watcher"},
    {"fanout", "multicast_domain", DT_DOMAINS, OFF(multicast_domain), "", 0, 0,
     "the users' domain whose service is asked and whose watchers are batched; empty = the parent domain"},
    {"fanout", "multicast_max", DT_INT, OFF(multicast_max), "1000", 2, 100000,
     "most watchers in one batch, whatever the service allows"},
    {"properties", "lease_default", DT_SECONDS, OFF(prop_lease_default_ms), "3600", 1, 31536000,
     "s a property subscription lasts when it asks for no expiry"},
    {"properties", "lease_max", DT_SECONDS, OFF(prop_lease_max_ms), "86400", 1, 31536000,
     "s a property subscription lasts at most, whatever it asks for"},
    {"properties", "max_subscriptions_per_channel", DT_INT, OFF(prop_max_subscriptions),
     "100000", 0, 100000000, "property subscriptions one channel holds; more are refused"},
    {"storage", "database", DT_STRING, OFF(database), "/var/lib/chanstat/chanstat.db", 0, 0,
     "SQLite file, created if missing"},
    {"storage", "busy_timeout_ms", DT_INT, OFF(busy_timeout_ms), "5000", 0, 600000,
     "wait for a lock held by another writer"},
    {"storage", "synchronous", DT_SYNC, OFF(synchronous), "full", 0, 0, "full or normal"},
    {"log", "level", DT_LOGLEVEL, OFF(log_level), "info", 0, 0,
     "error, warning, info or debug"},
    {"log", "syslog", DT_BOOL, OFF(log_syslog), "false", 0, 0,
     "also log to syslog (facility daemon)"},
    {"log", "file", DT_PATH, OFF(log_file), "", 0, 0,
     "file the lines are appended to instead of stderr, reopened on SIGHUP; empty = stderr"},
    {"federation", "lease", DT_SECONDS, OFF(fed_lease_ms), "3600", 2, 604800,
     "s of a node-to-node subscription: asked for, and the most a home grants"},
    {"federation", "resubscribe_delta", DT_SECONDS, OFF(fed_resubscribe_delta_ms), "300", 1,
     86400, "s before a lease ends that it is renewed"},
    {"federation", "min_resubscribe_time", DT_SECONDS, OFF(fed_min_resubscribe_ms), "60", 1,
     86400, "s at least between two renewals of one subscription"},
    {"federation", "on_error_retry_time", DT_SECONDS, OFF(fed_retry_ms), "60", 1, 86400,
     "s before retrying after an error upstream, or after a presence error from an owner"},
    {"federation", "linger", DT_SECONDS, OFF(fed_linger_ms), "30", 0, 86400,
     "s after the last local watcher left before the upstream subscription is cancelled"},
    {"federation", "discovery_ttl", DT_SECONDS, OFF(fed_discovery_ttl_ms), "3600", 0, 604800,
     "s a domain's answer to 'are you a chanstat node?' is kept"},
    {"federation", "request_timeout", DT_SECONDS, OFF(fed_request_timeout_ms), "30", 1, 600,
     "s to wait for a remote node's answer before counting it as an error"},
    {"federation", "local_domains", DT_DOMAINS, OFF(fed_local_domains), "", 0, 0,
     "domains whose users may watch remote channels through this node; empty = its parent domain"},
    {"federation", "trusted_nodes", DT_DOMAINS, OFF(fed_trusted_nodes), "", 0, 0,
     "nodes this home believes about users of any domain; others only about their parent domain"},
    {"cluster", "role", DT_ROLE, OFF(cluster_role), "standalone", 0, 0,
     "standalone, front (the domain's public address, over its homes) or home (channels behind one front)"},
    {"cluster", "homes", DT_DOMAINS, OFF(cluster_homes), "", 0, 0,
     "front only: the component domains of its homes, space or comma separated"},
    {"cluster", "front", DT_DOMAINS, OFF(cluster_front), "", 0, 0,
     "home only: the component domain of the one front it serves"},
    {"cluster", "home_check", DT_SECONDS, OFF(cluster_home_check_ms), "10", 1, 3600,
     "s within which a front notices a home that stopped answering (XEP-0199 pings)"},
};
/* clang-format on */

#define NDIRECTIVES CS_ARRAY_SIZE(directives)

const struct directive *config_directives(size_t *n_r)
{
    *n_r = NDIRECTIVES;
    return directives;
}

/* Lines config_print() writes for lists stay below the 199 bytes the
 * parser reads (see read_line()). */
#define CONFIG_PRINT_LINE 160

/* A hard cap on the file size: a configuration file is a few kilobytes. */
#define CONFIG_MAX_FILE_BYTES (1024 * 1024)

/* One config_load() run.  inih (built with INI_HANDLER_LINENO 0) does not
 * tell the handler which line it is on, so the file is read into memory
 * and fed to ini_parse_stream() one line at a time by read_line(), which
 * counts lines, rejects lines inih would silently split, and notes section
 * headers so that an unknown section is reported on its own line. */
struct parse_state {
    struct config *cfg;
    const char *path;
    const char *text; /* the whole file; owned by config_load() */
    size_t len, pos;
    int line;                /* number of the line last handed to inih */
    bool indented;           /* that line starts with whitespace */
    bool key_in_section;     /* a key was set since the last header */
    int last_key;            /* directive index of the last key set, -1 = none */
    int set_on[NDIRECTIVES]; /* line where each key was set, 0 = not set */
    int err_line;            /* line of the first error found here, 0 = none */
    char msg[512];           /* its text, without file and line */
};

static void note_error(struct parse_state *st, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note_error(struct parse_state *st, int line, const char *fmt, ...)
{
    va_list ap;
    if (st->err_line != 0)
        return; /* keep the first */
    st->err_line = line;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
    va_end(ap);
}

static void *field(struct config *cfg, const struct directive *d)
{
    return (char *)cfg + d->offset;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < CS_ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return CS_EINVAL;
}

static bool is_list(const struct directive *d)
{
    return d->type == DT_JIDS || d->type == DT_DOMAINS;
}

/* Milliseconds in one unit of a duration as the file writes it; 0 for a
 * key that is no duration. */
static int64_t unit_ms(const struct directive *d)
{
    switch (d->type) {
    case DT_MS: return 1;
    case DT_SECONDS: return MS_PER_S;
    case DT_DAYS: return MS_PER_DAY;
    default: return 0;
    }
}

static void list_clear(struct config_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* An integer of d's range [min, max], as written in the file.  On error
 * writes the reason into why and returns CS_EINVAL. */
static int parse_ranged(const struct directive *d, const char *v, long *n_r, char *why,
                        size_t whylen)
{
    char *end;
    long n;
    errno = 0;
    n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno == ERANGE) {
        snprintf(why, whylen, "invalid value '%s' for %s in [%s]: not an integer", v, d->key,
                 d->section);
        return CS_EINVAL;
    }
    if (n < d->min || n > d->max) {
        snprintf(why, whylen, "%s in [%s] must be between %ld and %ld (got %ld)", d->key,
                 d->section, d->min, d->max, n);
        return CS_EINVAL;
    }
    *n_r = n;
    return 0;
}

/* Sets one directive from text.  On error writes the reason (without
 * file/line) into why and returns CS_EINVAL. */
static int set_value(struct config *cfg, const struct directive *d, const char *v, char *why,
                     size_t whylen)
{
    long n;
    switch (d->type) {
    case DT_STRING: {
        char **s = field(cfg, d);
        if (*v == '\0') {
            snprintf(why, whylen, "%s in [%s] must not be empty", d->key, d->section);
            return CS_EINVAL;
        }
        free(*s);
        *s = xstrdup(v);
        return 0;
    }
    case DT_PATH: {
        char **s = field(cfg, d);
        free(*s);
        *s = *v ? xstrdup(v) : NULL;
        return 0;
    }
    case DT_INT:
        if (parse_ranged(d, v, &n, why, whylen) != 0)
            return CS_EINVAL;
        *(int *)field(cfg, d) = (int)n;
        return 0;
    case DT_MS:
    case DT_SECONDS:
    case DT_DAYS:
        /* In range, n * unit fits: config_defaults() checked the table. */
        if (parse_ranged(d, v, &n, why, whylen) != 0)
            return CS_EINVAL;
        *(int64_t *)field(cfg, d) = (int64_t)n * unit_ms(d);
        return 0;
    case DT_BOOL:
        if (parse_bool(v, field(cfg, d)) != 0) {
            snprintf(why, whylen, "invalid value '%s' for %s in [%s]: expected true or false", v,
                     d->key, d->section);
            return CS_EINVAL;
        }
        return 0;
    case DT_LOGLEVEL: {
        enum log_level l;
        if (log_level_parse(v, &l) != 0) {
            snprintf(why, whylen,
                     "invalid value '%s' for %s in [%s]: expected error, warning, info or debug", v,
                     d->key, d->section);
            return CS_EINVAL;
        }
        *(int *)field(cfg, d) = (int)l;
        return 0;
    }
    case DT_JIDS:
    case DT_DOMAINS:
        return config_list_add(field(cfg, d), d->type == DT_JIDS, d->key, d->section, v, why,
                               whylen);
    case DT_AUTO_OFF:
        if (strcasecmp(v, "auto") == 0 || strcasecmp(v, "off") == 0) {
            *(bool *)field(cfg, d) = strcasecmp(v, "auto") == 0;
        } else {
            snprintf(why, whylen, "invalid value '%s' for %s in [%s]: expected auto or off", v,
                     d->key, d->section);
            return CS_EINVAL;
        }
        return 0;
    case DT_ROLE:
        for (int r = CLUSTER_STANDALONE; r <= CLUSTER_HOME; r++) {
            if (strcasecmp(v, cluster_role_name(r)) == 0) {
                *(int *)field(cfg, d) = r;
                return 0;
            }
        }
        snprintf(why, whylen,
                 "invalid value '%s' for %s in [%s]: expected standalone, front or home", v, d->key,
                 d->section);
        return CS_EINVAL;
    case DT_SYNC:
        if (strcasecmp(v, "full") == 0) {
            *(int *)field(cfg, d) = 2;
        } else if (strcasecmp(v, "normal") == 0) {
            *(int *)field(cfg, d) = 1;
        } else {
            snprintf(why, whylen, "invalid value '%s' for %s in [%s]: expected full or normal", v,
                     d->key, d->section);
            return CS_EINVAL;
        }
        return 0;
    }
    return CS_EINVAL;
}

/* Is the table sound?  A duration's range, in milliseconds, must fit in
 * int64_t (so no value the parser accepts can overflow) and a DT_INT's
 * in int. */
static bool row_sound(const struct directive *d)
{
    int64_t unit = unit_ms(d);
    if (d->min > d->max)
        return false;
    if (d->type == DT_INT)
        return d->min >= INT_MIN && d->max <= INT_MAX;
    if (unit == 0)
        return true;
    return d->min >= INT64_MIN / unit && d->max <= INT64_MAX / unit;
}

void config_defaults(struct config *cfg)
{
    char why[256];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        /* A broken row or default is a programming error. */
        if (!row_sound(&directives[i]))
            abort();
        if (directives[i].def &&
            set_value(cfg, &directives[i], directives[i].def, why, sizeof(why)) != 0)
            abort();
    }
}

static bool section_known(const char *section)
{
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        if (strcmp(directives[i].section, section) == 0)
            return true;
    }
    return false;
}

/* The directive for section/key, or -1. */
static int find_directive(const char *section, const char *key)
{
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        if (strcmp(directives[i].section, section) == 0 && strcmp(directives[i].key, key) == 0)
            return (int)i;
    }
    return -1;
}

/* inih reader: hands out the next line of st->text, at most num - 1 bytes.
 * A longer line is replaced by an empty one and reported here, because
 * inih (built without INI_ALLOW_REALLOC) would parse its two halves as two
 * lines, truncating the value. */
static char *read_line(char *str, int num, void *user)
{
    struct parse_state *st = user;
    const char *start, *nl, *p;
    size_t n;

    if (st->pos >= st->len)
        return NULL;
    start = st->text + st->pos;
    nl = memchr(start, '\n', st->len - st->pos);
    n = nl ? (size_t)(nl - start) : st->len - st->pos;
    st->pos += n + (nl != NULL);
    st->line++;
    str[0] = '\0';
    if (memchr(start, '\0', n) != NULL) {
        note_error(st, st->line, "line contains a NUL byte");
        return str;
    }
    if (num < 2 || n > (size_t)num - 1) {
        note_error(st, st->line, "line too long (%zu bytes, at most %d)", n, num - 1);
        return str;
    }
    memcpy(str, start, n);
    str[n] = '\0';

    p = str;
    if (st->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* UTF-8 byte order mark, which inih skips too */
    st->indented = (*p == ' ' || *p == '\t');
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    /* inih reads an indented line after a key as a continuation of its
     * value, anything else starting with '[' as a section header. */
    if (*p == '[' && !(st->indented && st->key_in_section)) {
        const char *end = strchr(p, ']');
        st->key_in_section = false;
        st->last_key = -1;
        if (end != NULL) {
            char name[128];
            size_t nlen = (size_t)(end - p - 1);
            if (nlen >= sizeof(name))
                nlen = sizeof(name) - 1;
            memcpy(name, p + 1, nlen);
            name[nlen] = '\0';
            if (!section_known(name))
                note_error(st, st->line, "unknown section [%s]", name);
        }
    }
    return str;
}

/* inih handler, called once per key (and per continuation line).  Returns
 * 0 on error, which makes ini_parse_stream() return the line number. */
static int on_pair(void *user, const char *section, const char *key, const char *value)
{
    struct parse_state *st = user;
    char why[512];
    int i;

    if (st->err_line != 0)
        return 0; /* only the first error is reported */
    st->key_in_section = true;
    i = find_directive(section, key);
    if (i < 0) {
        if (section_known(section))
            note_error(st, st->line, "unknown key '%s' in section [%s]", key, section);
        else if (section[0] == '\0')
            note_error(st, st->line, "key '%s' outside of any section", key);
        else
            note_error(st, st->line, "unknown section [%s]", section);
        return 0;
    }
    if (st->indented && i == st->last_key) {
        note_error(st, st->line,
                   "indented line continues the value of %s in [%s]; values are one line, "
                   "remove the indentation",
                   key, section);
        return 0;
    }
    if (st->set_on[i] != 0 && !is_list(&directives[i])) {
        note_error(st, st->line, "duplicate key '%s' in section [%s] (first set on line %d)", key,
                   section, st->set_on[i]);
        return 0;
    }
    if (st->set_on[i] == 0) {
        /* The file's first occurrence replaces the default; a list key
         * repeated after it continues the list (lines are short). */
        if (is_list(&directives[i]))
            list_clear(field(st->cfg, &directives[i]));
        st->set_on[i] = st->line;
    }
    st->last_key = i;
    if (set_value(st->cfg, &directives[i], value, why, sizeof(why)) != 0) {
        note_error(st, st->line, "%s", why);
        return 0;
    }
    return 1;
}

/* The first bytes of every SQLite 3 database file, its NUL included. */
#define SQLITE_MAGIC "SQLite format 3\0"

/* Reads path into sb.  0, or CS_EIO / CS_ECONFIG with err filled. */
static int read_file(const char *path, struct strbuf *sb, char *err, size_t errlen)
{
    char buf[8192];
    size_t n;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CS_EIO;
    }
    strbuf_reserve(sb, 1); /* an empty file is still a string */
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (sb->len + n > CONFIG_MAX_FILE_BYTES) {
            fclose(f);
            snprintf(err, errlen, "%s: file too large (more than %d bytes)", path,
                     CONFIG_MAX_FILE_BYTES);
            return CS_ECONFIG;
        }
        strbuf_append(sb, buf, n);
        if (sb->len == n && n >= sizeof(SQLITE_MAGIC) - 1 &&
            memcmp(buf, SQLITE_MAGIC, sizeof(SQLITE_MAGIC) - 1) == 0) {
            /* The database where the configuration was meant. */
            fclose(f);
            snprintf(err, errlen,
                     "%s is an SQLite database, not a configuration file; give the configuration "
                     "file (for example -c /etc/chanstat/chanstat.conf), which names the database "
                     "in [storage] database",
                     path);
            return CS_ECONFIG;
        }
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
        return CS_EIO;
    }
    fclose(f);
    return 0;
}

const char *cluster_role_name(int role)
{
    static const char *const names[] = {"standalone", "front", "home"};
    return role >= CLUSTER_STANDALONE && role <= CLUSTER_HOME ? names[role] : "?";
}

/* [cluster]: each role names only what it uses (doc/cluster.md). */
static int check_cluster(const struct config *cfg, const char *path, char *err, size_t errlen)
{
    const struct config_list *homes = &cfg->cluster_homes, *front = &cfg->cluster_front;
    const char *why = NULL;
    if (cfg->cluster_role == CLUSTER_FRONT && homes->n == 0)
        why = "role = front needs its homes";
    else if (cfg->cluster_role != CLUSTER_FRONT && homes->n > 0)
        why = "homes is for role = front only";
    else if (cfg->cluster_role == CLUSTER_HOME && front->n != 1)
        why = "role = home needs exactly one front";
    else if (cfg->cluster_role != CLUSTER_HOME && front->n > 0)
        why = "front is for role = home only";
    else if (config_list_has(homes, cfg->domain) || config_list_has(front, cfg->domain))
        why = "a front and its homes are different components";
    for (size_t i = 0; why == NULL && i < homes->n; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(homes->v[i], homes->v[j]) == 0)
                why = "a home is listed twice";
    }
    if (why)
        snprintf(err, errlen, "%s: [cluster]: %s", path, why);
    return why ? CS_ECONFIG : 0;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    struct parse_state st = {.cfg = cfg, .path = path, .last_key = -1};
    struct strbuf text = {0};
    int r, line;

    if (errlen > 0)
        err[0] = '\0';
    r = read_file(path, &text, err, errlen);
    if (r != 0) {
        strbuf_free(&text);
        return r;
    }
    st.text = text.data;
    st.len = text.len;
    line = ini_parse_stream(read_line, &st, on_pair, &st);
    strbuf_free(&text);
    if (line == -2) {
        snprintf(err, errlen, "%s: out of memory while parsing", path);
        return CS_ECONFIG;
    }
    if (line < 0) {
        snprintf(err, errlen, "%s: cannot parse (inih error %d)", path, line);
        return CS_ECONFIG;
    }
    /* Whichever comes first: an error seen here or inih's own syntax error
     * (a line that is neither a header, a key = value pair nor a comment). */
    if (st.err_line != 0 && (line == 0 || st.err_line <= line)) {
        snprintf(err, errlen, "%s:%d: %s", path, st.err_line, st.msg);
        return CS_ECONFIG;
    }
    if (line != 0) {
        snprintf(err, errlen,
                 "%s:%d: syntax error: expected '[section]', 'key = value' or a comment", path,
                 line);
        return CS_ECONFIG;
    }

    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        if (d->def == NULL && *(char **)field(cfg, d) == NULL) {
            snprintf(err, errlen, "%s: required key '%s' in [%s] is missing", path, d->key,
                     d->section);
            return CS_ECONFIG;
        }
    }
    /* A domain name, not an IP literal: the server routes to it by name. */
    bool bad_domain = jid_check_domain(cfg->domain, strlen(cfg->domain)) != 0 ||
                      strchr(cfg->domain, '[') != NULL || !config_domain_name_ok(cfg->domain);
    for (const char *c = cfg->domain; *c && !bad_domain; c++)
        bad_domain = (unsigned char)*c < 0x20 || *c == 0x7f;
    if (bad_domain) {
        snprintf(err, errlen, "%s: domain in [component] is not a valid domain name: '%s'", path,
                 cfg->domain);
        return CS_ECONFIG;
    }
    for (char *p = cfg->domain; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    if (cfg->reconnect_max_ms < cfg->reconnect_min_ms) {
        snprintf(err, errlen,
                 "%s: reconnect_max_ms (%" PRId64 ") in [component] must not be below "
                 "reconnect_min_ms (%" PRId64 ")",
                 path, cfg->reconnect_max_ms, cfg->reconnect_min_ms);
        return CS_ECONFIG;
    }
    if (cfg->multicast_domain.n > 1) {
        snprintf(err, errlen, "%s: multicast_domain in [fanout] names more than one domain", path);
        return CS_ECONFIG;
    }
    if (check_cluster(cfg, path, err, errlen) != 0)
        return CS_ECONFIG;
    if (cfg->max_message_bytes > cfg->max_stanza_bytes) {
        snprintf(err, errlen,
                 "%s: max_message_bytes (%d) in [limits] must not exceed max_stanza_bytes (%d)",
                 path, cfg->max_message_bytes, cfg->max_stanza_bytes);
        return CS_ECONFIG;
    }
    return 0;
}

/* A list as "key = a b c" lines short enough for the parser to read back
 * (a longer list continues on a repeated key). */
static void print_list(FILE *out, const char *key, const void *p)
{
    const struct config_list *l = p;
    size_t used = (size_t)fprintf(out, "%s = ", key);
    for (size_t i = 0; i < l->n; i++) {
        size_t len = strlen(l->v[i]);
        bool first = i == 0;
        if (!first && used + 1 + len > CONFIG_PRINT_LINE) {
            fputc('\n', out);
            used = (size_t)fprintf(out, "%s = ", key);
            first = true;
        }
        used += (size_t)fprintf(out, "%s%s", first ? "" : " ", l->v[i]);
    }
    fputc('\n', out);
}

void config_print(const struct config *cfg, FILE *out)
{
    const char *section = NULL;
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        const void *p = (const char *)cfg + d->offset;
        if (section == NULL || strcmp(section, d->section) != 0) {
            fprintf(out, "%s[%s]\n", section ? "\n" : "", d->section);
            section = d->section;
        }
        if (d->type == DT_INT || unit_ms(d) != 0)
            fprintf(out, "; %s (%ld..%ld, default %s)\n", d->doc, d->min, d->max, d->def);
        else if (d->def && d->def[0] == '\0')
            fprintf(out, "; %s (default empty)\n", d->doc);
        else
            fprintf(out, "; %s (%s%s)\n", d->doc, d->def ? "default " : "required",
                    d->def ? d->def : "");
        if (is_list(d)) {
            print_list(out, d->key, p);
            continue;
        }
        /* "key = ;x" would read back as a comment, "key =;x" as ;x. */
        const char *str = (d->type == DT_STRING || d->type == DT_PATH) && d->offset != OFF(secret)
                              ? *(char *const *)p
                              : NULL;
        fprintf(out, "%s =%s", d->key, str && (str[0] == ';' || str[0] == '#') ? "" : " ");
        switch (d->type) {
        case DT_STRING:
        case DT_PATH: {
            const char *s = *(char *const *)p;
            if (d->offset == OFF(secret))
                s = s ? "********" : "";
            fprintf(out, "%s\n", s ? s : "");
            break;
        }
        case DT_INT: fprintf(out, "%d\n", *(const int *)p); break;
        case DT_MS:
        case DT_SECONDS:
        case DT_DAYS:
            /* Back in the file's unit: exact, the value was read in it. */
            fprintf(out, "%" PRId64 "\n", *(const int64_t *)p / unit_ms(d));
            break;
        case DT_BOOL: fprintf(out, "%s\n", *(const bool *)p ? "true" : "false"); break;
        case DT_LOGLEVEL: fprintf(out, "%s\n", log_level_name(*(const int *)p)); break;
        case DT_SYNC: fprintf(out, "%s\n", *(const int *)p == 2 ? "full" : "normal"); break;
        case DT_AUTO_OFF: fprintf(out, "%s\n", *(const bool *)p ? "auto" : "off"); break;
        case DT_ROLE: fprintf(out, "%s\n", cluster_role_name(*(const int *)p)); break;
        case DT_JIDS:
        case DT_DOMAINS: break; /* printed above */
        }
    }
}

void config_deinit(struct config *cfg)
{
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        if (directives[i].type == DT_STRING || directives[i].type == DT_PATH) {
            char **s = field(cfg, &directives[i]);
            free(*s);
            *s = NULL;
        } else if (is_list(&directives[i])) {
            list_clear(field(cfg, &directives[i]));
        }
    }
}
