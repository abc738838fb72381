/* cs_node.h - one chanstat node: storage, home, routing and dispatch
 * wired to one output path, driven by link events and the time.
 *
 * This is the daemon minus sockets and clocks (chanstatd.c adds those),
 * so the batch and flow-control rules below are tested without a server:
 *   - Inbound stanzas of one read form a batch; their state changes are
 *     committed in node_batch_end() before any of the batch's output can
 *     reach the socket.  If that commit fails, the answers of exactly the
 *     stanzas that changed state are taken back from the output and
 *     replaced by a stanza error to their senders (wait /
 *     internal-server-error); answers that depended on no state (a
 *     message routed straight to the owner, an iq result) still go.  The
 *     cache is then reloaded from the database.
 *   - Producers (fan-out, resync, owner binding, offline flush) run only
 *     after a commit, in node_pump(), while the output has room; they
 *     continue on node_drained() and node_tick().
 * See doc/internals-flow.md. */
#ifndef CS_NODE_H
#define CS_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "cs_out.h"
#include "cs_xml.h"

struct config;
struct store;
struct node;

struct node_stats {
    unsigned long commit_failures;
    unsigned long answers_taken_back; /* stanzas answered with an error after a failed commit */
    unsigned long edits_applied;      /* change-log entries (sqlite3, chanstatctl) applied */
};

/* cfg, store and out must outlive the node; now_ms is when the daemon
 * started (the domain's uptime, XEP-0012, counts from it).  NULL with err
 * filled when the storage handles cannot be prepared.  Caller frees with
 * node_free(). */
struct node *node_new(const struct config *cfg, struct store *store, const struct out *out,
                      int64_t now_ms, char *err, size_t errlen);
void node_free(struct node **node);
/* cfg's limits once more, after a reload (SIGHUP) changed them: [limits]
 * subscription_burst, subscriptions_per_minute, domain_subscription_burst,
 * domain_subscriptions_per_minute, max_pending_per_channel,
 * max_message_bytes and [offline] (config_reload() in cs_config.h).  The
 * keys read through the node's cfg pointer need no call. */
void node_set_limits(struct node *node, const struct config *cfg);

void node_stanza(struct node *node, const struct xml_node *stanza, int64_t now_ms);
void node_batch_end(struct node *node, int64_t now_ms);
void node_drained(struct node *node, int64_t now_ms);
void node_online(struct node *node, int64_t now_ms);
void node_offline(struct node *node, int64_t now_ms);
/* Call about every NODE_TICK_MS: resync, retries, expiry, persistence. */
void node_tick(struct node *node, int64_t now_ms);
/* Runs the producers while the output has room, a bounded amount of
 * work per call.  Returns true when they stopped for that bound with
 * room left: call again once the loop has read its inputs. */
bool node_pump(struct node *node, int64_t now_ms);
/* Did the last pump (of any entry point) stop for its work bound? */
bool node_wants_pump(const struct node *node);
/* The output fell well below its budget: producers continue (before it
 * is empty, so producing and writing overlap). */
void node_writable(struct node *node, int64_t now_ms);

#define NODE_TICK_MS 250
/* After a (re)connect, owners are probed at once; their answers arrive
 * within this delay, after which every watcher that may hold a stale
 * view is sent the status we then hold. */
#define NODE_RESYNC_DELAY_MS 2000

const struct node_stats *node_stats(const struct node *node);
/* Every counter, up to date (cs_stats.h).  Borrowed. */
struct stats;
const struct stats *node_counters(struct node *node);
/* The link's counters, for the stats (reconnects, bytes, input rejects). */
struct link_stats;
void node_note_link(struct node *node, const struct link_stats *link);
/* The wall clock for what is stored or shown (cs_util.h; borrowed).
 * Every now_ms passed in is monotonic and drives every deadline; without
 * a clock (tests), now_ms is taken as the wall time too. */
void node_use_clock(struct node *node, const struct cs_clock *clock);
/* A microsecond clock to time commits with (none: not timed). */
void node_set_clock(struct node *node, int64_t (*clock_us)(void));
struct uroster *node_uroster(struct node *node);
/* Owner binding starts this long after a (re)connect (default 0): a
 * server's XEP-0356 grant, sent right after the handshake, is known by
 * then, and owners whose presence it grants are not asked. */
void node_set_bind_delay(struct node *node, int64_t ms);
#define NODE_BIND_DELAY_MS 500

#endif
