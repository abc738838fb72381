/* cs_directory.h - the channel directory: the channels anyone may ask
 * for (policy open or approve, never closed), in name order, a page at a
 * time, and how many there are.
 *
 * Pages read the partial index channel_listed in order and stop at their
 * limit; the count is one row kept by triggers (schema version 8), so
 * neither grows with the number of channels. */
#ifndef CS_DIRECTORY_H
#define CS_DIRECTORY_H

#include <stddef.h>

struct store;
struct directory;

/* Caller frees with directory_free().  NULL with err filled on failure. */
struct directory *directory_new(struct store *store, char *err, size_t errlen);
void directory_free(struct directory **dir);

/* One listed channel; display_name NULL when unset.  Borrowed for the
 * call. */
typedef void directory_cb(void *ud, const char *name, const char *display_name);

/* Calls cb for up to limit listed channels in name order: the first
 * ones (after and before NULL), those after `after`, or the last ones
 * before `before` ("" for the very last).  *n_r is how many were passed.
 * 0 or CS_EDB. */
int directory_page(struct directory *dir, const char *after, const char *before, int limit,
                   directory_cb *cb, void *ud, int *n_r);
/* How many channels are listed: 0, CS_ENOTFOUND when the count row is
 * missing (an admin deleted it), or CS_EDB. */
int directory_count(struct directory *dir, long long *n_r);

#endif
