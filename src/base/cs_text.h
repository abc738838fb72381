/* cs_text.h - the one rule for text from outside: well-formed UTF-8
 * (RFC 3629) without the characters XML cannot carry.
 *
 * JIDs (cs_jid.h), display names, roster names and groups written with
 * chanstatctl or sqlite3, and names sent in vCards and subscription
 * requests are all checked here, so that what one path accepts no other
 * path refuses and nothing stored can break the stream when it is sent. */
#ifndef CS_TEXT_H
#define CS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length (1 to 4) of the well-formed UTF-8 sequence at s, which has
 * n >= 1 bytes left, with its code point in *cp_r; 0 when s does not
 * start one (overlong form, surrogate, beyond U+10FFFF, truncated). */
size_t text_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp_r);

/* Is cp a character no text of ours may hold: a C0 or C1 control
 * character, DEL, or U+FFFE/U+FFFF (not characters in XML 1.0)? */
bool text_forbidden(uint32_t cp);

/* Are the len bytes at s well-formed UTF-8 without forbidden characters?
 * O(len).  An empty text passes: callers that need one say so. */
bool text_ok(const char *s, size_t len);

/* A name that may be sent over XMPP (a channel's display name): not
 * NULL, not empty, and text_ok.  A value written by hand that fails this
 * is treated as unset rather than allowed to break the stream. */
bool text_name_ok(const char *s);

#endif
