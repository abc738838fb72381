/* cs_rate.h - per-sender token buckets (subscription flood limit).
 *
 * Each sender has a bucket of `burst` tokens refilled at `per_minute`;
 * a stanza costs one token.  Memory is bounded: at most RATE_MAX_SENDERS
 * buckets; when full, buckets that have refilled completely (they hold no
 * information) are dropped, in one sweep at most once per second, and a
 * newcomer that still finds no room is refused.  The time comes in from
 * the caller (milliseconds); the module reads no clock. */
#ifndef CS_RATE_H
#define CS_RATE_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_hash.h"

#define RATE_MAX_SENDERS 200000 /* about 20 MiB at most */

struct rate_limiter {
    int burst;
    int per_minute;
    struct hash buckets; /* sender -> struct rate_bucket * (owned) */
    int64_t next_sweep;  /* ms */
};

void rate_init(struct rate_limiter *rl, int burst, int per_minute);
void rate_deinit(struct rate_limiter *rl);
/* New limits for every bucket: each refills at the new rate from now on,
 * and holds at most the new burst. */
void rate_set(struct rate_limiter *rl, int burst, int per_minute);
/* Takes one token of sender's bucket at now_ms; false when it has none. */
bool rate_allow(struct rate_limiter *rl, const char *sender, int64_t now_ms);

#endif
