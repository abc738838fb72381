/* cs_place.h - where a channel lives in a cluster when no placement row
 * pins it (doc/cluster.md): rendezvous (highest random weight) hashing
 * of its name over the front's homes.  Every home scores the name; the
 * highest score wins.  Adding a home moves only the channels it now
 * wins; removing one moves only its own.  The score is fixed here for
 * good (FNV-1a, 64 bits, of home, a NUL and the name, then the
 * SplitMix64 finaliser): a front of another version, or another machine,
 * places every channel the same way. */
#ifndef CS_PLACE_H
#define CS_PLACE_H

#include <stddef.h>
#include <stdint.h>

/* The score of home for the channel name. */
uint64_t place_score(const char *home, const char *name);
/* The index of the home name lives on, among n > 0 homes (a tie, which
 * needs a 64-bit collision, goes to the smaller home name: the order of
 * the list never matters).  O(n * length). */
size_t place_pick(const char *name, const char *const *homes, size_t n);

#endif
