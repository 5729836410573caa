/* wxkw.h - validation of WeChat subscription-message keyword values
 * (providers.md 2.2).  The keyword name's type prefix ("thing" in
 * "thing1", "character_string" in "character_string13") decides the rule.
 * Lengths count Unicode characters, not bytes.  Pure.  Prefix wxkw_. */
#ifndef SIM_WXKW_H
#define SIM_WXKW_H

#include <stddef.h>

/* 0 when value is acceptable for keyword key; -1 otherwise, with a short
 * reason ("longer than 20 characters") in why (may be NULL). */
int wxkw_check(const char *key, const char *value, size_t len,
               const char **why);

#endif
