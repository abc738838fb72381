/* cs_banned.h - C library functions chanstat must not call.
 *
 * Each name below becomes a function-like macro whose expansion fails to
 * compile with a static assertion naming what to use instead, so a banned
 * call is a build error in every configuration, not a review comment.
 *
 * Banned, and why:
 * - sprintf, vsprintf, strcpy, stpcpy, strcat, gets: write without
 *   knowing the size of the destination.
 * - strncpy, stpncpy: leave the destination unterminated when the source
 *   is too long and zero-fill it otherwise; strncat: its bound counts
 *   what is appended, not the room left, which is easy to get wrong.
 * - asctime, ctime and their _r forms: fill a buffer of an unstated
 *   size (26 bytes, overrun by years past 9999).
 * - strtok, gmtime, localtime: results live in hidden static state, so a
 *   callee using the same function silently breaks its caller.
 *
 * How every file gets it: the build force-includes this header first in
 * every compilation (AM_CPPFLAGS: -include .../cs_banned.h), and
 * cs_util.h includes it again at its end for anything compiled outside
 * the build system; the include guard makes the second one a no-op.
 *
 * The ordering problem: a function-like macro also expands inside the
 * system header that declares the function ("char *strcpy (char *...)"),
 * and glibc's fortified headers define some of these names as macros or
 * inline functions of their own.  So the macros must come after those
 * headers, whichever of this header and them a file includes first.  This
 * header therefore includes, before defining anything:
 *   1. config.h, so feature-test macros (_GNU_SOURCE, a future
 *      _FILE_OFFSET_BITS) are set before the first system header, as
 *      they would be in a file that starts with #include "config.h";
 *      config.h only defines macros, so including it twice is harmless;
 *   2. every system header that declares a banned name (<stdio.h>,
 *      <string.h>, <time.h>).
 * Their include guards make a file's own later #include of them a no-op,
 * so no declaration is ever read with the macros in force.  The price is
 * that those three headers are visible everywhere; a file should still
 * include what it uses.
 *
 * The macros only catch calls: "(strcpy)(a, b)", "#undef strcpy" or
 * taking the function's address get past them.  scripts/check-banned.sh
 * (make check-banned) greps the tree for those as a second line of
 * defence; it reads the list of names from the #define lines below. */
#ifndef CS_BANNED_H
#define CS_BANNED_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>
#include <time.h>

/* A void expression that does not compile; the message names the
 * replacement.  Each use defines its own anonymous struct, so several
 * banned calls each report their own error. */
#define CS_BANNED(name, instead)                                                                   \
    ((void)sizeof(struct {                                                                         \
        _Static_assert(0, #name " is banned (src/base/cs_banned.h): use " instead);                \
        int cs_banned_;                                                                            \
    }))

#undef sprintf
#define sprintf(...) CS_BANNED(sprintf, "snprintf() or strbuf_printf() (cs_util.h)")
#undef vsprintf
#define vsprintf(...) CS_BANNED(vsprintf, "vsnprintf()")
#undef strcpy
#define strcpy(...) CS_BANNED(strcpy, "cs_strlcpy() or xstrdup() (cs_util.h)")
#undef stpcpy
#define stpcpy(...) CS_BANNED(stpcpy, "cs_strlcpy() or strbuf_append_str() (cs_util.h)")
#undef strcat
#define strcat(...) CS_BANNED(strcat, "strbuf_append_str() (cs_util.h) or snprintf()")
#undef gets
#define gets(...) CS_BANNED(gets, "fgets()")
#undef strncpy
#define strncpy(...) CS_BANNED(strncpy, "cs_strlcpy() (cs_util.h)")
#undef stpncpy
#define stpncpy(...) CS_BANNED(stpncpy, "cs_strlcpy() (cs_util.h)")
#undef strncat
#define strncat(...) CS_BANNED(strncat, "strbuf_append() (cs_util.h) or snprintf()")
#undef asctime
#define asctime(...) CS_BANNED(asctime, "strftime()")
#undef asctime_r
#define asctime_r(...) CS_BANNED(asctime_r, "strftime()")
#undef ctime
#define ctime(...) CS_BANNED(ctime, "localtime_r() and strftime()")
#undef ctime_r
#define ctime_r(...) CS_BANNED(ctime_r, "localtime_r() and strftime()")
#undef strtok
#define strtok(...) CS_BANNED(strtok, "strtok_r() or strsep()")
#undef gmtime
#define gmtime(...) CS_BANNED(gmtime, "gmtime_r()")
#undef localtime
#define localtime(...) CS_BANNED(localtime, "localtime_r()")

#endif
