/* mask.h — personal data in output: phone numbers and openids are masked wherever chuda
 * prints them (`138****0000`, `oAbc****wxyz`), unless the operator asks for --unmasked
 * and the config allows it ([chuda] allow_unmasked = yes). */
#ifndef CHUDA_MASK_H
#define CHUDA_MASK_H

#include <stddef.h>

/* Mask a phone number: country code and the first three digits, then ****, then the
 * last four ("+8613812340000" -> "+86138****0000"). */
void mask_phone(const char *in, char *out, size_t len);
/* Mask an identifier (openid, userid): first four and last four characters. */
void mask_id(const char *in, char *out, size_t len);
/* Either, by the look of it: digits with an optional leading + are a phone. */
void mask_target(const char *in, char *out, size_t len);

#endif
