/*
 * kern.hostuuid for the stack host. F-Stack builds no sys/kern/kern_mib.c, where FreeBSD
 * declares it (SYSCTL_PROC(_kern, KERN_HOSTUUID, hostuuid, CTLTYPE_STRING | CTLFLAG_RW ...)
 * over prison0's pr_hostuuid); jnet reads it to derive stable MACs. Compiled as kernel code
 * into libfstack.a by .ci/fbsd-stack. As on FreeBSD, it reads
 * 00000000-0000-0000-0000-000000000000 until something writes it at boot (rc.d/hostid
 * there, jnet-stackhost here).
 */
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/jail.h>
#include <sys/kernel.h>
#include <sys/sysctl.h>

static int
jnet_sysctl_hostuuid(SYSCTL_HANDLER_ARGS)
{
	char buf[HOSTUUIDLEN];
	int error;

	strlcpy(buf, prison0.pr_hostuuid, sizeof(buf));
	error = sysctl_handle_string(oidp, buf, sizeof(buf), req);
	if (error != 0 || req->newptr == NULL)
		return (error);
	strlcpy(prison0.pr_hostuuid, buf, sizeof(prison0.pr_hostuuid));
	return (0);
}

SYSCTL_PROC(_kern, KERN_HOSTUUID, hostuuid,
    CTLTYPE_STRING | CTLFLAG_RW | CTLFLAG_MPSAFE, NULL, 0,
    jnet_sysctl_hostuuid, "A", "Host UUID");
