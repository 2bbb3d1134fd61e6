/*
 * Installing a certificate so that key and chain change together.
 *
 * OUTPUT/.v-SERIAL/ holds privkey.pem (0600), cert.pem, chain.pem and
 * fullchain.pem, each written and fsynced; OUTPUT/.live is a symlink to the
 * current version, replaced by one rename(2); OUTPUT/privkey.pem and the
 * others are symlinks through .live.  A crash at any point leaves .live on
 * a complete, matching pair: the old one until the rename, the new one
 * after.  The previous version is kept; older ones are removed.  What a
 * crash leaves besides (a half-written version, a staging link) is
 * removed by the next install or deploy_tidy().
 */
#ifndef ACMED_DEPLOY_H
#define ACMED_DEPLOY_H

#include <stddef.h>

struct cert_info;
struct cfg_cert;

#define DEPLOY_FILES 4
extern const char *const deploy_files[DEPLOY_FILES];

/* Install "key_pem" and the chain of "ci"; logs failures. */
int deploy_install(const struct cfg_cert *c, const char *key_pem,
    size_t key_len, const struct cert_info *ci);

/*
 * Read back what is installed: fullchain.pem checked against privkey.pem.
 * -ENOENT when nothing is installed; -EPROTO (logged) if it is broken.
 */
int deploy_read(const struct cfg_cert *c, struct cert_info **ret);

/* Remove staging links a crashed install left in OUTPUT; logs what it did. */
void deploy_tidy(const struct cfg_cert *c);

/* Are all four files reachable under OUTPUT? */
int deploy_present(const struct cfg_cert *c);
/* The same for the output directory "output". */
int deploy_present_in(const char *output);

#endif
