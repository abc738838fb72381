/* cs_config.h - the configuration file: one struct, one directive table.
 *
 * The INI file is parsed (inih) over config_defaults(); every key is a row
 * of the table in src/base/config.c with its section, type, default and range,
 * and that table also drives config_print() and the sample file's
 * documentation.  Errors name file, line and key. */
#ifndef CS_CONFIG_H
#define CS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Durations are held in milliseconds whatever unit the file writes them
 * in (seconds, days or milliseconds, per key): converted once, when the
 * file is read.  A module that wants another unit converts where it
 * takes the value, with these. */
#define MS_PER_S 1000
#define S_PER_DAY 86400
#define MS_PER_DAY ((int64_t)S_PER_DAY * MS_PER_S)

/* A list value (space- or comma-separated items, validated and normalised
 * as the key's type says).  Items in file order; owned by the config. */
struct config_list {
    char **v;
    size_t n;
};

struct config {
    /* [component] */
    char *domain;               /* required: the component domain (stored lowercased) */
    char *secret;               /* required: XEP-0114 shared secret */
    char *server;               /* host or address of the server's component listener */
    int port;                   /* component listener port */
    int64_t connect_timeout_ms; /* TCP connect + handshake (file: s) */
    int64_t keepalive_ms;       /* whitespace keepalive interval, 0 = off (file: s) */
    int64_t reconnect_min_ms;   /* first reconnect delay */
    int64_t reconnect_max_ms;   /* backoff cap (>= reconnect_min_ms) */
    /* [limits] */
    int max_stanza_bytes;          /* larger inbound stanza: cut, policy-violation */
    int max_depth;                 /* deeper nesting: cut, policy-violation */
    int send_buffer_bytes;         /* output budget: producers and input pause above it */
    int64_t stall_timeout_ms;      /* pending output stuck this long = not reading (file: s) */
    int subscription_burst;        /* subscription stanzas one sender may send at once */
    int subscriptions_per_minute;  /* ... and per minute after that */
    int domain_subscription_burst; /* the same for all senders of one domain */
    int domain_subscriptions_per_minute; /* ... and per minute after that */
    int node_subscription_burst;         /* new node subscriptions, all nodes together */
    int node_subscriptions_per_minute;   /* ... and per minute after that */
    int max_pending_per_channel;         /* pending requests a channel keeps */
    int max_message_bytes;               /* larger messages get policy-violation */
    /* [offline] */
    int offline_max_messages;  /* per channel */
    int offline_max_bytes;     /* per channel */
    int64_t offline_expiry_ms; /* stored messages older than this are dropped (file: days) */
    /* [registration] (XEP-0077 on the component domain) */
    bool registration_enabled;
    int registration_max_per_owner;          /* channels one bare JID may register */
    struct config_list registration_domains; /* senders' domains allowed; empty = any */
    /* [admin] */
    struct config_list admin_jids; /* bare JIDs allowed the domain's ad-hoc commands */
    /* [service] */
    bool list_channels; /* disco#items of the domain lists open and approve channels */
    /* [fanout] (XEP-0033 batches, cs_mcast.h) */
    bool multicast;                      /* file: auto (true) or off */
    struct config_list multicast_domain; /* at most one; empty = the parent domain */
    int multicast_max;
    /* [properties] */
    int64_t prop_lease_default_ms; /* granted to a property subscription naming no expiry */
    int64_t prop_lease_max_ms;     /* the longest granted */
    int prop_max_subscriptions;    /* property subscriptions per channel */
    /* [storage] */
    char *database;      /* SQLite file */
    int busy_timeout_ms; /* SQLite busy timeout */
    int synchronous;     /* PRAGMA synchronous: 2 = full, 1 = normal */
    /* [log] */
    int log_level;   /* enum log_level */
    bool log_syslog; /* also log to syslog */
    char *log_file;  /* lines appended here instead of stderr; NULL = stderr */
    /* [federation] (doc/federation.md); the file writes seconds */
    int64_t fed_lease_ms;
    int64_t fed_resubscribe_delta_ms;
    int64_t fed_min_resubscribe_ms;
    int64_t fed_retry_ms; /* also the owner binding retry */
    int64_t fed_linger_ms;
    int64_t fed_discovery_ttl_ms;
    int64_t fed_request_timeout_ms;
    struct config_list fed_local_domains; /* empty: the parent domain */
    struct config_list fed_trusted_nodes;
    /* [cluster] (doc/cluster.md) */
    int cluster_role;                 /* enum cluster_role */
    struct config_list cluster_homes; /* front: its homes' component domains */
    struct config_list cluster_front; /* home: exactly one, its front */
    int64_t cluster_home_check_ms;    /* a silent home is noticed within this (file: s) */
};

enum cluster_role { CLUSTER_STANDALONE, CLUSTER_FRONT, CLUSTER_HOME };
/* "standalone", "front" or "home". */
const char *cluster_role_name(int role);

/* Fills defaults: strings are allocated, domain and secret NULL.  Release
 * with config_deinit(). */
void config_defaults(struct config *cfg);
/* Parses path over cfg (which holds defaults).  Returns 0, or CS_ECONFIG
 * (CS_EIO when the file cannot be read) with a one-line message in err
 * naming file, line and key; cfg may then hold some parsed values and
 * must still be released with config_deinit(). */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);
/* Every key's effective value, in INI form; the secret is masked. */
void config_print(const struct config *cfg, FILE *out);
/* Is jid (a normalised bare JID) / domain in list?  O(items). */
bool config_list_has(const struct config_list *list, const char *item);
/* Frees the strings and lists; safe to call twice. */
void config_deinit(struct config *cfg);

/* ---- Reloading (SIGHUP, configreload.c) ---- */

/* What config_reload() did with one key whose value changed. */
enum config_change {
    CONFIG_APPLIED,       /* the running node takes the new value */
    CONFIG_NEEDS_RESTART, /* the old value stays in force until a restart */
};
typedef void config_change_cb(void *ud, const char *section, const char *key,
                              enum config_change what);
/* May section/key change while chanstatd runs?  The list is in
 * configreload.c and doc/config.md. */
bool config_reloadable(const char *section, const char *key);
/* Compares fresh (a file config_load() accepted) with live, key by key,
 * in table order.  A changed key that may change at run time is moved
 * into live (fresh gets the old value, freed with fresh); any other
 * changed key keeps live's value, as does max_message_bytes above live's
 * max_stanza_bytes.  cb (may be NULL) hears of every changed key.
 * Returns how many were applied.  What holds a copy of an applied value
 * (the log, node_set_limits()) is the caller's to update. */
int config_reload(struct config *live, struct config *fresh, config_change_cb *cb, void *ud);

#endif
