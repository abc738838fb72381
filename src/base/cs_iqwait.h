/* cs_iqwait.h - the one registry of our own iq requests awaiting an answer.
 *
 * Whoever sends an iq get/set of its own (the roster sync to users'
 * servers, federation discovery of remote domains) registers it here
 * first: with the address it goes to, a deadline and a callback.  The
 * registry hands out a fresh id for the iq.  The callback is called
 * exactly once:
 *   - with the answer: an iq result or error whose id is the request's
 *     and whose 'from' is the address asked (both normalised, cs_jid.h);
 *     an answer from any other address is ignored and the request stays
 *     pending, so a forged answer cannot complete it;
 *   - with NULL at the deadline (iqwait_expire); an answer after that is
 *     ignored;
 *   - never, once the request was cancelled (iqwait_cancel: the object
 *     waiting is gone, or the link went down and its owner dropped it).
 * The registry sends nothing and reads no clock: times are passed in.
 *
 * Costs: finding an answer's request is one hash lookup (cs_hash.h).
 * Requests are kept in order of deadline: adding walks back from the
 * latest deadline, O(1) when deadlines come in order (each caller adds
 * now plus its own fixed timeout) and at worst O(pending); expiry takes
 * the due ones off the front, O(expired).  The registry does not bound
 * the number of requests; its callers do (the roster sync keeps at most
 * UROSTER_MAX_INFLIGHT in flight, discovery one per remote domain,
 * capabilities PEP_CAPS_INFLIGHT). */
#ifndef CS_IQWAIT_H
#define CS_IQWAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_stanza.h"

/* The longest id, with its NUL.  A prefix leaves room for 16 hex digits. */
#define IQWAIT_ID_MAX 32
#define IQWAIT_PREFIX_MAX 15

struct iqwait;
struct xml_node;

/* answer: the iq result or error (borrowed, valid for the call), or NULL
 * when the deadline passed.  now_ms: the time passed to iqwait_answer or
 * iqwait_expire.  The callback may add and cancel requests. */
typedef void iqwait_cb(void *ud, const struct xml_node *answer, int64_t now_ms);

/* An empty registry; never NULL (allocation aborts). */
struct iqwait *iqwait_new(void);
/* Frees the registry and the requests still pending, without calling
 * their callbacks (their user data stays the callers').  NULL-safe; sets
 * *w to NULL. */
void iqwait_free(struct iqwait **w);

/* Registers a request to `to` (a JID; compared normalised), answered by
 * deadline_ms at the latest, and returns its id: prefix (at most
 * IQWAIT_PREFIX_MAX characters, e.g. "ur") and a number never handed out
 * before by this registry.  The caller puts the id on the iq it sends.
 * The id is borrowed: valid until the callback is called or the request
 * is cancelled (copy it to keep it; IQWAIT_ID_MAX bytes hold it).  NULL
 * when `to` is not a valid JID or prefix is too long (nothing is
 * registered). */
const char *iqwait_add(struct iqwait *w, const char *prefix, const char *to, int64_t deadline_ms,
                       iqwait_cb *cb, void *ud);
/* Forgets request id without calling its callback.  false when no such
 * request is pending (already answered, expired or cancelled). */
bool iqwait_cancel(struct iqwait *w, const char *id);

/* An inbound iq result or error: when its id and 'from' match a pending
 * request, the request is taken off and its callback called with iq;
 * returns true.  false for anything else (not a result or error, no such
 * id, another 'from', an answer after the deadline or a cancel): the
 * caller drops it (RFC 6120 8.3.1: errors are never answered). */
bool iqwait_answer(struct iqwait *w, const struct stanza_in *iq);
/* Calls back (with NULL) every request whose deadline is at or before
 * now_ms.  Called about once a second.  Requests added by those callbacks
 * wait for the next call. */
void iqwait_expire(struct iqwait *w, int64_t now_ms);

/* Requests pending. */
size_t iqwait_pending(const struct iqwait *w);

#endif
