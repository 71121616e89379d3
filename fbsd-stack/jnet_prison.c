/*
 * Jails for the stack host: the part of kern_jail.c (FreeBSD 13.0, freebsd/kern/kern_jail.c
 * in the F-Stack tree) a VNET jail's network life goes through, on F-Stack, which builds
 * without kern_jail.c (it needs VFS, cpuset, racct and signals).
 *
 * Real FreeBSD code does the network work: vnet_alloc() runs every VNET_SYSINIT when a jail
 * with its own vnet is made, if.c's if_vmove_loan/if_vmove_reclaim (SIOCSIFVNET,
 * SIOCSIFRVNET) find the jail here through prison_find_child, sockets made by a connection
 * attached to a jail take its vnet from their cred (socreate, CRED_TO_VNET), and when the
 * last reference goes vnet_destroy() runs every VNET_SYSUNINIT, vnet_if_return among them.
 *
 * What is modelled here, after kern_jail.c: jids (get_next_prid), lookup (prison_find_child,
 * prison_find_name, kern_jail_get's lastjid/jid/name order), the two counts (pr_ref: creds and
 * holds; pr_uref: processes and persist) and when a jail is alive, dying or gone
 * (prison_isalive, prison_isvalid, prison_remove_one, prison_deref), attaching
 * (do_jail_attach). The last reference's completion, a taskqueue_thread task on FreeBSD
 * (prison_free_locked, prison_proc_free), runs at the stack host's next turn. Privileges are
 * not checked (the stack host's clients are root), and every jail is a child of prison0.
 *
 * An IP-sharing jail (no vnet of its own) gets its address lists as kern_jail_set gives them
 * (ip6.addr; no ip4.addr here, so IPv4 is disabled in it, as kern_jail_set's default for a
 * new jail), and what restricts its sockets to them is FreeBSD's own: netinet/in_jail.c and
 * netinet6/in6_jail.c are compiled in, with kern_jail.c's prison_flag, prison_check_af,
 * prison_if and jailed_without_vnet here, in place of F-Stack's stubs that let everything by.
 */
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/mutex.h>
#include <sys/proc.h>
#include <sys/refcount.h>
#include <sys/sx.h>
#include <sys/jail.h>
#include <sys/ucred.h>
#include <sys/socket.h>
#include <net/vnet.h>
#include <netinet/in.h>

#include "jnet_prison.h"

static MALLOC_DEFINE(M_JNET_PRISON, "jnet_prison", "stack host jails");
/* kern_jail.c's: in_jail.c and in6_jail.c allocate address lists with it. */
MALLOC_DEFINE(M_PRISON, "prison", "Prison structures");

/* kern_jail.c's _PR_IP_SADDRSEL with INET and INET6: source address selection is on. */
#define JNET_PR_IP_SADDRSEL (PR_IP4_SADDRSEL | PR_IP6_SADDRSEL)
/* kern_jail.c's security.jail.jail_max_af_ips default. */
static int jail_max_af_ips = 255;
/* kern_jail.c's JAIL_DEFAULT_ALLOW: what a new jail may do of what its parent may. */
#define JNET_JAIL_DEFAULT_ALLOW \
	(PR_ALLOW_SET_HOSTNAME | PR_ALLOW_RESERVED_PORTS | PR_ALLOW_UNPRIV_DEBUG | PR_ALLOW_SUSER)

extern struct sx allprison_lock;
extern struct prisonlist allprison;
static int lastprid;

/* Prisons whose last reference went; completed at the next turn (see above). */
#define MAX_PENDING 1024
static struct prison *pending[MAX_PENDING];
static int npending;

static void
jnet_prison_init(void *unused __unused)
{
	TAILQ_INIT(&allprison);
	sx_init(&allprison_lock, "allprison");
	/* kern_jail.c's static prison0 (with VIMAGE); vnet0_init sets pr_vnet. */
	LIST_INIT(&prison0.pr_children);
	mtx_init(&prison0.pr_mtx, "jail mutex", NULL, MTX_DEF);
	prison0.pr_ref = 1;
	prison0.pr_uref = 1;
	prison0.pr_flags |= PR_HOST | PR_VNET | JNET_PR_IP_SADDRSEL;
	prison0.pr_allow = PR_ALLOW_ALL_STATIC;
	strlcpy(prison0.pr_name, "0", sizeof(prison0.pr_name));
}
SYSINIT(jnet_prison_init, SI_SUB_INTRINSIC, SI_ORDER_ANY, jnet_prison_init, NULL);

