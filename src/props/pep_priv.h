/* pep_priv.h - what the files of the PEP service share (not a public
 * API): pep.c (resources, capabilities, events), peplease.c (property
 * subscriptions with a lease) and pepremote.c (a remote channel's items
 * at a status service). */
#ifndef CS_PEP_PRIV_H
#define CS_PEP_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_hash.h"
#include "cs_iqwait.h"
#include "cs_pep.h"
#include "cs_util.h"

enum caps_state { CAPS_QUEUED, CAPS_ASKING, CAPS_KNOWN, CAPS_BAD };

/* A resource waiting for its 'ver' to be resolved. */
struct waiter {
    struct waiter *next;
    char *channel;
    char full[];
};

/* What one 'ver' means (XEP-0115 section 5.4: cached once verified). */
struct caps {
    struct pep *pep;
    char *ver;      /* the key */
    char *ask_node; /* NODE#VER, asked of ask_jid ... */
    char *ask_jid;
    char *ask_from; /* ... by the channel it sent presence to */
    enum caps_state state;
    unsigned notify; /* PEP nodes with +notify (bit per enum pep_node) */
    unsigned refs;   /* resources using it */
    int64_t retry_at;
    char id[IQWAIT_ID_MAX];
    struct waiter *waiters;
    struct caps *next_queued;
};

/* One resource of a watcher that sent the channel presence. */
struct pepres {
    struct caps *caps; /* NULL: none known */
    unsigned own;      /* features from an answer that did not verify */
    bool use_own;
    char *bare;
    char full[];
};

struct bare_count {
    unsigned n;
    char bare[];
};

struct pepchan {
    char *name;
    struct hash res;      /* full JID -> struct pepres */
    struct hash per_bare; /* bare JID -> struct bare_count */
    /* The serialised event of each node (<event>...</event>), built when
     * first needed after a change; built_items says which are. */
    char *event[PEP_NNODES];
    unsigned built_items;
    /* A remote channel (status service): the items its home sent. */
    struct xml_node *remote_item[PEP_NNODES];
    bool remote_heard; /* its home sent any */
    /* The event cursor: node cur of the dirty ones, to targets[pos..]. */
    bool queued;
    unsigned dirty;
    int cur;
    char **targets;
    unsigned ntargets, pos;
    struct pepchan *next;
};

struct pep {
    struct pep_deps d;
    struct pep_limits lim;
    struct pep_stats stats;
    struct hash caps; /* ver -> struct caps */
    size_t ncaps;
    struct caps *q_head, *q_tail; /* waiting to be asked */
    unsigned inflight;
    bool full_logged;
    struct hash chans; /* channel name -> struct pepchan */
    struct pepchan *ev_head, *ev_tail;
    int64_t next_purge;
    struct strbuf scratch;
};

/* c's state (made when create), or NULL. */
struct pepchan *pepchan_get(struct pep *p, const char *name, bool create);
/* The nodes (bits of enum pep_node) of pc changed: their events are
 * built again and queued. */
void pep_queue_nodes(struct pep *p, struct pepchan *pc, unsigned nodes);

#endif
