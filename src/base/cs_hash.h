/* cs_hash.h - a string-keyed hash table with growth.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), so a table never degrades with churn.  It grows by
 * doubling at 3/4 load: insert, lookup and delete are O(1) expected, and
 * a resize costs O(n) once per doubling.  Keys are borrowed: the caller
 * keeps each key alive while its entry exists (usually the key points
 * into the value).  The table owns nothing but its slot array. */
#ifndef CS_HASH_H
#define CS_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hash_slot {
    const char *key; /* NULL: empty */
    void *value;
    uint32_t hash;
};

/* Zero-initialised is an empty table. */
struct hash {
    struct hash_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t n;
};

uint32_t hash_str(const char *s);

/* The value stored under key, or NULL. */
void *hash_get(const struct hash *h, const char *key);
/* Stores value under key, replacing (and returning) an existing value;
 * NULL when the key is new.  key must stay valid while it is stored; on
 * replacement the new key pointer is kept. */
void *hash_put(struct hash *h, const char *key, void *value);
/* Removes key; returns its value, or NULL when absent. */
void *hash_del(struct hash *h, const char *key);
/* Releases the slots (not keys or values); the table is empty again. */
void hash_clear(struct hash *h);

/* Iteration: for (size_t i = 0; hash_next(h, &i, &k, &v);).  The table
 * must not change during an iteration. */
bool hash_next(const struct hash *h, size_t *pos, const char **key_r, void **value_r);

#endif