bool
prison_isalive(struct prison *pr)
{
	return (refcount_load(&pr->pr_ref) > 0 && refcount_load(&pr->pr_uref) > 0 &&
	    (pr->pr_flags & PR_REMOVE) == 0);
}

bool
prison_isvalid(struct prison *pr)
{
	return (refcount_load(&pr->pr_ref) > 0);
}

int
prison_owns_vnet(struct ucred *cred)
{
	return (cred->cr_prison->pr_flags & PR_VNET ? 1 : 0);
}

/* kern_jail.c's, as 13.0 has them (F-Stack's stubs answered "not jailed, allowed"). */
int
prison_flag(struct ucred *cred, unsigned flag)
{
	return (cred->cr_prison->pr_flags & flag);
}

int
jailed_without_vnet(struct ucred *cred)
{
	return (jailed(cred) && !prison_owns_vnet(cred));
}

int
prison_check_af(struct ucred *cred, int af)
{
	struct prison *pr = cred->cr_prison;
	int error = 0;

	if (prison_owns_vnet(cred))
		return (0);
	switch (af) {
	case AF_INET:
		mtx_lock(&pr->pr_mtx);
		if ((pr->pr_flags & PR_IP4) && pr->pr_ip4 == NULL)
			error = EAFNOSUPPORT;
		mtx_unlock(&pr->pr_mtx);
		break;
	case AF_INET6:
		mtx_lock(&pr->pr_mtx);
		if ((pr->pr_flags & PR_IP6) && pr->pr_ip6 == NULL)
			error = EAFNOSUPPORT;
		mtx_unlock(&pr->pr_mtx);
		break;
	case AF_LOCAL:
	case AF_ROUTE:
		break;
	default:
		if (!(pr->pr_allow & PR_ALLOW_SOCKET_AF))
			error = EAFNOSUPPORT;
	}
	return (error);
}

int
prison_if(struct ucred *cred, const struct sockaddr *sa)
{
	if (prison_owns_vnet(cred))
		return (0);
	switch (sa->sa_family) {
	case AF_INET:
		return (prison_check_ip4(cred, &((const struct sockaddr_in *)sa)->sin_addr));
	case AF_INET6:
		return (prison_check_ip6(cred, &((const struct sockaddr_in6 *)sa)->sin6_addr));
	default:
		return (cred->cr_prison->pr_allow & PR_ALLOW_SOCKET_AF ? 0 : EAFNOSUPPORT);
	}
}

/* Every jail is prison0's child; a jail's processes find no children. */
struct prison *
prison_find_child(struct prison *mypr, int prid)
{
	struct prison *pr;

	if (mypr != &prison0)
		return (NULL);
	TAILQ_FOREACH(pr, &allprison, pr_list) {
		if (pr->pr_id == prid) {
			mtx_lock(&pr->pr_mtx);
			if (prison_isvalid(pr))
				return (pr);
			mtx_unlock(&pr->pr_mtx);
		}
	}
	return (NULL);
}

struct prison *
prison_find_name(struct prison *mypr, const char *name)
{
	struct prison *pr, *deadpr = NULL;

	if (mypr != &prison0)
		return (NULL);
	TAILQ_FOREACH(pr, &allprison, pr_list) {
		if (strcmp(pr->pr_name, name) != 0)
			continue;
		if (prison_isalive(pr))
			return (pr);
		if (prison_isvalid(pr))
			deadpr = pr;
	}
	return (deadpr);
}

void
prison_hold(struct prison *pr)
{
	refcount_acquire(&pr->pr_ref);
}

/* As kern_jail.c's: the caller still holds, and unlocks, the prison's mutex. */
void
prison_hold_locked(struct prison *pr)
{
	prison_hold(pr);
}

static void
defer_completion(struct prison *pr)
{
	if (npending == MAX_PENDING)
		panic("jnet_prison: %d prisons waiting for completion", npending);
	pending[npending++] = pr;
}

void
prison_free(struct prison *pr)
{
	if (pr == &prison0)
		return;
	if (refcount_release(&pr->pr_ref))
		defer_completion(pr);
}

void
prison_free_locked(struct prison *pr)
{
	mtx_unlock(&pr->pr_mtx);
	prison_free(pr);
}

/* The process's user reference (prison_proc_free): the last one also waits a turn, with a
   reference added so that prison_free does not submit the completion twice. */
