/* cs_out.h - the one output path of the protocol core.
 *
 * Every stanza the core produces goes through a struct out: the daemon
 * wires it to the component link, tests to a capture buffer.  Writing
 * never drops silently: it returns 0 (accepted, will be written) or
 * CS_ENOTCONN (nothing accepted: the link is down, callers keep durable
 * state and re-derive output when it is back).
 *
 * Back-pressure (doc/internals-flow.md): room() says how many bytes may
 * still be queued before producers should pause.  Answers to an inbound
 * stanza (a handful of stanzas each) are always written: input pauses
 * while output is above its high-water mark, which bounds them.
 * Producers that can emit more than one buffer's worth (fan-out, resync,
 * owner probes, offline flush) are cursors: they write while room() > 0
 * and continue from where they stopped when the output drains. */
#ifndef CS_OUT_H
#define CS_OUT_H

#include <stddef.h>

#include "cs_xml.h"

struct out {
    /* Queues one or more complete serialised stanzas.  0 or CS_ENOTCONN. */
    int (*write)(void *ud, const char *xml, size_t len);
    /* Bytes producers may still queue now (0: pause until drained). */
    size_t (*room)(void *ud);
    /* Offset of the end of the output queued so far and not yet written
     * to the socket; stable until the next drain (see splice). */
    size_t (*mark)(void *ud);
    /* Replaces queued bytes [from, to) (offsets from mark()) with repl:
     * used to take back answers that depended on state that could not be
     * committed.  May be NULL in tests that never need it. */
    void (*splice)(void *ud, size_t from, size_t to, const char *repl, size_t len);
    void *ud;
};

/* Serialises stanza (the tree stays the caller's) and writes it. */
int out_stanza(const struct out *o, const struct xml_node *stanza);
static inline int out_raw(const struct out *o, const char *xml, size_t len)
{
    return o->write(o->ud, xml, len);
}
static inline size_t out_room(const struct out *o)
{
    return o->room(o->ud);
}

#endif
