/* cs_chanprops.h - a channel's properties as stored (schema version 9):
 * description, e-mail address, web address and avatar, read for its
 * vCard.  The columns' CHECKs (doc/schema.md) bound their size and shape;
 * whoever sends them still checks that they are text XML can carry. */
#ifndef CS_CHANPROPS_H
#define CS_CHANPROPS_H

#include <stddef.h>

struct store;
struct chanprops;

struct chanprops_row {
    char *description, *email, *url; /* NULL: unset */
    char *avatar_type;               /* image/png or image/jpeg; NULL: no avatar */
    unsigned char *avatar;           /* its bytes */
    size_t avatar_len;
};

/* Caller frees with chanprops_free().  NULL with err filled on failure. */
struct chanprops *chanprops_new(struct store *store, char *err, size_t errlen);
void chanprops_free(struct chanprops **cp);

/* Reads channel name's properties into *r (owned copies; release with
 * chanprops_row_free()).  0, CS_ENOTFOUND or CS_EDB; *r is empty
 * unless 0. */
int chanprops_get(struct chanprops *cp, const char *name, struct chanprops_row *r);
void chanprops_row_free(struct chanprops_row *r);

#endif
