/* configreload.c - what a running node may take from a changed file
 * (SIGHUP): the keys compared one by one, the safe ones moved in. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "config_priv.h"
#include "cs_config.h"
#include "cs_util.h"

/* The keys a running chanstatd takes on SIGHUP.  Each is read where it
 * is used, from the live struct config (the link's timers, the lists
 * the service checks per request), or pushed once more to the one
 * module holding a copy (the log, the home's rate limit and pending cap,
 * routing's limits: node_set_limits()).  Every other key is fixed at
 * start: the identity and the link (domain, secret, server, port), the
 * parser's and output buffer's sizes, the database, the cluster and
 * federation wiring, all held in structures built once. */
/* clang-format off */
static const struct {
    const char *section, *key;
} reloadable[] = {
    {"component", "connect_timeout"},
    {"component", "reconnect_min_ms"},
    {"component", "reconnect_max_ms"},
    {"limits", "subscription_burst"},
    {"limits", "subscriptions_per_minute"},
    {"limits", "domain_subscription_burst"},
    {"limits", "domain_subscriptions_per_minute"},
    {"limits", "node_subscription_burst"},
    {"limits", "node_subscriptions_per_minute"},
    {"limits", "max_pending_per_channel"},
    {"limits", "max_message_bytes"},
    {"offline", "max_messages"},
    {"offline", "max_bytes"},
    {"offline", "expiry_days"},
    {"registration", "domains"},
    {"admin", "jids"},
    {"log", "level"},
    {"log", "syslog"},
    {"log", "file"},
};
/* clang-format on */

bool config_reloadable(const char *section, const char *key)
{
    for (size_t i = 0; i < CS_ARRAY_SIZE(reloadable); i++) {
        if (strcmp(reloadable[i].section, section) == 0 && strcmp(reloadable[i].key, key) == 0)
            return true;
    }
    return false;
}

static void *at(const struct config *cfg, const struct directive *d)
{
    return (char *)cfg + d->offset;
}

static bool same_string(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Does key d hold the same value in a and b? */
static bool same(const struct config *a, const struct config *b, const struct directive *d)
{
    const void *pa = at(a, d), *pb = at(b, d);
    switch (d->type) {
    case DT_STRING:
    case DT_PATH: return same_string(*(char *const *)pa, *(char *const *)pb);
    case DT_INT:
    case DT_LOGLEVEL:
    case DT_SYNC:
    case DT_ROLE: return *(const int *)pa == *(const int *)pb;
    case DT_MS:
    case DT_SECONDS:
    case DT_DAYS: return *(const int64_t *)pa == *(const int64_t *)pb;
    case DT_BOOL:
    case DT_AUTO_OFF: return *(const bool *)pa == *(const bool *)pb;
    case DT_JIDS:
    case DT_DOMAINS: {
        const struct config_list *la = pa, *lb = pb;
        if (la->n != lb->n)
            return false;
        for (size_t i = 0; i < la->n; i++) {
            if (strcmp(la->v[i], lb->v[i]) != 0)
                return false;
        }
        return true;
    }
    }
    return false;
}

/* Exchanges key d's values of a and b (strings and lists by pointer:
 * whoever holds &a->list keeps reading a's). */
static void swap(struct config *a, struct config *b, const struct directive *d)
{
    union {
        char *s;
        int i;
        int64_t l;
        bool b;
        struct config_list list;
    } t;
    size_t size;
    switch (d->type) {
    case DT_STRING:
    case DT_PATH: size = sizeof(char *); break;
    case DT_MS:
    case DT_SECONDS:
    case DT_DAYS: size = sizeof(int64_t); break;
    case DT_BOOL:
    case DT_AUTO_OFF: size = sizeof(bool); break;
    case DT_JIDS:
    case DT_DOMAINS: size = sizeof(struct config_list); break;
    default: size = sizeof(int); break;
    }
    memcpy(&t, at(a, d), size);
    memcpy(at(a, d), at(b, d), size);
    memcpy(at(b, d), &t, size);
}

int config_reload(struct config *live, struct config *fresh, config_change_cb *cb, void *ud)
{
    size_t n;
    const struct directive *dirs = config_directives(&n);
    int applied = 0;

    for (size_t i = 0; i < n; i++) {
        const struct directive *d = &dirs[i];
        enum config_change what = CONFIG_APPLIED;
        if (same(live, fresh, d))
            continue;
        if (!config_reloadable(d->section, d->key))
            what = CONFIG_NEEDS_RESTART;
        else if (d->offset == offsetof(struct config, max_message_bytes) &&
                 fresh->max_message_bytes > live->max_stanza_bytes)
            /* Within the new max_stanza_bytes, which waits for a restart,
             * but not within the running one. */
            what = CONFIG_NEEDS_RESTART;
        if (what == CONFIG_APPLIED) {
            swap(live, fresh, d);
            applied++;
        }
        if (cb)
            cb(ud, d->section, d->key, what);
    }
    return applied;
}
