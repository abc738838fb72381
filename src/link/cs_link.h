/* cs_link.h - the XEP-0114 component link.
 *
 * One TCP connection to the XMPP server: stream header, SHA-1 handshake,
 * stanzas in and out.  The link reconnects by itself after any loss
 * (exponential backoff with jitter between reconnect_min_ms and
 * reconnect_max_ms), restarts the stream on bad input (restricted XML,
 * size or depth limits), never blocks on a slow server and reports stream
 * errors by name.  Output is never refused while online: producers keep
 * within link_room() (send_buffer_bytes) and resume on drained; reading
 * pauses while more than send_buffer_bytes are pending; the server counts
 * as "not reading" when output queued stall_timeout seconds ago is still
 * not written (it takes nothing, or a trickle).  See doc/internals-link.md and
 * doc/internals-flow.md. */
#ifndef CS_LINK_H
#define CS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_xml.h"

struct config;
struct loop;
struct link;

struct link_handlers {
    /* The handshake succeeded: stanzas can flow.  Called after every
     * (re)connect: re-derive from storage what peers must know. */
    void (*online)(struct link *link, void *ud);
    /* The link went down (it will reconnect unless shutting down). */
    void (*offline)(struct link *link, void *ud);
    /* An inbound stanza (message/presence/iq).  Borrowed for the call. */
    void (*stanza)(struct link *link, struct xml_node *stanza, void *ud);
    /* A batch of inbound stanzas was handled; output queued so far has
     * not reached the socket yet (commit durable state here). */
    void (*batch_end)(struct link *link, void *ud);
    /* Everything queued so far was handed to the kernel for the server. */
    void (*drained)(struct link *link, void *ud);
    /* Pending output fell from above half of send_buffer_bytes to half
     * or less (not empty yet): producers may continue. */
    void (*writable)(struct link *link, void *ud);
    /* link_shutdown() finished: the stream is closed. */
    void (*closed)(struct link *link, void *ud);
};

/* Counters for logs, tests and benchmarks. */
struct link_stats {
    unsigned long connects; /* successful handshakes */
    unsigned long long bytes_in;
    unsigned long long bytes_out;
    unsigned long input_rejects; /* stream restarts for bad input */
};

/* cfg and loop must outlive the link.  Caller frees with link_free().
 * Nothing happens until link_start(). */
struct link *link_new(struct loop *loop, const struct config *cfg,
                      const struct link_handlers *handlers, void *ud);
void link_free(struct link **link);
void link_start(struct link *link);

bool link_online(const struct link *link);

/* Queues a stanza (serialised at once; the tree stays the caller's).
 * Returns 0, or CS_ENOTCONN when the link is not online (the stanza is
 * NOT queued: callers keep durable state and re-derive it in online()).
 * Never drops: callers that can produce much keep within link_room(). */
int link_send(struct link *link, const struct xml_node *stanza);
/* Same for pre-serialised XML (one or more complete stanzas). */
int link_send_raw(struct link *link, const char *data, size_t len);
/* Bytes that may still be queued before producers should pause (0 when
 * offline or at the budget). */
size_t link_room(const struct link *link);
/* Offset just past the queued output; offsets stay valid until the
 * buffer is next written to the socket (not within one inbound batch). */
size_t link_mark(const struct link *link);
/* Replaces queued, unwritten bytes [from, to) with repl. */
void link_splice(struct link *link, size_t from, size_t to, const char *repl, size_t len);

/* Closes the stream cleanly: flushes, sends </stream:stream>, waits up to
 * two seconds for the server's close, then calls handlers->closed. */
void link_shutdown(struct link *link);

const struct link_stats *link_stats(const struct link *link);

/* Reconnect delay for the given attempt (0-based): min * 2^attempt capped
 * at max, then drawn uniformly from [delay/2, delay] ("equal jitter").
 * Exposed for tests. */
int64_t link_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempt);

#endif
