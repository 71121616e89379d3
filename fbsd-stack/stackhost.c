/*
 * jnet-stackhost: FreeBSD 13.0's network stack (F-Stack's libfstack.a) served over a Unix
 * socket, so jnet's FreeBSD backend can send it the same request codes and struct bytes it
 * sends a FreeBSD kernel.
 *
 * One request at a time, on the stack's own thread, from inside ff_run's loop callback:
 * the stack only advances (callouts: DAD, nd6 timers, netgraph queues) between turns, like
 * a kernel under one giant lock.
 *
 * Wire format (host byte order; every frame is a u32 body length, then the body):
 *   request  u32 op, then
 *     OP_SOCKET  i32 domain, i32 type, i32 protocol        (FreeBSD numbers)
 *     OP_IOCTL   i32 fd, u32 0, u64 request, u32 arglen, u32 nbuf,
 *                nbuf x (u32 parent, u32 offset, u32 len), arg bytes, then each buffer's
 *                bytes. Buffer k's address is written at `offset` in its parent: the arg
 *                when parent is 0, else buffer parent-1, an earlier one (ifr_data,
 *                ifd_data, then ifbic_buf inside the ifd_data buffer... F-Stack's copyin
 *                is a memcpy, so nested pointers work as in the kernel)
 *     OP_CLOSE   i32 fd
 *     OP_SYSCTL  u32 namelen, u32 oldcap (0xffffffff: no old buffer), u32 newlen,
 *                namelen x i32, new bytes
 *     OP_SENDTO  i32 fd, u32 addrlen, u32 len, addr bytes, data bytes
 *     OP_RECV    i32 fd, u32 cap            (never waits: EAGAIN when nothing is queued)
 *     OP_COUNT   nothing: how many requests (but these) the host has served, all clients
 *     OP_JAIL_CREATE  i32 vnet (JAIL_SYS_NEW 1: its own, JAIL_SYS_INHERIT 2), u32 n,
 *                n x 16 bytes (ip6.addr), name bytes: a persistent jail (jail -c persist),
 *                as jail_set(2) JAIL_CREATE makes it
 *     OP_JAIL_REMOVE  i32 jid: jail_remove(2); the connections attached to it are dropped,
 *                as prison_remove_one kills the jail's processes
 *     OP_JAIL_GET     i32 flags, i32 by (0 lastjid, 1 jid, 2 name), i32 jid, name bytes:
 *                jail_get(2)'s lookup
 *     OP_JAIL_ATTACH  i32 jid: jail_attach(2) for this connection, which is a process:
 *                the sockets it opens from then on act in the jail's vnet
 *     OP_BIND, OP_CONNECT  i32 fd, then a FreeBSD sockaddr: bind(2), connect(2)
 *     OP_LISTEN  i32 fd, i32 backlog
 *     OP_ACCEPT  i32 fd: accept(2), never waiting (EAGAIN); the new socket is this
 *                connection's
 *   reply    i32 rc, i32 errno (FreeBSD's number), then
 *     OP_IOCTL   arg bytes, then each buffer's bytes, as the kernel left them; a
 *                pointer slot holds the client's own value unless the kernel changed it
 *     OP_SYSCTL  u32 oldlen, then oldlen bytes (none when oldcap was 0xffffffff)
 *     OP_RECV    rc bytes
 *     OP_COUNT   u64 count
 *     OP_JAIL_GET     i32 vnet, i32 dying, the name (256 bytes, NUL-padded), u32 n, then
 *                n x 16 bytes (ip6.addr, at most JAIL_IP6_MAX); rc the jid
 *
 * Netgraph (PF_NETGRAPH) and routing (PF_ROUTE) sockets, sendto and recvfrom go through
 * ff_ngctl, F-Stack's way into sys_socket/sys_sendto/sys_recvfrom with FreeBSD's own
 * numbers and sockaddrs; ff_socket would translate Linux domain numbers.
 *
 * Descriptors belong to the connection that opened them and are closed when it goes.
 * Jails are fbsd-stack/jnet_prison.c's (kern_jail.c's part for a VNET jail): each
 * connection runs its requests with its own cred, the host's or, once attached, a jail's;
 * when it goes its cred goes (and, with the last reference, the jail and its vnet).
 * JNET_STACKHOST_HOSTUUID, when set, is written to kern.hostuuid at start, as rc.d/hostid
 * does on FreeBSD.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ff_api.h"
#include "ff_errno.h"
#include "jnet_prison.h"

enum { OP_SOCKET = 1, OP_IOCTL = 2, OP_CLOSE = 3, OP_SYSCTL = 4, OP_SENDTO = 5, OP_RECV = 6, OP_COUNT = 7,
       OP_JAIL_CREATE = 8, OP_JAIL_REMOVE = 9, OP_JAIL_GET = 10, OP_JAIL_ATTACH = 11,
       OP_BIND = 12, OP_CONNECT = 13, OP_LISTEN = 14, OP_ACCEPT = 15 };
enum { MAX_CLIENTS = 256, MAX_FDS = 64, MAX_FRAME = 1 << 20, MAX_BUFS = 8 };
/* kern_jail.c's security.jail.jail_max_af_ips default: the most addresses a jail has. */
enum { JAIL_IP6_MAX = 255 };
/* FreeBSD sys/sys/socket.h: SOCK_CLOEXEC 0x10000000, SOCK_NONBLOCK 0x20000000,
   PF_ROUTE 17, MSG_DONTWAIT 0x80; sys/netgraph/ng_socket.h: PF_NETGRAPH 32 */
