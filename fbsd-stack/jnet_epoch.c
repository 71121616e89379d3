/*
 * Epochs for the stack host, in place of F-Stack's lib/ff_subr_epoch.c, which runs every
 * epoch_call(9) callback at once. FreeBSD runs it only after every thread that was inside
 * an epoch section when it was called has left it, and kernel code counts on that: it
 * unlinks an object, hands it to epoch_call and goes on reading through it inside the same
 * section. mld_ifdetach (netinet6/mld6.c) does so walking if_multiaddrs: in6m_disconnect_locked
 * unlinks and frees the link-layer ifmultiaddr the walk reads next. With F-Stack's immediate
 * call that read is a use after free, and destroying an interface whose MLD timers have run
 * faulted.
 *
 * F-Stack runs the whole stack on one thread, so a grace period ends when the outermost
 * section does: callbacks wait in a queue until then, and run at once when called outside
 * any section. Compiled as kernel code into libfstack.a by .ci/fbsd-stack.
 */
#include <sys/param.h>
#include <sys/systm.h>
#include <sys/epoch.h>

struct epoch {
	int	unused;
};

static struct epoch the_epoch;

/* Sections entered and not yet left, any epoch: there is one thread. */
static int depth;

/* Callbacks waiting for the end of the outermost section, oldest first. The context's two
   words hold the callback and the next waiting context. */
static epoch_context_t first, last;

static void
run_waiting(void)
{
	epoch_context_t ctx;
	epoch_callback_t *callback;

	/* A callback may call epoch_call again: the queue is read until it stays empty. */
	while ((ctx = first) != NULL) {
		first = ctx->data[1];
		if (first == NULL)
			last = NULL;
		callback = (epoch_callback_t *)(uintptr_t)ctx->data[0];
		callback(ctx);
	}
}

void
_epoch_enter_preempt(epoch_t epoch __unused, epoch_tracker_t et __unused EPOCH_FILE_LINE)
{
	depth++;
}

void
_epoch_exit_preempt(epoch_t epoch __unused, epoch_tracker_t et __unused EPOCH_FILE_LINE)
{
	if (depth > 0 && --depth == 0)
		run_waiting();
}

void
epoch_wait_preempt(epoch_t epoch __unused)
{
	/* Called outside any section, as in FreeBSD: everything queued is past its grace. */
	if (depth == 0)
		run_waiting();
}

void
epoch_call(epoch_t epoch __unused, epoch_callback_t callback, epoch_context_t ctx)
{
	if (depth == 0) {
		callback(ctx);
		return;
	}
	ctx->data[0] = (void *)(uintptr_t)callback;
	ctx->data[1] = NULL;
	if (last != NULL)
		last->data[1] = ctx;
	else
		first = ctx;
	last = ctx;
}

epoch_t
epoch_alloc(const char *name __unused, int flags __unused)
{
	return (&the_epoch);
}

void
epoch_drain_callbacks(epoch_t epoch __unused)
{
	if (depth == 0)
		run_waiting();
}
