/* hash.c - string-keyed open-addressing hash table (see cs_hash.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_hash.h"
#include "cs_util.h"

#define HASH_MIN_CAP 16

/* FNV-1a: short keys (JIDs, channel names), good spread, no setup. */
uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static size_t find(const struct hash *h, const char *key, uint32_t hv, bool *found)
{
    size_t mask = h->cap - 1;
    size_t i = hv & mask;
    for (;;) {
        const struct hash_slot *s = &h->slots[i];
        if (s->key == NULL) {
            *found = false;
            return i;
        }
        if (s->hash == hv && strcmp(s->key, key) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

void *hash_get(const struct hash *h, const char *key)
{
    bool found;
    size_t i;
    if (h->n == 0)
        return NULL;
    i = find(h, key, hash_str(key), &found);
    return found ? h->slots[i].value : NULL;
}

static void grow(struct hash *h)
{
    struct hash_slot *old = h->slots;
    size_t oldcap = h->cap;
    h->cap = oldcap ? oldcap * 2 : HASH_MIN_CAP;
    h->slots = xcalloc(h->cap, sizeof(*h->slots));
    for (size_t j = 0; j < oldcap; j++) {
        if (old[j].key) {
            size_t i = old[j].hash & (h->cap - 1);
            while (h->slots[i].key)
                i = (i + 1) & (h->cap - 1);
            h->slots[i] = old[j];
        }
    }
    free(old);
}

void *hash_put(struct hash *h, const char *key, void *value)
{
    uint32_t hv = hash_str(key);
    bool found;
    size_t i;
    if ((h->n + 1) * 4 > h->cap * 3)
        grow(h);
    i = find(h, key, hv, &found);
    if (found) {
        void *prev = h->slots[i].value;
        h->slots[i].key = key;
        h->slots[i].value = value;
        return prev;
    }
    h->slots[i] = (struct hash_slot){key, value, hv};
    h->n++;
    return NULL;
}

void *hash_del(struct hash *h, const char *key)
{
    size_t mask = h->cap - 1, i, j;
    bool found;
    void *value;
    if (h->n == 0)
        return NULL;
    i = find(h, key, hash_str(key), &found);
    if (!found)
        return NULL;
    value = h->slots[i].value;
    /* Backward shift: move later members of the probe run into the hole
     * unless their home slot lies cyclically within (hole, j]. */
    j = i;
    for (;;) {
        size_t home;
        j = (j + 1) & mask;
        if (h->slots[j].key == NULL)
            break;
        home = h->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            h->slots[i] = h->slots[j];
            i = j;
        }
    }
    h->slots[i].key = NULL;
    h->slots[i].value = NULL;
    h->n--;
    return value;
}

void hash_clear(struct hash *h)
{
    free(h->slots);
    h->slots = NULL;
    h->cap = h->n = 0;
}

bool hash_next(const struct hash *h, size_t *pos, const char **key_r, void **value_r)
{
    for (; *pos < h->cap; (*pos)++) {
        if (h->slots[*pos].key) {
            *key_r = h->slots[*pos].key;
            *value_r = h->slots[*pos].value;
            (*pos)++;
            return true;
        }
    }
    return false;
}