#define FBSD_SOCK_TYPE_MASK 0x0fffffff
#define FBSD_PF_ROUTE 17
#define FBSD_PF_NETGRAPH 32
#define FBSD_MSG_DONTWAIT 0x80

/* The FreeBSD struct *_args ff_ngctl takes: every field in an 8-byte slot on LP64. */
struct socket_slots { int64_t domain, type, protocol; };
struct sendto_slots { int64_t s; const void *buf; size_t len; int64_t flags; const void *to; int64_t tolen; };
struct recvfrom_slots { int64_t s; void *buf; size_t len; int64_t flags; void *from; void *fromlen; };
struct sockaddr_slots { int64_t s; const void *name; int64_t namelen; };


/* cred: the process's, NULL for the host's; killed: its jail was removed. */
struct client { int fd; int nfds; int fds[MAX_FDS]; char via_ngctl[MAX_FDS]; void *cred; int killed; };
static struct client clients[MAX_CLIENTS];
static int nclients, listener = -1;
static uint64_t served;
static uint8_t frame[MAX_FRAME], reply[MAX_FRAME + 8];

/*
 * ff_os_errno (lib/ff_host_interface.c) turns FreeBSD's errno into Linux's; the client
 * speaks FreeBSD, so turn it back. Values F-Stack passed through unchanged (no Linux
 * name) come back as they are.
 */
static int freebsd_errno(int e) {
#define BACK(name) if (e == name) return ff_##name;
  BACK(EPERM) BACK(ENOENT) BACK(ESRCH) BACK(EINTR) BACK(EIO) BACK(ENXIO) BACK(E2BIG)
  BACK(ENOEXEC) BACK(EBADF) BACK(ECHILD) BACK(EDEADLK) BACK(ENOMEM) BACK(EACCES)
  BACK(EFAULT) BACK(ENOTBLK) BACK(EBUSY) BACK(EEXIST) BACK(EXDEV) BACK(ENODEV)
  BACK(ENOTDIR) BACK(EISDIR) BACK(EINVAL) BACK(ENFILE) BACK(EMFILE) BACK(ENOTTY)
  BACK(ETXTBSY) BACK(EFBIG) BACK(ENOSPC) BACK(ESPIPE) BACK(EROFS) BACK(EMLINK) BACK(EPIPE)
  BACK(EDOM) BACK(ERANGE) BACK(EWOULDBLOCK) BACK(EINPROGRESS) BACK(EALREADY)
  BACK(ENOTSOCK) BACK(EDESTADDRREQ) BACK(EMSGSIZE) BACK(EPROTOTYPE) BACK(ENOPROTOOPT)
  BACK(EPROTONOSUPPORT) BACK(ESOCKTNOSUPPORT) BACK(ENOTSUP) BACK(EPFNOSUPPORT)
  BACK(EAFNOSUPPORT) BACK(EADDRINUSE) BACK(EADDRNOTAVAIL) BACK(ENETDOWN) BACK(ENETUNREACH)
  BACK(ENETRESET) BACK(ECONNABORTED) BACK(ECONNRESET) BACK(ENOBUFS) BACK(EISCONN)
  BACK(ENOTCONN) BACK(ESHUTDOWN) BACK(ETOOMANYREFS) BACK(ETIMEDOUT) BACK(ECONNREFUSED)
  BACK(ELOOP) BACK(ENAMETOOLONG) BACK(EHOSTDOWN) BACK(EHOSTUNREACH) BACK(ENOTEMPTY)
  BACK(EUSERS) BACK(EDQUOT) BACK(ESTALE) BACK(EREMOTE) BACK(ENOLCK) BACK(ENOSYS)
  BACK(EIDRM) BACK(ENOMSG) BACK(EOVERFLOW) BACK(ECANCELED) BACK(EILSEQ) BACK(EBADMSG)
  BACK(EMULTIHOP) BACK(ENOLINK) BACK(EPROTO)
#undef BACK
  return e;
}

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* After a failed read or write: 1 if it is worth trying again (interrupted, or the socket
   became ready within 5 s), 0 if the client is gone or stuck. */
