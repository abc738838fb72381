/* testout.c - a capturing output path for the unit suites. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "testout.h"

static int t_write(void *ud, const char *xml, size_t len)
{
    struct testout *t = ud;
    if (t->down)
        return CS_ENOTCONN;
    strbuf_append(&t->buf, xml, len);
    strbuf_append(&t->buf, "\n", 1);
    t->writes++;
    if (t->room != SIZE_MAX)
        t->room = t->room > len ? t->room - len : 0;
    return 0;
}

static size_t t_room(void *ud)
{
    struct testout *t = ud;
    return t->down ? 0 : t->room;
}

static size_t t_mark(void *ud)
{
    struct testout *t = ud;
    return t->buf.len;
}

static void t_splice(void *ud, size_t from, size_t to, const char *repl, size_t len)
{
    struct testout *t = ud;
    struct strbuf tail = {0};
    strbuf_append(&tail, t->buf.data + to, t->buf.len - to);
    t->buf.len = from;
    strbuf_append(&t->buf, repl, len);
    if (len)
        strbuf_append(&t->buf, "\n", 1);
    strbuf_append(&t->buf, tail.data ? tail.data : "", tail.len);
    strbuf_free(&tail);
}

void testout_init(struct testout *t)
{
    memset(t, 0, sizeof(*t));
    t->path = (struct out){t_write, t_room, t_mark, t_splice, t};
    t->room = SIZE_MAX;
    strbuf_append(&t->buf, "", 0);
}

void testout_deinit(struct testout *t)
{
    strbuf_free(&t->buf);
}

char *testout_take(struct testout *t)
{
    char *s = xstrdup(t->buf.data ? t->buf.data : "");
    t->buf.len = 0;
    t->buf.data[0] = '\0';
    return s;
}

unsigned testout_count(const struct testout *t, const char *needle)
{
    unsigned n = 0;
    size_t nl = strlen(needle);
    for (const char *p = t->buf.data; p && (p = strstr(p, needle)) != NULL; p += nl)
        n++;
    return n;
}
