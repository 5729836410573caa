/* section.h — checking a template's channel section at load time (check_template):
 * which keys a channel accepts, exactly or by prefix ("data.KEY"), and which it needs.
 * Errors name the template file and line. Sections specialised by tier or segment
 * ([sms.tier.dormant]) are checked for unknown keys only: they override key by key and
 * need not repeat the required ones. */
#ifndef CHUDA_SECTION_H
#define CHUDA_SECTION_H

#include "err.h"
#include "tpl.h"

/* Every key of `section` is in `keys` or starts with one of `prefixes` (both
 * NULL-terminated, either may be NULL). `hint` lists them for the error message. */
int sec_check_keys(const tpl *t, const char *section, const char *const *keys,
                   const char *const *prefixes, const char *hint, cherr *e);

/* Is `key` set in `section`? */
int sec_has(const tpl *t, const char *section, const char *key);

/* Number of keys in `section` starting with `prefix` (followed by a non-empty name). */
int sec_count_prefix(const tpl *t, const char *section, const char *prefix);

/* An override section (NAME.tier.X, NAME.segment.Y)? */
int sec_is_override(const char *section);

#endif
