/* cs_link.h - the XEP-0114 component link.
 *
 * One TCP connection to the XMPP server: stream header, SHA-1 handshake,
 * stanzas in and out.  The link reconnects by itself after any loss
 * (exponential backoff with jitter between reconnect_min_ms and
 * reconnect_max_ms), restarts the stream on bad input (restricted XML,
 * size or depth limits), never blocks on a slow server (a bounded output
 * buffer; reading pauses while the buffer is above its high-water mark)
 * and reports stream errors by name.  See doc/internals-link.md. */
#ifndef CS_LINK_H
#define CS_LINK_H

#include <stdbool.h>
#include <stddef.h>

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
    /* link_shutdown() finished: the stream is closed. */
    void (*closed)(struct link *link, void *ud);
};

/* Counters for logs, tests and benchmarks. */
struct link_stats {
    unsigned long connects;       /* successful handshakes */
    unsigned long stanzas_in;
    unsigned long stanzas_out;
    unsigned long long bytes_in;
    unsigned long long bytes_out;
    unsigned long input_rejects;  /* stream restarts for bad input */
};

/* cfg and loop must outlive the link.  Caller frees with link_free().
 * Nothing happens until link_start(). */
struct link *link_new(struct loop *loop, const struct config *cfg,
                      const struct link_handlers *handlers, void *ud);
void link_free(struct link **link);
void link_start(struct link *link);

bool link_online(const struct link *link);

/* Queues a stanza (serialised at once; the tree stays the caller's).
 * Returns 0; CS_ENOTCONN when the link is not online (the stanza is NOT
 * queued: callers keep durable state and re-derive it in online());
 * CS_ELIMIT when the output buffer would exceed send_buffer_bytes (the
 * server is not reading: the link is reset and will reconnect). */
int link_send(struct link *link, const struct xml_node *stanza);
/* Same for pre-serialised XML (one or more complete stanzas). */
int link_send_raw(struct link *link, const char *data, size_t len);

/* Drops the connection at once, discarding queued output, and reconnects
 * (used when state that queued output depends on could not be stored). */
void link_reset(struct link *link, const char *reason);

/* Closes the stream cleanly: flushes, sends </stream:stream>, waits up to
 * two seconds for the server's close, then calls handlers->closed. */
void link_shutdown(struct link *link);

const struct link_stats *link_stats(const struct link *link);

/* Reconnect delay for the given attempt (0-based): min * 2^attempt capped
 * at max, then drawn uniformly from [delay/2, delay] ("equal jitter").
 * Exposed for tests. */
int link_backoff_ms(int min_ms, int max_ms, unsigned attempt);

#endif