static int may_retry(int fd, short events) {
  if (errno == EINTR) return 1;
  if (errno != EAGAIN) return 0;
  struct pollfd w = { fd, events, 0 };
  return poll(&w, 1, 5000) > 0;
}

/* Reads exactly n bytes; the client sends a frame in one go, so a short wait is enough. */
static int read_full(int fd, uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t got = read(fd, p, n);
    if (got == 0) return -1;
    if (got < 0) {
      if (may_retry(fd, POLLIN)) continue;
      return -1;
    }
    p += got; n -= (size_t)got;
  }
  return 0;
}

static int write_full(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t put = write(fd, p, n);
    if (put < 0) {
      if (may_retry(fd, POLLOUT)) continue;
      return -1;
    }
    p += put; n -= (size_t)put;
  }
  return 0;
}

static int close_fd(struct client *c, int k) {
  int fd = c->fds[k], ngctl = c->via_ngctl[k];
  c->fds[k] = c->fds[c->nfds - 1];
  c->via_ngctl[k] = c->via_ngctl[c->nfds - 1];
  c->nfds--;
  return ngctl ? ff_ngctl(NGCTL_CLOSE, &fd) : ff_close(fd);
}

/* A process's exit: its descriptors, then its cred. */
static void drop_client(int i) {
  struct client *c = &clients[i];
  void *saved = jnet_cred_enter(c->cred);
  while (c->nfds > 0) close_fd(c, 0);
  jnet_cred_leave(saved);
  if (c->cred != NULL) jnet_cred_free(c->cred);
  close(c->fd);
  clients[i] = clients[--nclients];
}

static int owns(struct client *c, int fd) {
  for (int k = 0; k < c->nfds; k++) if (c->fds[k] == fd) return k;
  return -1;
}

