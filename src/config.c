/* config.c - the directive table, INI parsing, validation and printing. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_util.h"

enum directive_type { DT_STRING, DT_INT, DT_BOOL, DT_LOGLEVEL, DT_SYNC };

struct directive {
    const char *section;
    const char *key;
    enum directive_type type;
    size_t offset;
    const char *def; /* default as written in the file; NULL = required */
    long min, max;   /* DT_INT range */
};

#define OFF(f) offsetof(struct config, f)

/* The one table of configuration keys.  doc/config.md and
 * conf/chanstat.conf.sample follow it row by row. */
static const struct directive directives[] = {
    {"component", "domain", DT_STRING, OFF(domain), NULL, 0, 0},
    {"component", "secret", DT_STRING, OFF(secret), NULL, 0, 0},
    {"component", "server", DT_STRING, OFF(server), "127.0.0.1", 0, 0},
    {"component", "port", DT_INT, OFF(port), "5347", 1, 65535},
    {"component", "connect_timeout", DT_INT, OFF(connect_timeout), "10", 1, 600},
    {"component", "keepalive", DT_INT, OFF(keepalive), "60", 0, 3600},
    {"component", "reconnect_min_ms", DT_INT, OFF(reconnect_min_ms), "500", 10, 600000},
    {"component", "reconnect_max_ms", DT_INT, OFF(reconnect_max_ms), "30000", 10, 3600000},
    {"limits", "max_stanza_bytes", DT_INT, OFF(max_stanza_bytes), "262144", 1024, 16777216},
    {"limits", "max_depth", DT_INT, OFF(max_depth), "32", 4, 1000},
    {"limits", "send_buffer_bytes", DT_INT, OFF(send_buffer_bytes), "16777216", 65536,
     1073741824},
    {"limits", "subscription_burst", DT_INT, OFF(subscription_burst), "10", 1, 100000},
    {"limits", "subscriptions_per_minute", DT_INT, OFF(subscriptions_per_minute), "30", 1,
     6000000},
    {"limits", "max_pending_per_channel", DT_INT, OFF(max_pending_per_channel), "1000", 1,
     10000000},
    {"limits", "max_message_bytes", DT_INT, OFF(max_message_bytes), "65536", 256, 16777216},
    {"offline", "max_messages", DT_INT, OFF(offline_max_messages), "100", 0, 1000000},
    {"offline", "max_bytes", DT_INT, OFF(offline_max_bytes), "1048576", 0, 1073741824},
    {"offline", "expiry_days", DT_INT, OFF(offline_expiry_days), "30", 1, 3650},
    {"storage", "database", DT_STRING, OFF(database), "/var/lib/chanstat/chanstat.db", 0, 0},
    {"storage", "busy_timeout_ms", DT_INT, OFF(busy_timeout_ms), "5000", 0, 600000},
    {"storage", "synchronous", DT_SYNC, OFF(synchronous), "full", 0, 0},
    {"log", "level", DT_LOGLEVEL, OFF(log_level), "info", 0, 0},
    {"log", "syslog", DT_BOOL, OFF(log_syslog), "false", 0, 0},
};

#define NDIRECTIVES CS_ARRAY_SIZE(directives)

struct parse_state {
    struct config *cfg;
    const char *path;
    char *err;
    size_t errlen;
    bool failed;
    bool seen[NDIRECTIVES];
    char bad_section[128];
};

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

/* Sets one directive from text.  On error writes the reason (without
 * file/line) into why and returns CS_EINVAL. */
static int set_value(struct config *cfg, const struct directive *d, const char *v, char *why,
                     size_t whylen)
{
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
    case DT_INT: {
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
        *(int *)field(cfg, d) = (int)n;
        return 0;
    }
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
                     "invalid value '%s' for %s in [%s]: expected error, warning, info or debug",
                     v, d->key, d->section);
            return CS_EINVAL;
        }
        *(int *)field(cfg, d) = (int)l;
        return 0;
    }
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