void
prison_proc_free(struct prison *pr)
{
	if (refcount_release_if_not_last(&pr->pr_uref))
		return;
	refcount_acquire(&pr->pr_ref);
	defer_completion(pr);
}

/* prison_deref for a child of prison0 (PD_DEREF: drop a reference, PD_DEUREF: a user
   reference); the prison goes, and its own vnet with it, at the last reference. */
#define PD_DEREF 0x01
#define PD_DEUREF 0x02
static void
prison_deref(struct prison *pr, int flags)
{
	int lastref, lasturef = 0;

	if (flags & PD_DEUREF) {
		lasturef = refcount_release(&pr->pr_uref);
		if (lasturef)
			refcount_acquire(&pr->pr_ref);
	}
	if (flags & PD_DEREF)
		lastref = refcount_release(&pr->pr_ref);
	else
		lastref = refcount_load(&pr->pr_ref) == 0;
	/* After the last user reference the modules are told (osd: none here), then the
	   reference taken for them goes: the jail is dying, or gone. */
	if (lasturef)
		lastref = refcount_release(&pr->pr_ref);
	if (!lastref)
		return;
	sx_xlock(&allprison_lock);
	TAILQ_REMOVE(&allprison, pr, pr_list);
	LIST_REMOVE(pr, pr_sibling);
	prison0.pr_childcount--;
	sx_xunlock(&allprison_lock);
	if (pr->pr_vnet != prison0.pr_vnet)
		vnet_destroy(pr->pr_vnet);
	free(pr->pr_ip4, M_PRISON);
	free(pr->pr_ip6, M_PRISON);
	mtx_destroy(&pr->pr_mtx);
	free(pr, M_JNET_PRISON);
}

/* prison_complete, run for each prison queued since the last turn. Returns how many. */
int
jnet_prison_reap(void)
{
	int done = 0;

	while (npending > 0) {
		struct prison *pr = pending[--npending];
		prison_deref(pr, refcount_load(&pr->pr_uref) > 0 ? PD_DEREF | PD_DEUREF : 0);
		done++;
	}
	return (done);
}

/* get_next_prid: the jid after the last one given, skipping those in use. */
static int
next_prid(struct prison **insprp)
{
	struct prison *inspr;
	int jid = lastprid % JAIL_MAX + 1, tries;

	for (tries = 0; tries < JAIL_MAX; tries++) {
		TAILQ_FOREACH(inspr, &allprison, pr_list)
			if (inspr->pr_id >= jid)
				break;
		if (inspr == NULL || inspr->pr_id > jid) {
			*insprp = inspr;
			lastprid = jid;
			return (jid);
		}
		jid = jid % JAIL_MAX + 1;
	}
	return (0);
}

/*
 * kern_jail_set's checks of an ip6.addr list, which it sorts but for the first address (the
 * jail's primary): no unspecified address, none twice (EINVAL); and no address another
 * IP-sharing jail has, unless each has only one (EADDRINUSE, "IPv6 addresses clash").
 */
static int
check_ip6(struct in6_addr *ip6, int ip6s)
{
	struct prison *tpr;

	if (ip6s > 1)
		qsort(ip6 + 1, ip6s - 1, sizeof(*ip6), prison_qcmp_v6);
	for (int i = 0; i < ip6s; i++) {
		if (IN6_IS_ADDR_UNSPECIFIED(&ip6[i]))
			return (EINVAL);
		if (i + 1 < ip6s && (IN6_ARE_ADDR_EQUAL(&ip6[0], &ip6[i + 1]) ||
		    IN6_ARE_ADDR_EQUAL(&ip6[i], &ip6[i + 1])))
			return (EINVAL);
	}
	TAILQ_FOREACH(tpr, &allprison, pr_list) {
		if ((tpr->pr_flags & PR_VNET) || refcount_load(&tpr->pr_uref) == 0 ||
		    !(tpr->pr_flags & PR_IP6_USER) || tpr->pr_ip6 == NULL ||
		    (ip6s == 1 && tpr->pr_ip6s == 1))
			continue;
		for (int i = 0; i < ip6s; i++)
			if (prison_check_ip6_locked(tpr, &ip6[i]) == 0)
				return (EADDRINUSE);
	}
	return (0);
}

