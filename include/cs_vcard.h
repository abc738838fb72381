/* cs_vcard.h - how a channel's display name is shown over XMPP: its
 * vCard (XEP-0054, src/vcard.c) and the nick (XEP-0172) in the
 * subscription request a channel sends its owner (src/home.c). */
#ifndef CS_VCARD_H
#define CS_VCARD_H

#include <stdbool.h>

/* May s be sent as a name?  Not empty, well-formed UTF-8 (no overlong
 * forms or surrogates, at most U+10FFFF), no control characters and no
 * U+FFFE/U+FFFF, which XML cannot carry.  channel.display_name may be
 * written by hand with sqlite3; a value that fails this is treated as
 * unset rather than allowed to break the stream. */
bool vcard_name_ok(const char *s);

#endif