void config_defaults(struct config *cfg)
{
    char why[256];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        if (directives[i].def && set_value(cfg, &directives[i], directives[i].def, why,
                                           sizeof(why)) != 0)
            abort(); /* a broken default is a programming error */
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

/* inih handler: returns 0 on error so ini_parse reports the line. */
static int on_pair(void *user, const char *section, const char *key, const char *value)
{
    struct parse_state *st = user;
    char why[512];

    if (st->failed)
        return 0;
    if (!section_known(section)) {
        snprintf(st->bad_section, sizeof(st->bad_section), "unknown section [%s]", section);
        st->failed = true;
        return 0;
    }
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        if (strcmp(d->section, section) != 0 || strcmp(d->key, key) != 0)
            continue;
        if (st->seen[i]) {
            snprintf(st->err, st->errlen, "duplicate key '%s' in section [%s]", key, section);
            st->failed = true;
            return 0;
        }
        st->seen[i] = true;
        if (set_value(st->cfg, d, value, why, sizeof(why)) != 0) {
            cs_strlcpy(st->err, why, st->errlen);
            st->failed = true;
            return 0;
        }
        return 1;
    }
    snprintf(st->err, st->errlen, "unknown key '%s' in section [%s]", key, section);
    st->failed = true;
    return 0;
}

static int fail_line(struct parse_state *st, int line)
{
    char msg[512];
    if (st->bad_section[0])
        cs_strlcpy(msg, st->bad_section, sizeof(msg));
    else if (st->err[0])
        cs_strlcpy(msg, st->err, sizeof(msg));
    else
        cs_strlcpy(msg, "syntax error (expected 'key = value' or '[section]', or line too long)",
                   sizeof(msg));
    snprintf(st->err, st->errlen, "%s:%d: %s", st->path, line, msg);
    return CS_ECONFIG;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    struct parse_state st = {.cfg = cfg, .path = path, .err = err, .errlen = errlen};
    FILE *f;
    int line;

    err[0] = '\0';
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CS_EIO;
    }
    line = ini_parse_file(f, on_pair, &st);
    fclose(f);
    if (line == -2) {
        snprintf(err, errlen, "%s: out of memory while parsing", path);
        return CS_ECONFIG;
    }
    if (line != 0)
        return fail_line(&st, line);

    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        if (d->def == NULL && *(char **)field(cfg, d) == NULL) {
            snprintf(err, errlen, "%s: required key '%s' in [%s] is missing", path, d->key,
                     d->section);
            return CS_ECONFIG;
        }
    }
    if (jid_check_domain(cfg->domain, strlen(cfg->domain)) != 0 || strchr(cfg->domain, '[')) {
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
                 "%s: reconnect_max_ms (%d) in [component] must not be below reconnect_min_ms "
                 "(%d)",
                 path, cfg->reconnect_max_ms, cfg->reconnect_min_ms);
        return CS_ECONFIG;
    }
    if (cfg->max_message_bytes > cfg->max_stanza_bytes) {
        snprintf(err, errlen,
                 "%s: max_message_bytes (%d) in [limits] must not exceed max_stanza_bytes (%d)",
                 path, cfg->max_message_bytes, cfg->max_stanza_bytes);
        return CS_ECONFIG;
    }
    return 0;
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
        fprintf(out, "%s = ", d->key);
        switch (d->type) {
        case DT_STRING: {
            const char *s = *(char *const *)p;
            if (d->offset == OFF(secret))
                s = s ? "********" : "";
            fprintf(out, "%s\n", s ? s : "");
            break;
        }
        case DT_INT: fprintf(out, "%d\n", *(const int *)p); break;
        case DT_BOOL: fprintf(out, "%s\n", *(const bool *)p ? "true" : "false"); break;
        case DT_LOGLEVEL: fprintf(out, "%s\n", log_level_name(*(const int *)p)); break;
        case DT_SYNC: fprintf(out, "%s\n", *(const int *)p == 2 ? "full" : "normal"); break;
        }
    }
}

void config_deinit(struct config *cfg)
{
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        if (directives[i].type == DT_STRING) {
            char **s = field(cfg, &directives[i]);
            free(*s);
            *s = NULL;
        }
    }
}