/* Returns the reply body length, or -1 for a malformed request (the connection is dropped). */
static long serve(struct client *c, const uint8_t *req, uint32_t len) {
  int32_t rc = -1, err = 0;
  long out = 8;
  if (len < 4) return -1;
  switch (get32(req)) {
  case OP_SOCKET: {
    if (len != 16) return -1;
    int32_t domain = (int32_t)get32(req + 4), type = (int32_t)get32(req + 8);
    int32_t protocol = (int32_t)get32(req + 12);
    if (c->nfds == MAX_FDS) { err = ff_EMFILE; break; }
    int ngctl = domain == FBSD_PF_NETGRAPH || domain == FBSD_PF_ROUTE;
    if (ngctl) {
      struct socket_slots a = { domain, type & FBSD_SOCK_TYPE_MASK, protocol };
      rc = ff_ngctl(NGCTL_SOCKET, &a);
    } else {
      rc = ff_socket(domain, type & FBSD_SOCK_TYPE_MASK, protocol);
    }
    if (rc < 0) { err = freebsd_errno(errno); break; }
    c->via_ngctl[c->nfds] = (char)ngctl;
    c->fds[c->nfds++] = rc;
    break;
  }
  case OP_CLOSE: {
    if (len != 8) return -1;
    int32_t fd = (int32_t)get32(req + 4);
    int k = owns(c, fd);
    if (k < 0) { err = ff_EBADF; break; }
    rc = close_fd(c, k);
    if (rc < 0) err = freebsd_errno(errno);
    break;
  }
  case OP_IOCTL: {
    if (len < 28) return -1;
    int32_t fd = (int32_t)get32(req + 4);
    unsigned long request = (unsigned long)get64(req + 12);
    uint32_t arglen = get32(req + 20), nbuf = get32(req + 24);
    if (nbuf > MAX_BUFS) return -1;
    const uint8_t *table = req + 28, *given = table + nbuf * 12;
    size_t need = 28 + (size_t)nbuf * 12 + arglen;
    for (uint32_t b = 0; b < nbuf; b++) {
      if (need > len) return -1;
      need += get32(table + b * 12 + 8);
    }
    if (need != len || need > MAX_FRAME) return -1;
    /* The arg and its buffers are rebuilt in the reply area, so what the kernel leaves in
       them goes straight back. */
    uint8_t *arg = reply + 8;
    uint8_t *start[MAX_BUFS + 1];
    uint32_t size[MAX_BUFS + 1];
    start[0] = arg; size[0] = arglen;
    memcpy(arg, given, need - 28 - nbuf * 12);
    uint8_t *cursor = arg + arglen;
    for (uint32_t b = 0; b < nbuf; b++) {
      uint32_t parent = get32(table + b * 12), at = get32(table + b * 12 + 4);
      if (parent > b || (size_t)at + sizeof(void *) > size[parent]) return -1;
      start[b + 1] = cursor; size[b + 1] = get32(table + b * 12 + 8);
      void *where = cursor;
      memcpy(start[parent] + at, &where, sizeof where);
      cursor += size[b + 1];
    }
    out = 8 + (long)(need - 28 - nbuf * 12);
    if (owns(c, fd) < 0) { err = ff_EBADF; break; }
    rc = ff_ioctl_freebsd(fd, request, arg);
    if (rc < 0) err = freebsd_errno(errno);
    /* A pointer slot still holding our copy's address gets the client's own value back;
       one the kernel changed (SIOCGIFDESCR writes NULL when the buffer is too small) is
       left as the kernel wrote it. The client's value is at the same place in its copy. */
    for (uint32_t b = 0; b < nbuf; b++) {
      uint32_t parent = get32(table + b * 12), at = get32(table + b * 12 + 4);
      void *where = start[b + 1], *now;
      memcpy(&now, start[parent] + at, sizeof now);
      if (now == where)
        memcpy(start[parent] + at, given + (start[parent] - arg) + at, sizeof(void *));
    }
    break;
  }
  case OP_SYSCTL: {
    if (len < 16) return -1;
    uint32_t namelen = get32(req + 4), oldcap = get32(req + 8), newlen = get32(req + 12);
    if (namelen == 0 || namelen > 24 || 16 + (size_t)namelen * 4 + newlen != len) return -1;
    int name[24];
    for (uint32_t k = 0; k < namelen; k++) name[k] = (int)get32(req + 16 + k * 4);
    const uint8_t *newp = newlen ? req + 16 + namelen * 4 : NULL;
    size_t oldlen = oldcap == 0xffffffffu ? 0 : oldcap;
    if (oldcap != 0xffffffffu && oldcap > MAX_FRAME - 4) return -1;
    uint8_t *old = reply + 12;
    rc = ff_sysctl(name, namelen, oldcap == 0xffffffffu ? NULL : old, &oldlen, newp, newlen);
    if (rc < 0) { err = freebsd_errno(errno); oldlen = 0; }
    /* With no old buffer the kernel still says how much it would have written. */
    put32(reply + 8, (uint32_t)oldlen);
    out = 12 + (long)(oldcap == 0xffffffffu ? 0 : oldlen);
    break;
  }
  case OP_SENDTO: {
    if (len < 16) return -1;
    int32_t fd = (int32_t)get32(req + 4);
    uint32_t addrlen = get32(req + 8), dlen = get32(req + 12);
    if (16 + (size_t)addrlen + dlen != len) return -1;
    if (owns(c, fd) < 0) { err = ff_EBADF; break; }
    struct sendto_slots a = { fd, req + 16 + addrlen, dlen, 0, addrlen ? req + 16 : NULL, addrlen };
    rc = ff_ngctl(NGCTL_SEND, &a);
    if (rc < 0) err = freebsd_errno(errno);
    break;
  }
  case OP_COUNT: {
    if (len != 4) return -1;
    rc = 0;
    memcpy(reply + 8, &served, sizeof served);
    out = 16;
    break;
  }
  case OP_RECV: {
    if (len != 12) return -1;
    int32_t fd = (int32_t)get32(req + 4);
    uint32_t cap = get32(req + 8);
    if (cap > MAX_FRAME) return -1;
    if (owns(c, fd) < 0) { err = ff_EBADF; break; }
    /* Never block: the stack's own timers run on this thread. */
    struct recvfrom_slots a = { fd, reply + 8, cap, FBSD_MSG_DONTWAIT, NULL, NULL };
    rc = ff_ngctl(NGCTL_RECV, &a);
    if (rc < 0) err = freebsd_errno(errno); else out = 8 + rc;
    break;
  }
  case OP_BIND:
  case OP_CONNECT: {
    if (len < 8) return -1;
    int32_t fd = (int32_t)get32(req + 4);
    if (owns(c, fd) < 0) { err = ff_EBADF; break; }
    struct sockaddr_slots a = { fd, req + 8, len - 8 };
    rc = ff_ngctl(get32(req) == OP_BIND ? NGCTL_BIND : NGCTL_CONNECT, &a);
    if (rc < 0) err = freebsd_errno(errno);
    break;
  }
  case OP_LISTEN: {
    if (len != 12) return -1;
    int32_t fd = (int32_t)get32(req + 4);
    if (owns(c, fd) < 0) { err = ff_EBADF; break; }
    rc = ff_listen(fd, (int32_t)get32(req + 8));
    if (rc < 0) err = freebsd_errno(errno);
    break;
  }
  case OP_ACCEPT: {
    if (len != 8) return -1;
    int32_t fd = (int32_t)get32(req + 4);
    if (owns(c, fd) < 0) { err = ff_EBADF; break; }
    if (c->nfds == MAX_FDS) { err = ff_EMFILE; break; }
    rc = ff_accept(fd, NULL, NULL);
    if (rc < 0) { err = freebsd_errno(errno); break; }
    c->via_ngctl[c->nfds] = 0;
    c->fds[c->nfds++] = rc;
    break;
  }
  case OP_JAIL_CREATE: {
    if (len < 12) return -1;
    uint32_t n = get32(req + 8);
    if (n > JAIL_IP6_MAX || len < 12 + 16 * n + 1 || len - 12 - 16 * n > 255) return -1;
    const uint8_t *at = req + 12 + 16 * n;
    size_t namelen = len - 12 - 16 * n;
    char name[256];
    memcpy(name, at, namelen);
    name[namelen] = 0;
    if (memchr(at, 0, namelen) != NULL) { err = ff_EINVAL; break; }
    int jid = 0;
    err = jnet_jail_create(jnet_cred_current(), name, (int32_t)get32(req + 4), req + 12, (int)n, &jid);
    rc = err ? -1 : jid;
    if (err) err = freebsd_errno(err);
    break;
  }
  case OP_JAIL_REMOVE: {
    if (len != 8) return -1;
    int32_t jid = (int32_t)get32(req + 4);
    err = jnet_jail_remove(jnet_cred_current(), jid);
    rc = err ? -1 : 0;
    if (err) { err = freebsd_errno(err); break; }
    for (int k = 0; k < nclients; k++)
      if (clients[k].cred != NULL && jnet_cred_jid(clients[k].cred) == jid) clients[k].killed = 1;
    break;
  }
  case OP_JAIL_GET: {
    if (len < 16 || len - 16 > 255) return -1;
    char key[256], name[256];
    memcpy(key, req + 16, len - 16);
    key[len - 16] = 0;
    int jid = 0, vnet = 0, dying = 0, ip6s = 0;
    memset(name, 0, sizeof name);
    uint8_t *ip6 = reply + 16 + sizeof name + 4;
    err = jnet_jail_lookup(jnet_cred_current(), (int32_t)get32(req + 4), (int32_t)get32(req + 8),
                           (int32_t)get32(req + 12), key, &jid, name, sizeof name, &vnet, &dying,
                           ip6, JAIL_IP6_MAX, &ip6s);
    rc = err ? -1 : jid;
    if (err) { err = freebsd_errno(err); break; }
    if (ip6s > JAIL_IP6_MAX) { rc = -1; err = ff_EINVAL; break; }
    put32(reply + 8, (uint32_t)vnet);
    put32(reply + 12, (uint32_t)dying);
    memcpy(reply + 16, name, sizeof name);
    put32(reply + 16 + sizeof name, (uint32_t)ip6s);
    out = 16 + (long)sizeof name + 4 + 16 * ip6s;
    break;
  }
  case OP_JAIL_ATTACH: {
    if (len != 8) return -1;
    err = jnet_jail_attach(&c->cred, (int32_t)get32(req + 4));
    rc = err ? -1 : 0;
    if (err) err = freebsd_errno(err);
    break;
  }
  default:
    return -1;
  }
  if (get32(req) != OP_COUNT) served++;
  put32(reply, (uint32_t)rc);
  put32(reply + 4, (uint32_t)err);
  return out;
}

