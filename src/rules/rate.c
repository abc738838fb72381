/* rate.c - per-sender token buckets with bounded memory. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_rate.h"
#include "cs_util.h"

#define SWEEP_INTERVAL_MS 1000

struct rate_bucket {
    double tokens;
    int64_t last; /* ms */
    char sender[];
};

void rate_init(struct rate_limiter *rl, int burst, int per_minute)
{
    memset(rl, 0, sizeof(*rl));
    rl->burst = burst;
    rl->per_minute = per_minute;
}

void rate_set(struct rate_limiter *rl, int burst, int per_minute)
{
    rl->burst = burst;
    rl->per_minute = per_minute;
}

void rate_deinit(struct rate_limiter *rl)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&rl->buckets, &pos, &k, &v))
        free(v);
    hash_clear(&rl->buckets);
}

static double refill(const struct rate_limiter *rl, const struct rate_bucket *b, int64_t now)
{
    int64_t dt = now - b->last;
    double t = b->tokens + (dt > 0 ? (double)dt * rl->per_minute / 60000.0 : 0.0);
    return t > rl->burst ? rl->burst : t;
}

/* O(number of buckets), at most once per SWEEP_INTERVAL_MS. */
static void sweep(struct rate_limiter *rl, int64_t now)
{
    struct hash keep = {0};
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&rl->buckets, &pos, &k, &v)) {
        struct rate_bucket *b = v;
        if (refill(rl, b, now) >= rl->burst)
            free(b);
        else
            hash_put(&keep, b->sender, b);
    }
    hash_clear(&rl->buckets);
    rl->buckets = keep;
    rl->next_sweep = now + SWEEP_INTERVAL_MS;
}

bool rate_allow(struct rate_limiter *rl, const char *sender, int64_t now)
{
    struct rate_bucket *b = hash_get(&rl->buckets, sender);
    if (b == NULL) {
        size_t len = strlen(sender);
        if (rl->buckets.n >= RATE_MAX_SENDERS && now >= rl->next_sweep)
            sweep(rl, now);
        if (rl->buckets.n >= RATE_MAX_SENDERS)
            return false; /* a flood from many senders: refuse newcomers */
        b = xmalloc(sizeof(*b) + len + 1);
        memcpy(b->sender, sender, len + 1);
        b->tokens = rl->burst;
        b->last = now;
        hash_put(&rl->buckets, b->sender, b);
    }
    b->tokens = refill(rl, b, now);
    if (now > b->last)
        b->last = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}
