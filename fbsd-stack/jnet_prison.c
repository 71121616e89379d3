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
#include <net/vnet.h>

#include "jnet_prison.h"

static MALLOC_DEFINE(M_JNET_PRISON, "jnet_prison", "stack host jails");

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
	prison0.pr_flags |= PR_HOST | PR_VNET;
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
 * jail_set(2) with JAIL_CREATE, name, persist and vnet (JAIL_SYS_NEW: its own vnet, made by
 * vnet_alloc; JAIL_SYS_INHERIT: prison0's). As kern_jail_set: a name must not be a number
 * (none is the jid here) and no live jail may have it (EEXIST); a dying one may. A jail's
 * process may not (children.max is 0: EPERM).
 */
int
jnet_jail_create(void *cred, const char *name, int vnet, int *jidp)
{
	struct prison *pr, *inspr;
	const char *c;
	int jid;

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
	sx_xlock(&allprison_lock);
	pr = prison_find_name(&prison0, name);
	if (pr != NULL && prison_isalive(pr)) {
		sx_xunlock(&allprison_lock);
		return (EEXIST);
	}
	jid = next_prid(&inspr);
	if (jid == 0) {
		sx_xunlock(&allprison_lock);
		return (EAGAIN);
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
	pr->pr_flags = PR_PERSIST | (vnet == JAIL_SYS_NEW ? PR_VNET : 0);
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
 * (2); a dying jail only with JAIL_DYING. Answers the jid, the name, "vnet" and "dying".
 */
int
jnet_jail_lookup(void *cred, int flags, int by, int jid, const char *name, int *jidp,
    char *namebuf, size_t namelen, int *vnetp, int *dyingp)
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
