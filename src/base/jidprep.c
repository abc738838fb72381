/* jidprep.c - the stringprep profiles of RFC 3920 (nodeprep, resourceprep)
 * and RFC 3491 (nameprep), as the XMPP servers apply them.
 *
 * Prosody prepares every JID with ICU's usprep and the flag
 * USPREP_ALLOW_UNASSIGNED (util-src/encodings.c, when it is not asked to
 * be strict), refusing a part of 1024 bytes or more before and after;
 * ejabberd's stringprep applies the same tables (RFC 3454, Unicode 3.2)
 * and also lets unassigned code points through.  This file calls the same
 * ICU function with the same flag and limits, so an address compares
 * equal here exactly when it does at the server.
 *
 * Pure-ASCII input never reaches ICU: stringprep maps nothing in ASCII
 * except the uppercase letters (table B.2, nodeprep and nameprep only),
 * NFKC leaves ASCII alone, no ASCII character is RandALCat, and the
 * prohibited ASCII characters are the controls (C.2.1, nodeprep and
 * resourceprep), space (C.1.1, nodeprep) and nodeprep's " & ' / : < > @.
 * tests/check_jid.c compares this path with ICU on every ASCII character
 * and pair of characters. */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include <unicode/usprep.h>
#include <unicode/ustring.h>

#include "cs_error.h"
#include "cs_jid.h"

/* The ICU profiles, opened on first use and kept for the process (ICU
 * caches the data itself; there is nothing per call to free). */
static UStringPrepProfile *profiles[JIDPREP_RESOURCE + 1];

static const UStringPrepProfile *profile(enum jidprep_profile p)
{
    static const UStringPrepProfileType types[] = {
        [JIDPREP_NODE] = USPREP_RFC3920_NODEPREP,
        [JIDPREP_NAME] = USPREP_RFC3491_NAMEPREP,
        [JIDPREP_RESOURCE] = USPREP_RFC3920_RESOURCEPREP,
    };
    if (profiles[p] == NULL) {
        UErrorCode err = U_ZERO_ERROR;
        UStringPrepProfile *prof = usprep_openByType(types[p], &err);
        if (U_FAILURE(err))
            return NULL;
        profiles[p] = prof;
    }
    return profiles[p];
}

/* What the profile does to one ASCII character: the character it becomes,
 * or -1 when it is prohibited. */
static int ascii_prep(enum jidprep_profile p, unsigned char c)
{
    if (c < 0x20 || c == 0x7f)
        return p == JIDPREP_NAME ? c : -1; /* C.2.1 */
    if (p == JIDPREP_RESOURCE)
        return c;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 'a'; /* B.2 */
    if (p == JIDPREP_NODE && strchr(" \"&'/:<>@", c) != NULL)
        return -1; /* C.1.1 and RFC 3920 appendix A.5 */
    return c;
}

static int prep_icu(enum jidprep_profile p, const char *s, size_t len, char *out, size_t *outlen_r)
{
    /* A part of at most 1023 bytes is at most 1023 UTF-16 units, and a
     * result of at most 1023 bytes is at most 1023 units. */
    UChar in[JID_PART_MAX + 1], prepped[JID_PART_MAX + 1];
    const UStringPrepProfile *prof = profile(p);
    UErrorCode err = U_ZERO_ERROR;
    int32_t inlen = 0, plen, olen = 0;

    if (prof == NULL)
        return CS_EINVAL;
    u_strFromUTF8(in, JID_PART_MAX + 1, &inlen, s, (int32_t)len, &err);
    if (U_FAILURE(err))
        return CS_EINVAL; /* ill-formed UTF-8 */
    plen = usprep_prepare(prof, in, inlen, prepped, JID_PART_MAX + 1, USPREP_ALLOW_UNASSIGNED, NULL,
                          &err);
    if (U_FAILURE(err))
        return CS_EINVAL; /* prohibited, bidi rules broken, or too long */
    u_strToUTF8(out, JID_PART_MAX + 1, &olen, prepped, plen, &err);
    if (U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING || olen > JID_PART_MAX)
        return CS_EINVAL;
    out[olen] = '\0';
    *outlen_r = (size_t)olen;
    return 0;
}

/* ascii_prep() of every profile and ASCII character, filled on first use. */
static short ascii_table[JIDPREP_RESOURCE + 1][128];
static bool ascii_ready;

int jidprep(enum jidprep_profile p, const char *s, size_t len, char out[JID_PART_MAX + 1],
            size_t *outlen_r)
{
    if (len > JID_PART_MAX)
        return CS_EINVAL;
    if (!ascii_ready) {
        for (int q = 0; q <= JIDPREP_RESOURCE; q++) {
            for (int c = 0; c < 128; c++)
                ascii_table[q][c] = (short)ascii_prep((enum jidprep_profile)q, (unsigned char)c);
        }
        ascii_ready = true;
    }
    for (size_t i = 0; i < len; i++) {
        int c;
        if ((unsigned char)s[i] >= 0x80)
            return prep_icu(p, s, len, out, outlen_r);
        c = ascii_table[p][(unsigned char)s[i]];
        if (c < 0)
            return CS_EINVAL;
        out[i] = (char)c;
    }
    out[len] = '\0';
    *outlen_r = len;
    return 0;
}

int jidprep_icu(enum jidprep_profile p, const char *s, size_t len, char out[JID_PART_MAX + 1],
                size_t *outlen_r)
{
    if (len > JID_PART_MAX)
        return CS_EINVAL;
    return prep_icu(p, s, len, out, outlen_r);
}