/*
 * jail_set(2) with JAIL_CREATE, name, persist and vnet (JAIL_SYS_NEW: its own vnet, made by
 * vnet_alloc; JAIL_SYS_INHERIT: prison0's) and, for a jail without its own vnet, ip6.addr
 * (`ip6s` addresses at `ip6`). As kern_jail_set: a name must not be a number (none is the
 * jid here) and no live jail may have it (EEXIST); a dying one may. A VNET jail takes no
 * address list (EINVAL, "vnet jails cannot have IP address restrictions"). A jail's process
 * may not create one (children.max is 0: EPERM).
 */
int
jnet_jail_create(void *cred, const char *name, int vnet, const void *ip6, int ip6s, int *jidp)
{
	struct prison *pr, *inspr;
	struct in6_addr *list = NULL;
	const char *c;
	int error, jid;

	if (((struct ucred *)cred)->cr_prison != &prison0)
		return (EPERM);
	if (name[0] == '\0' || strlen(name) >= sizeof(pr->pr_name) || strchr(name, '.') != NULL)
		return (EINVAL);
	for (c = name; *c >= '0' && *c <= '9'; c++)
		;
	if (*c == '\0')
		return (EINVAL);
	if (vnet != JAIL_SYS_NEW && vnet != JAIL_SYS_INHERIT)
		return (EINVAL);
	if (ip6s < 0 || ip6s > jail_max_af_ips || (vnet == JAIL_SYS_NEW && ip6s > 0))
		return (EINVAL);
	if (ip6s > 0) {
		list = malloc(ip6s * sizeof(*list), M_PRISON, M_WAITOK);
		bcopy(ip6, list, ip6s * sizeof(*list));
	}
	sx_xlock(&allprison_lock);
	error = check_ip6(list, ip6s);
	pr = prison_find_name(&prison0, name);
	if (error == 0 && pr != NULL && prison_isalive(pr))
		error = EEXIST;
	jid = error == 0 ? next_prid(&inspr) : 0;
	if (error == 0 && jid == 0)
		error = EAGAIN;
	if (error != 0) {
		sx_xunlock(&allprison_lock);
		free(list, M_PRISON);
		return (error);
	}
	pr = malloc(sizeof(*pr), M_JNET_PRISON, M_WAITOK | M_ZERO);
	pr->pr_id = jid;
	strlcpy(pr->pr_name, name, sizeof(pr->pr_name));
	pr->pr_parent = &prison0;
	LIST_INIT(&pr->pr_children);
	mtx_init(&pr->pr_mtx, "jail mutex", NULL, MTX_DEF | MTX_DUPOK);
	/* persist: one reference and one user reference, both dropped by jail_remove. */
	pr->pr_ref = 1;
	pr->pr_uref = 1;
	pr->pr_flags = PR_PERSIST | JNET_PR_IP_SADDRSEL;
	if (vnet == JAIL_SYS_NEW)
		pr->pr_flags |= PR_VNET;
	else {
		/* No ip4.addr or ip4 given: "new" with no address, IPv4 disabled. ip6.addr given
		   (even empty) or not: "new" with that list. */
		pr->pr_flags |= PR_IP4 | PR_IP4_USER | PR_IP6 | PR_IP6_USER;
		pr->pr_ip6 = list;
		pr->pr_ip6s = ip6s;
	}
	/* No allow.socket_af: an IP-sharing jail opens only inet, local and route sockets
	   (prison_check_af). */
	pr->pr_allow = JNET_JAIL_DEFAULT_ALLOW & prison0.pr_allow;
	if (inspr != NULL)
		TAILQ_INSERT_BEFORE(inspr, pr, pr_list);
	else
		TAILQ_INSERT_TAIL(&allprison, pr, pr_list);
	LIST_INSERT_HEAD(&prison0.pr_children, pr, pr_sibling);
	prison0.pr_childcount++;
	sx_xunlock(&allprison_lock);
	pr->pr_vnet = vnet == JAIL_SYS_NEW ? vnet_alloc() : prison0.pr_vnet;
	*jidp = jid;
	return (0);
}

/* jail_remove(2) (sys_jail_remove, prison_remove_one); the caller kills the processes. */
int
jnet_jail_remove(void *cred, int jid)
{
	struct prison *pr;
	int flags = PD_DEREF;

	pr = prison_find_child(((struct ucred *)cred)->cr_prison, jid);
	if (pr == NULL)
		return (EINVAL);
	prison_hold(pr);
	mtx_unlock(&pr->pr_mtx);
	pr->pr_flags |= PR_REMOVE;
	if (pr->pr_flags & PR_PERSIST) {
		refcount_release(&pr->pr_ref);
		flags |= PD_DEUREF;
		pr->pr_flags &= ~PR_PERSIST;
	}
	prison_deref(pr, flags);
	return (0);
}

