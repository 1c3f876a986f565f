/* text: small operations on the text of key = value files (dockd.conf,
 * image recipes), which both readers need with the same meaning. */
#ifndef ISC_TEXT_H
#define ISC_TEXT_H

/* s without its leading spaces and tabs and its trailing spaces, tabs and
 * CRs: the trailing ones are cut in place, the result points into s. */
char *text_trim(char *s);

#endif
