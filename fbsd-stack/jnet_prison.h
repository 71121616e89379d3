/*
 * The stack host's entry points into libfstack.a that jnet adds (.ci/fbsd-stack exports them
 * through ff_api.symlist): the jails of fbsd-stack/jnet_prison.c, and the netgraph items
 * fbsd-stack/jnet_ng_defer.inc holds back for a turn. Included by jnet_prison.c (kernel side)
 * and stackhost.c (host side): creds are opaque to the host side. size_t must be defined.
 */
#ifndef JNET_PRISON_H
#define JNET_PRISON_H

int jnet_jail_create(void *cred, const char *name, int vnet, const void *ip6, int ip6s, int *jidp);
int jnet_jail_remove(void *cred, int jid);
int jnet_jail_lookup(void *cred, int flags, int by, int jid, const char *name, int *jidp,
    char *namebuf, size_t namelen, int *vnetp, int *dyingp, void *ip6buf, int ip6max,
    int *ip6sp);
int jnet_jail_attach(void **credp, int jid);
int jnet_cred_jid(void *cred);
void jnet_cred_free(void *cred);
void *jnet_cred_current(void);
void *jnet_cred_enter(void *cred);
void jnet_cred_leave(void *saved);
int jnet_prison_reap(void);
void jnet_ng_run_deferred(void);

#endif