static void accept_clients(void) {
  for (;;) {
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) return;
    if (nclients == MAX_CLIENTS) { close(fd); continue; }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    clients[nclients].fd = fd;
    clients[nclients].nfds = 0;
    clients[nclients].cred = NULL;
    clients[nclients].killed = 0;
    nclients++;
  }
}

/* One request per ready client per turn; the stack runs its timers in between, the
   netgraph items FreeBSD would have queued run (ngthread's work), and the jails whose last
   reference went are completed (taskqueue_thread's prison_complete). */
static int turn(void *unused) {
  (void)unused;
  jnet_ng_run_deferred();
  jnet_prison_reap();
  accept_clients();
  for (int i = 0; i < nclients; i++) {
    struct client *c = &clients[i];
    if (c->killed) continue;
    uint8_t head[4];
    ssize_t got = recv(c->fd, head, 4, MSG_DONTWAIT | MSG_PEEK);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got <= 0) { drop_client(i--); continue; }
    if (got < 4) continue;
    if (read_full(c->fd, head, 4) < 0) { drop_client(i--); continue; }
    uint32_t len = get32(head);
    if (len > MAX_FRAME || read_full(c->fd, frame, len) < 0) { drop_client(i--); continue; }
    /* The request runs as the connection's process: its cred, and so its jail's vnet. */
    void *saved = jnet_cred_enter(c->cred);
    long out = serve(c, frame, len);
    jnet_cred_leave(saved);
    uint8_t rhead[4];
    put32(rhead, (uint32_t)(out < 0 ? 0 : out));
    if (out < 0 || write_full(c->fd, rhead, 4) < 0 || write_full(c->fd, reply, (size_t)out) < 0)
      drop_client(i--);
  }
  for (int i = 0; i < nclients; i++)
    if (clients[i].killed) drop_client(i--);
  return 0;
}