/*
 * kern_jail_get's lookup: by lastjid (by 0: the first jail after jid), by jid (1) or by name
 * (2); a dying jail only with JAIL_DYING. Answers the jid, the name, "vnet", "dying" and
 * ip6.addr (how many; at most `ip6max` copied).
 */
int
jnet_jail_lookup(void *cred, int flags, int by, int jid, const char *name, int *jidp,
    char *namebuf, size_t namelen, int *vnetp, int *dyingp, void *ip6buf, int ip6max,
    int *ip6sp)
{
	struct prison *mypr = ((struct ucred *)cred)->cr_prison, *pr = NULL;

	if (by == 0) {
		if (mypr == &prison0)
			TAILQ_FOREACH(pr, &allprison, pr_list)
				if (pr->pr_id > jid && ((flags & JAIL_DYING) ?
				    prison_isvalid(pr) : prison_isalive(pr)))
					break;
	} else {
		pr = by == 1 ? prison_find_child(mypr, jid) : prison_find_name(mypr, name);
		if (pr != NULL && by == 1)
			mtx_unlock(&pr->pr_mtx);
		if (pr != NULL && !prison_isalive(pr) && !(flags & JAIL_DYING))
			pr = NULL;
	}
	if (pr == NULL)
		return (ENOENT);
	*jidp = pr->pr_id;
	strlcpy(namebuf, pr->pr_name, namelen);
	*vnetp = pr->pr_flags & PR_VNET ? JAIL_SYS_NEW : JAIL_SYS_INHERIT;
	*dyingp = !prison_isalive(pr);
	*ip6sp = pr->pr_ip6s;
	if (pr->pr_ip6s > 0)
		bcopy(pr->pr_ip6, ip6buf, MIN(pr->pr_ip6s, ip6max) * sizeof(struct in6_addr));
	return (0);
}

/* jail_attach(2) (sys_jail_attach, do_jail_attach) by a process of the host (*credp NULL)
   or of a jail: *credp becomes a new cred in the jail holding a reference, the process a
   user reference; a jail's process finds no jail to attach to. */
int
jnet_jail_attach(void **credp, int jid)
{
	struct ucred *old = *credp != NULL ? *credp : curthread->td_ucred, *newcred;
	struct prison *pr;

	pr = prison_find_child(old->cr_prison, jid);
	if (pr == NULL)
		return (EINVAL);
	if (!prison_isalive(pr)) {
		mtx_unlock(&pr->pr_mtx);
		return (EINVAL);
	}
	refcount_acquire(&pr->pr_ref);
	refcount_acquire(&pr->pr_uref);
	mtx_unlock(&pr->pr_mtx);
	/* crcopysafe: the process's ids, uidinfo (soreserve charges it) and groups; the
	   host's cred, the only parent here, lives as long as the stack. */
	newcred = crget();
	bcopy(&old->cr_startcopy, &newcred->cr_startcopy,
	    __rangeof(struct ucred, cr_startcopy, cr_endcopy));
	newcred->cr_groups = old->cr_groups;
	newcred->cr_prison = pr;
	if (*credp != NULL)
		jnet_cred_free(*credp);
	*credp = newcred;
	return (0);
}

int
jnet_cred_jid(void *cred)
{
	return (((struct ucred *)cred)->cr_prison->pr_id);
}

/* A process's exit: its user reference, then its cred (crfree releases the prison
   reference when no socket holds the cred any more). */
void
jnet_cred_free(void *cred)
{
	struct ucred *cr = cred;

	if (cr->cr_prison != &prison0)
		prison_proc_free(cr->cr_prison);
	crfree(cr);
}

/* The cred the current request runs with. */
void *
jnet_cred_current(void)
{
	return (curthread->td_ucred);
}

/* Run the next requests as the process owning `cred` (NULL: the host's thread0 cred). */
void *
jnet_cred_enter(void *cred)
{
	struct ucred *saved = curthread->td_ucred;

	if (cred != NULL)
		curthread->td_ucred = cred;
	return (saved);
}

void
jnet_cred_leave(void *saved)
{
	curthread->td_ucred = saved;
}
