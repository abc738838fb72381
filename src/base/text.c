/* text.c - UTF-8 decoding and the one text rule (see cs_text.h). */
#include "config.h"

#include <string.h>

#include "cs_text.h"

size_t text_utf8_seq(const unsigned char *s, size_t n, uint32_t *cp_r)
{
    uint32_t c = s[0], cp;
    size_t k;
    if (c < 0x80) {
        *cp_r = c;
        return 1;
    }
    /* Lead bytes: C0, C1 and F5..FF never start a well-formed sequence. */
    if (c >= 0xc2 && c <= 0xdf) {
        k = 1;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 2;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n <= k)
        return 0; /* truncated */
    for (size_t i = 1; i <= k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, beyond Unicode, or a surrogate */
    *cp_r = cp;
    return k + 1;
}

bool text_forbidden(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0xfffe || cp == 0xffff;
}

bool text_ok(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k;
        if (u[i] >= 0x20 && u[i] < 0x7f) {
            i++; /* printable ASCII, nearly every byte of an address */
            continue;
        }
        k = text_utf8_seq(u + i, len - i, &cp);
        if (k == 0 || text_forbidden(cp))
            return false;
        i += k;
    }
    return true;
}

bool text_name_ok(const char *s)
{
    return s != NULL && *s != '\0' && text_ok(s, strlen(s));
}
