/* fed_priv.h - what the status service's files share (fed.c: remote
 * channels and their watchers; feddisco.c: is a domain a chanstat node?;
 * fedcluster.c: a front's homes).  Calls run fedcluster.c -> fed.c ->
 * feddisco.c, never back.  Not for other floors. */
#ifndef FED_PRIV_H
#define FED_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_federation.h"

enum remote_state {
    R_IDLE,      /* nothing asked yet (loaded at start, or after the link came back) */
    R_DISCOVER,  /* disco#info sent to the home's domain */
    R_SUBSCRIBE, /* subscribe sent, answer awaited */
    R_ACTIVE,    /* subscribed, lease running */
    R_ERROR,     /* refused, failed or expired: watchers see unavailable; retried */
};

struct remote {
    char *home;   /* the channel's JID at its home: carol@status.b.test */
    char *domain; /* its domain: status.b.test */
    enum remote_state state;
    bool subscribed_once; /* the home accepted us at least once */
    int64_t deadline;     /* ms: answer expected by */
    int64_t lease_end;    /* ms */
    int64_t last_sent;    /* ms: last subscribe */
    int64_t retry_at;     /* ms */
    int64_t linger_at;    /* ms: no local watchers since; 0 = has some */
    bool status_known;    /* the home told us its status since we (re)subscribed */
    char **pending;       /* local users waiting for the first answer */
    unsigned npending, cappending;
    char policy[16];
    struct channel *next; /* all remote channels: h->fed_head */
};

struct disco {
    bool known, is_node;
    int64_t expires;        /* ms */
    bool asking;            /* a request is pending in h->iqwait ... */
    char id[IQWAIT_ID_MAX]; /* ... under this id */
    struct home *home;
    char domain[];
};

/* fed.c (calls feddisco.c; fedcluster.c calls it) */
struct channel *remote_of(struct home *h, const char *home_jid, bool create);
void remote_send(struct home *h, struct channel *c, const char *type, bool lease, int64_t now_ms);
void remote_subscribe(struct home *h, struct channel *c, int64_t now_ms);
void remote_discover(struct home *h, struct channel *c, int64_t now_ms);
void remote_refuse_all(struct home *h, struct channel *c, const char *why, int64_t now_ms);
/* The upstream is gone or failing: watchers see unavailable; retried. */
void remote_error(struct home *h, struct channel *c, const char *why, int64_t now_ms);
/* feddisco.c (calls nothing of fed.c: its answers reach fed.c through
 * h->disco_done, set by fed_load) */
/* Asks domain "are you a chanstat node?" (once at a time). */
struct disco *disco_ask(struct home *h, const char *domain, int64_t now_ms);
/* A discovery in flight is dropped unanswered. */
void disco_stop(struct home *h, struct disco *d);
/* Is domain one of this front's homes? */
bool cluster_home(const struct home *h, const char *domain);
/* The JID at its home of a remote channel stored under addr (a remote
 * channel's JID, or at a front its public address): caller frees; NULL
 * when it names none (a front's address without a placement yet). */
char *cluster_home_jid(const struct home *h, const char *addr);

#endif
