/* place.c - rendezvous hashing of channel names over homes (cs_place.h). */
#include "config.h"

#include <string.h>

#include "cs_place.h"

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv(uint64_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t place_score(const char *home, const char *name)
{
    /* The NUL keeps ("ab", "c") and ("a", "bc") apart. */
    uint64_t h = fnv(FNV_OFFSET, home, strlen(home) + 1);
    h = fnv(h, name, strlen(name));
    /* FNV alone mixes the last bytes poorly: names that differ only at
     * the end would score close together on every home. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

size_t place_pick(const char *name, const char *const *homes, size_t n)
{
    size_t best = 0;
    uint64_t top = place_score(homes[0], name);
    for (size_t i = 1; i < n; i++) {
        uint64_t s = place_score(homes[i], name);
        if (s > top || (s == top && strcmp(homes[i], homes[best]) < 0)) {
            top = s;
            best = i;
        }
    }
    return best;
}
