/* mask.h — personal data in output: phone numbers and openids are masked wherever chuda
 * prints them (`138****0000`, `oAbc****wxyz`), unless the operator asks for --unmasked
 * and the config allows it ([chuda] allow_unmasked = yes). */
#ifndef CHUDA_MASK_H
#define CHUDA_MASK_H

#include <stddef.h>

#include "buf.h"

/* Mask a phone number: all but its last eight digits, then ****, then the last four
 * ("+8613812340000" -> "+86138****0000", "13812340000" -> "138****0000"); under eight
 * digits, **** and the last two. */
void mask_phone(const char *in, char *out, size_t len);
/* Mask an identifier (openid, userid): first four and last four characters. */
void mask_id(const char *in, char *out, size_t len);
/* Either, by the look of it: digits with an optional leading + are a phone. */
void mask_target(const char *in, char *out, size_t len);
/* Free text (a reason, a detail, a user id) with every phone number and openid in it
 * masked, appended to `out`; -1 out of memory. Found by their look: "+" and 7 to 15
 * digits, or 11 digits 1[3-9]xxxxxxxxx (a mainland mobile), standing alone; a word of
 * 20 to 64 letters, digits, '_' or '-' that begins with 'o' (WeChat openid, unionid) or
 * "wm"/"wo" (WeCom external userid). `known` (the row's target, may be NULL), wherever
 * it appears, is masked as mask_target would, whatever it looks like. */
int mask_text(const char *in, const char *known, buf *out);

#endif