int main(int argc, char **argv) {
  const char *path = getenv("JNET_STACKHOST_SOCKET");
  if (path == NULL || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
    fprintf(stderr, "jnet-stackhost: set JNET_STACKHOST_SOCKET to the socket path to serve\n");
    return 64;
  }
  signal(SIGPIPE, SIG_IGN);
  if (ff_init(argc, argv) < 0) {
    fprintf(stderr, "jnet-stackhost: ff_init failed\n");
    return 71;
  }
  /* What rc.d/hostid does at boot: kern.hostuuid, {CTL_KERN 1, KERN_HOSTUUID 36}
     (sys/sys/sysctl.h). */
  const char *uuid = getenv("JNET_STACKHOST_HOSTUUID");
  if (uuid != NULL) {
    int mib[2] = { 1, 36 };
    if (ff_sysctl(mib, 2, NULL, NULL, uuid, strlen(uuid) + 1) < 0) {
      fprintf(stderr, "jnet-stackhost: set kern.hostuuid: %s\n", strerror(errno));
      return 71;
    }
  }
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  strcpy(sun.sun_path, path);
  unlink(path);
  listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (listener < 0 || bind(listener, (struct sockaddr *)&sun, sizeof sun) < 0 ||
      listen(listener, 64) < 0) {
    fprintf(stderr, "jnet-stackhost: listen on %s: %s\n", path, strerror(errno));
    return 71;
  }
  /* Tell whoever started us that requests can come now. */
  printf("jnet-stackhost: serving %s\n", path);
  fflush(stdout);
  ff_run(turn, NULL);
  return 0;
}
