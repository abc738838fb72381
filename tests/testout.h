/* testout.h - a struct out that captures what the core writes, one
 * stanza per line, with a settable room (to drive back-pressure). */
#ifndef TESTOUT_H
#define TESTOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "cs_out.h"
#include "cs_util.h"

struct testout {
    struct out path;      /* give &t->path to the core */
    struct strbuf buf;    /* everything written, '\n' after each write */
    size_t room;          /* what room() reports; SIZE_MAX = unlimited */
    bool down;            /* write() fails with CS_ENOTCONN */
    unsigned long writes; /* accepted writes */
};

void testout_init(struct testout *t);
void testout_deinit(struct testout *t);
/* Takes what was written so far (caller frees) and empties the buffer. */
char *testout_take(struct testout *t);
/* Occurrences of needle in what was written so far. */
unsigned testout_count(const struct testout *t, const char *needle);

#endif
