/* cs_util.h - allocation helpers, time, small string utilities.
 *
 * Out-of-memory policy (decided once for the whole program): the x*
 * allocators below never return NULL; on allocation failure they log and
 * abort().  All durable state lives in SQLite and is committed before any
 * stanza depending on it is sent, so a supervisor restart after abort loses
 * nothing a peer was told about. */
#ifndef CS_UTIL_H
#define CS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define CS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Caller frees with free(). Never NULL. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Monotonic clock in milliseconds: the now_ms every function of the core
 * takes, for every deadline (timers, leases, retries, rate buckets,
 * timeouts).  Read only by the daemon and the link. */
int64_t cs_now_ms(void);

/* The wall clock as the core sees it: a port the daemon registers at
 * wiring time.  It turns a monotonic now_ms into wall-clock milliseconds
 * at the one boundary where a time is stored or shown (delay stamps, last
 * seen, when a stored message arrived, a lease's end as stored for
 * chanstatctl).  No deadline goes through it, so a step of the wall clock
 * (NTP, an admin) moves no timer.  Tests give one whose wall clock they
 * move. */
struct cs_clock {
    int64_t (*wall_minus_mono_ms)(void *ud); /* wall - monotonic, at the call */
    void *ud;
};
/* mono_ms (a now_ms) in wall-clock ms.  clock NULL: mono_ms is taken as
 * the wall time too (tests that drive a single clock). */
int64_t cs_wall_of(const struct cs_clock *clock, int64_t mono_ms);
/* The system's clocks as a struct cs_clock (what the daemon registers). */
int64_t cs_system_wall_minus_mono(void *unused);
/* Wall clock in milliseconds since the epoch.  Read only at
 * the edge (the daemon); the core gets the time passed in. */
int64_t cs_wall_ms(void);

/* SHA-1 of data into out (20 bytes). */
void cs_sha1(const void *data, size_t len, unsigned char out[20]);
/* Lowercase hex SHA-1 of data into out (41 bytes incl. NUL). */
void cs_sha1_hex(const void *data, size_t len, char out[41]);
/* data in base64 (RFC 4648, padded, no line breaks); caller frees. */
char *cs_base64(const void *data, size_t len);

/* XEP-0082 DateTime, as XEP-0060's pubsub#expire carries it:
 * CCYY-MM-DDThh:mm:ss, optional fraction of a second (dropped), then Z
 * or +hh:mm / -hh:mm.  *secs_r: seconds since the epoch (UTC).  0, or
 * CS_EINVAL for anything else (no leniency: untrusted text). */
int cs_parse_utc(const char *s, int64_t *secs_r);
/* secs as CCYY-MM-DDThh:mm:ssZ into out (at least CS_UTC_LEN bytes). */
#define CS_UTC_LEN 21
void cs_format_utc(int64_t secs, char *out);

/* Bounded string copy that always NUL-terminates (when size > 0);
 * returns strlen(src). */
size_t cs_strlcpy(char *dst, const char *src, size_t size);

/* The one parser for a number that arrives in a stanza (or any other
 * untrusted text): an optional '-' (only where min < 0), then one or more
 * ASCII digits and nothing else: no space, '+', hex or trailing text.
 * The value must lie in [min, max]; it is range-checked while digits are
 * read, so no input overflows.  Returns 0 with *v_r set, CS_EINVAL when s
 * is NULL or not such a number, CS_ELIMIT when it is out of range. */
int cs_parse_int(const char *s, int64_t min, int64_t max, int64_t *v_r);

/* Uniform random integer in [0, bound), bound > 0. Not for cryptography. */
uint32_t cs_random_below(uint32_t bound);

/* Growable byte buffer, always NUL-terminated when data != NULL.
 * Owned by whoever declared it; release with strbuf_free(). */
struct strbuf {
    char *data;
    size_t len;
    size_t cap;
};
void strbuf_reserve(struct strbuf *sb, size_t extra);
void strbuf_append(struct strbuf *sb, const void *data, size_t len);
void strbuf_append_str(struct strbuf *sb, const char *s);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len). */
void strbuf_consume(struct strbuf *sb, size_t n);
void strbuf_free(struct strbuf *sb);

/* Last, after every system header this one needs: the build force-includes
 * it anyway; this covers a file compiled by hand. */
#include "cs_banned.h"

#endif
