/* xml_priv.h - what the three files of the XML module share (not a
 * public API): the shared namespace strings and building attributes.
 * xml.c owns both; xmlwrite.c and xmlparse.c use them. */
#ifndef CS_XML_PRIV_H
#define CS_XML_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "cs_xml.h"

/* Separator between namespace URI and local name in expat's names. */
#define NS_SEP '\x1f'

/* "" (no namespace) and XML_NS_XML: static, never counted. */
extern const char xml_ns_none[];
extern const char xml_ns_xml[];

/* A new reference to a URI of len bytes (one block per call, except the
 * two static strings); release with xml_ns_unref(). */
const char *xml_ns_new(const char *uri, size_t len);
/* One more reference to a shared URI (NULL stays NULL). */
const char *xml_ns_ref(const char *ns);
void xml_ns_unref(const char *ns);

/* Makes room for n more attributes at once. */
void xml_attrs_reserve(struct xml_node *node, unsigned n);
/* Appends an attribute without looking for one of the same name (linear
 * building; only where there is none): takes over the reference ns
 * (NULL: unqualified), copies name_len bytes of name and value. */
void xml_attr_push(struct xml_node *node, const char *ns, const char *name, size_t name_len,
                   const char *value);

#endif
