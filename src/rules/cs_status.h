/* cs_status.h - a channel's status: the owner's resources and their
 * aggregate (doc/internals-subscriptions.md, "Status aggregation").
 *
 * Pure data and functions: parse an owner's presence into a resource
 * update, keep the set of available owner resources, and compute the
 * aggregate: the available resource with the highest priority gives show
 * and status text (ties: the most recent); none available means
 * unavailable, with the last-seen time kept.  Negative priorities count
 * as available for status (unlike message delivery, RFC 6121 8.5.2). */
#ifndef CS_STATUS_H
#define CS_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_xml.h"

enum status_show {
    SHOW_UNAVAILABLE = 0,
    SHOW_AVAILABLE, /* no <show/> */
    SHOW_CHAT,
    SHOW_AWAY,
    SHOW_XA,
    SHOW_DND,
};

#define STATUS_TEXT_MAX 1024 /* bytes kept of a <status/> text */

struct status_resource {
    char *resource; /* owned */
    enum status_show show;
    char *text;    /* owned, may be NULL */
    int priority;  /* -128..127 (RFC 6121 4.7.2.3) */
    int64_t since; /* wall clock seconds of the last change */
    uint64_t seq;  /* arrival order, for ties within one second */
};

/* The owner resources of one channel and their aggregate.  Owned by the
 * caller; status_set_deinit() releases. */
struct status_set {
    struct status_resource *res;
    unsigned n, cap;
    uint64_t next_seq;
    int64_t last_seen; /* when the last resource went away (0 = never seen) */
};

/* An aggregate snapshot; text borrowed from the set. */
struct status_view {
    enum status_show show;
    const char *text;
    int priority;
    int64_t since;     /* of the winning resource */
    int64_t last_seen; /* when unavailable */
};

/* What an owner's presence stanza says about one resource. */
struct status_update {
    const char *resource; /* borrowed from the stanza's from */
    bool available;
    enum status_show show;
    char *text; /* owned: free with status_update_deinit() */
    int priority;
};

/* Parses <presence/> (no type or type='unavailable').  Returns 0, or
 * CS_EINVAL for an invalid <show/> or <priority/> (RFC 6121 4.7.2: the
 * stanza is then not used). */
int status_update_parse(const struct xml_node *presence, const char *resource,
                        struct status_update *u_r);
void status_update_deinit(struct status_update *u);

/* Applies an update at time now; returns true when the aggregate changed. */
bool status_set_apply(struct status_set *set, const struct status_update *u, int64_t now);
/* All resources gone at once (owner unbound, link lost, probe answered
 * unavailable); returns true when the aggregate changed. */
bool status_set_clear(struct status_set *set, int64_t now);
void status_set_view(const struct status_set *set, struct status_view *v_r);
void status_set_deinit(struct status_set *set);

/* The resource a message to the bare channel goes to: the available one
 * with the highest non-negative priority, ties to the most recent (RFC
 * 6121 8.5.2.1.1: negative priorities never get bare-JID messages).
 * NULL when there is none.  Borrowed from set. */
const char *status_set_message_target(const struct status_set *set);

bool status_view_equal(const struct status_view *a, const struct status_view *b);

/* Builds the <presence/> a watcher receives for view, from 'from', without
 * 'to' (the fan-out adds it).  Caller frees. */
struct xml_node *status_presence(const struct status_view *v, const char *from);

const char *status_show_name(enum status_show show); /* "away", ..., "available" */

#endif
