// hypnode_native: the few system calls Node has no API for: those talking to systemd and the
// control channel need, and a watch that needs no event loop.
//   notify(socketPath, message, fds)  one sd_notify datagram, optionally carrying fds (SCM_RIGHTS)
//   peerCredentials(fd)               SO_PEERCRED of a connected AF_UNIX socket
//   unixSocketPath(fd)                getsockname() path of an AF_UNIX socket
//   socketInfo(fd)                    family, type, listening state and address of any socket fd
//   setCloexec(fd)                    FD_CLOEXEC, as sd_listen_fds() sets it on inherited fds
//   tryLock(fd)                       flock(LOCK_EX | LOCK_NB): false when another holds the lock
//   exitWhenOrphaned(parent, graceMs) a thread that ends the process once `parent` is gone
//   leaveForegroundGroup()            setpgid(0, 0): a process group of its own, same session
//   reapChild(pid)                    waitpid(pid, WNOHANG), for orphans adopted as PID 1
//   setChildSubreaper(on)             prctl(PR_SET_CHILD_SUBREAPER): orphans of descendants come here
//   outputLock()                      a lock in shared memory (a memfd) for the writers of one sink
//   writeSome(lockFd, fd, buf, off)   whole lines under that lock, as far as the sink takes them now
//   writeText(lockFd, fd, prefix, s)  the same for one line given as a string (no Buffer made)
//   setNonBlocking(fd)                O_NONBLOCK on a sink the workers write to themselves
//   journalStream(path, header)       a stream of a worker's own to journald, owned by no event loop
// Everything else is synchronous: each call is one or two system calls that never block for long.

#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)

// Node names system errors by their errno macro (err.code); these are the ones the calls here can
// meet. Anything else is 'UNKNOWN', as libuv calls it.
static const char *errno_name(int err) {
  switch (err) {
#define NAME(e) case e: return #e;
    NAME(EPERM) NAME(ENOENT) NAME(ESRCH) NAME(EINTR) NAME(EIO) NAME(ENXIO) NAME(EBADF)
    NAME(EAGAIN) NAME(ENOMEM) NAME(EACCES) NAME(EFAULT) NAME(ENOTDIR) NAME(EINVAL) NAME(ENFILE)
    NAME(EMFILE) NAME(EPIPE) NAME(ENAMETOOLONG) NAME(ELOOP) NAME(ENOTSOCK) NAME(EDESTADDRREQ)
    NAME(EMSGSIZE) NAME(EPROTOTYPE) NAME(ENOPROTOOPT) NAME(EOPNOTSUPP) NAME(EAFNOSUPPORT)
    NAME(ECONNRESET) NAME(ENOBUFS) NAME(EISCONN) NAME(ENOTCONN) NAME(ETOOMANYREFS)
    NAME(ECONNREFUSED) NAME(ENOSPC) NAME(EDQUOT) NAME(EFBIG)
#undef NAME
    default: return "UNKNOWN";
  }
}

// Throws an Error shaped like Node's own system errors: code, errno (negative, as in Node),
// syscall, and a message naming what was being done.
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *subject) {
  const char *code = errno_name(err);
  char message[512];
  if (subject)
    snprintf(message, sizeof message, "%s: %s, %s '%s'", code, strerror(err), syscall, subject);
  else
    snprintf(message, sizeof message, "%s: %s, %s", code, strerror(err), syscall);
  napi_value code_v, message_v, error, errno_v, syscall_v;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_v);
  napi_create_error(env, code_v, message_v, &error);
  napi_create_int32(env, -err, &errno_v);
  napi_set_named_property(env, error, "errno", errno_v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_v);
  napi_set_named_property(env, error, "syscall", syscall_v);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

// Fills args, or throws and returns 0 when fewer than n were passed.
static int get_args(napi_env env, napi_callback_info info, size_t n, napi_value *args) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc < n) {
    throw_type(env, "missing argument");
    return 0;
  }
  return 1;
}

// A file descriptor (or pid) argument: a non-negative integer. Throws and returns -1 otherwise.
static int get_id(napi_env env, napi_value value, const char *what) {
  napi_valuetype type;
  double number;
  napi_typeof(env, value, &type);
  if (type == napi_number) {
    napi_get_value_double(env, value, &number);
    if (number >= 0 && number <= 0x7fffffff && number == (double)(int)number) return (int)number;
  }
  char message[96];
  snprintf(message, sizeof message, "a %s must be a non-negative integer", what);
  throw_type(env, message);
  return -1;
}

static int get_fd(napi_env env, napi_value value) {
  return get_id(env, value, "file descriptor");
}

// The one argument of a call that takes only a file descriptor (or pid); throws and returns -1 otherwise.
static int id_argument(napi_env env, napi_callback_info info, const char *what) {
  napi_value args[1];
  if (!get_args(env, info, 1, args)) return -1;
  return get_id(env, args[0], what);
}

// A string argument as a malloc'd, NUL-terminated UTF-8 copy; throws and returns NULL otherwise.
static char *get_string(napi_env env, napi_value value, size_t *length) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type != napi_string) {
    throw_type(env, "expected a string");
    return NULL;
  }
  napi_get_value_string_utf8(env, value, NULL, 0, length);
  char *s = malloc(*length + 1);
  if (!s) {
    throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  napi_get_value_string_utf8(env, value, s, *length + 1, length);
  return s;
}

// A unix socket address in the two forms sd_notify() reads NOTIFY_SOCKET in: an absolute path, or
// "@" for a name in the abstract namespace (whose address length must not include a trailing NUL).
static int unix_address(const char *path, size_t length, struct sockaddr_un *sa, socklen_t *sa_length) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (path[0] == '/') {
    if (length >= SUN_PATH_SIZE) return ENAMETOOLONG;
    memcpy(sa->sun_path, path, length);
    *sa_length = offsetof(struct sockaddr_un, sun_path) + length + 1;
    return 0;
  }
  if (path[0] == '@' && length > 1) {
    if (length > SUN_PATH_SIZE) return ENAMETOOLONG;
    memcpy(sa->sun_path + 1, path + 1, length - 1);
    *sa_length = offsetof(struct sockaddr_un, sun_path) + length;
    return 0;
  }
  return EINVAL;
}

// Reads fds (an array of fd numbers) into a malloc'd cmsg buffer for SCM_RIGHTS; *size stays 0 for
// an empty array. Throws and returns 0 on a bad argument.
static int fds_control(napi_env env, napi_value fds, void **control, size_t *size) {
  bool is_array;
  uint32_t count;
  *control = NULL;
  *size = 0;
  napi_is_array(env, fds, &is_array);
  if (!is_array) {
    throw_type(env, "fds must be an array of file descriptors");
    return 0;
  }
  napi_get_array_length(env, fds, &count);
  if (count == 0) return 1;
  *size = CMSG_SPACE(sizeof(int) * count);
  *control = calloc(1, *size);
  if (!*control) {
    throw_errno(env, ENOMEM, "malloc", NULL);
    return 0;
  }
  struct msghdr probe = { .msg_control = *control, .msg_controllen = *size };
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&probe);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
  int *out = (int *)CMSG_DATA(cmsg);
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    napi_get_element(env, fds, i, &element);
    int fd = get_fd(env, element);
    if (fd < 0) {
      free(*control);
      *control = NULL;
      return 0;
    }
    out[i] = fd;
  }
  return 1;
}

// notify(socketPath, message, fds): what sd_pid_notify_with_fds(0, ...) does. A fresh socket per
// message, so that nothing stays open across fork; no SCM_CREDENTIALS, because the kernel attaches
// our real ones and systemd checks those against NotifyAccess=.
static napi_value notify(napi_env env, napi_callback_info info) {
  napi_value args[3];
  if (!get_args(env, info, 3, args)) return NULL;
  size_t path_length, message_length, control_size;
  void *control;
  char *path = get_string(env, args[0], &path_length);
  if (!path) return NULL;
  char *message = get_string(env, args[1], &message_length);
  if (!message) {
    free(path);
    return NULL;
  }
  if (!fds_control(env, args[2], &control, &control_size)) {
    free(path);
    free(message);
    return NULL;
  }

  struct sockaddr_un sa;
  socklen_t sa_length = 0;
  const char *syscall = "sendmsg";
  int err = unix_address(path, path_length, &sa, &sa_length);
  if (err == 0) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      syscall = "socket";
    } else {
      struct iovec iov = { .iov_base = message, .iov_len = message_length };
      struct msghdr msg = {
        .msg_name = &sa,
        .msg_namelen = sa_length,
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control,
        .msg_controllen = control_size,
      };
      ssize_t sent;
      do sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
      while (sent < 0 && errno == EINTR);
      if (sent < 0) err = errno;
      close(fd);
    }
  }
  if (err) throw_errno(env, err, syscall, path);
  free(path);
  free(message);
  free(control);
  return NULL;
}

// peerCredentials(fd) -> { pid, uid, gid } of the process at the other end, as of connect().
static napi_value peer_credentials(napi_env env, napi_callback_info info) {
  int fd = id_argument(env, info, "file descriptor");
  if (fd < 0) return NULL;
  struct ucred cred;
  socklen_t length = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) < 0) return throw_errno(env, errno, "getsockopt", NULL);
  napi_value result, pid, uid, gid;
  napi_create_object(env, &result);
  napi_create_int32(env, cred.pid, &pid);
  napi_create_uint32(env, cred.uid, &uid);
  napi_create_uint32(env, cred.gid, &gid);
  napi_set_named_property(env, result, "pid", pid);
  napi_set_named_property(env, result, "uid", uid);
  napi_set_named_property(env, result, "gid", gid);
  return result;
}

// The path of a bound AF_UNIX address, or NULL for an unnamed socket. An abstract name is given
// the way Node's net module writes it, with a leading NUL, and without trailing NULs: Node 20's
// libuv binds listen('\0name') padded to the whole sun_path, systemd binds @name exactly, and
// both must read as the '\0name' an app passes to listen().
static napi_value unix_path_value(napi_env env, const struct sockaddr_un *sa, socklen_t length) {
  if (length <= offsetof(struct sockaddr_un, sun_path)) return NULL;
  size_t used = length - offsetof(struct sockaddr_un, sun_path);
  size_t chars = used;
  if (sa->sun_path[0] == '\0')
    while (chars > 1 && sa->sun_path[chars - 1] == '\0') chars--;
  else
    chars = strnlen(sa->sun_path, used);
  napi_value path;
  napi_create_string_utf8(env, sa->sun_path, chars, &path);
  return path;
}

static int get_name(napi_env env, int fd, struct sockaddr_storage *ss, socklen_t *length) {
  *length = sizeof *ss;
  if (getsockname(fd, (struct sockaddr *)ss, length) < 0) {
    throw_errno(env, errno, "getsockname", NULL);
    return 0;
  }
  return 1;
}

// unixSocketPath(fd) -> string | null (null when the socket is not AF_UNIX or has no name).
static napi_value unix_socket_path(napi_env env, napi_callback_info info) {
  napi_value result;
  int fd = id_argument(env, info, "file descriptor");
  if (fd < 0) return NULL;
  struct sockaddr_storage ss;
  socklen_t length;
  if (!get_name(env, fd, &ss, &length)) return NULL;
  napi_value path = ss.ss_family == AF_UNIX ? unix_path_value(env, (struct sockaddr_un *)&ss, length) : NULL;
  if (path) return path;
  napi_get_null(env, &result);
  return result;
}

static int get_int_option(napi_env env, int fd, int level, int option, int *value) {
  socklen_t length = sizeof *value;
  if (getsockopt(fd, level, option, value, &length) < 0) {
    throw_errno(env, errno, "getsockopt", NULL);
    return 0;
  }
  return 1;
}

static void set_string(napi_env env, napi_value object, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, object, key, v);
}

static void set_bool(napi_env env, napi_value object, const char *key, bool value) {
  napi_value v;
  napi_get_boolean(env, value, &v);
  napi_set_named_property(env, object, key, v);
}

static void set_port(napi_env env, napi_value object, in_port_t port) {
  napi_value v;
  napi_create_uint32(env, ntohs(port), &v);
  napi_set_named_property(env, object, "port", v);
}

static const char *type_name(int type) {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    case SOCK_RAW: return "raw";
    default: return "other";
  }
}

// socketInfo(fd) -> { family, type, listening, address?, port?, ipv6Only?, path? }: enough to tell
// which listen() call an inherited socket stands for.
static napi_value socket_info(napi_env env, napi_callback_info info) {
  napi_value result;
  int fd = id_argument(env, info, "file descriptor");
  if (fd < 0) return NULL;
  struct sockaddr_storage ss;
  socklen_t length;
  int type, listening;
  if (!get_name(env, fd, &ss, &length)) return NULL;
  if (!get_int_option(env, fd, SOL_SOCKET, SO_TYPE, &type)) return NULL;
  if (!get_int_option(env, fd, SOL_SOCKET, SO_ACCEPTCONN, &listening)) return NULL;

  napi_create_object(env, &result);
  set_string(env, result, "type", type_name(type));
  set_bool(env, result, "listening", listening != 0);
  char address[INET6_ADDRSTRLEN];
  if (ss.ss_family == AF_UNIX) {
    set_string(env, result, "family", "unix");
    napi_value path = unix_path_value(env, (struct sockaddr_un *)&ss, length);
    if (path) napi_set_named_property(env, result, "path", path);
  } else if (ss.ss_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    set_string(env, result, "family", "ipv4");
    set_string(env, result, "address", inet_ntop(AF_INET, &in->sin_addr, address, sizeof address));
    set_port(env, result, in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    int v6only;
    // systemd's ListenStream=PORT binds [::] dual-stack (BindIPv6Only=default): say which it is.
    if (!get_int_option(env, fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only)) return NULL;
    set_string(env, result, "family", "ipv6");
    set_string(env, result, "address", inet_ntop(AF_INET6, &in6->sin6_addr, address, sizeof address));
    set_port(env, result, in6->sin6_port);
    set_bool(env, result, "ipv6Only", v6only != 0);
  } else {
    set_string(env, result, "family", "other");
  }
  return result;
}

// setCloexec(fd): inherited fds come without FD_CLOEXEC, and libuv does not close stray fds in
// the children it spawns: without this, every worker would hold every inherited socket open.
static napi_value set_cloexec(napi_env env, napi_callback_info info) {
  int fd = id_argument(env, info, "file descriptor");
  if (fd < 0) return NULL;
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) return throw_errno(env, errno, "fcntl", NULL);
  return NULL;
}

// tryLock(fd): the start lock, a file in the private runtime directory. flock() belongs to the
// open file, not the process: a successor manager handed the fd holds the same lock, and the
// kernel frees it when the last holder ends, however it ends.
static napi_value try_lock(napi_env env, napi_callback_info info) {
  int fd = id_argument(env, info, "file descriptor");
  if (fd < 0) return NULL;
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EWOULDBLOCK) return throw_errno(env, errno, "flock", NULL);
  napi_value result;
  napi_get_boolean(env, rc == 0, &result);
  return result;
}

// exitWhenOrphaned(parent, graceMs): a worker notices its manager's death on its event loop (the
// IPC channel closes) and finishes its requests; a worker whose loop is stuck (an endless loop in
// the app) never would. This thread does not need the loop: once the process's parent is no longer
// `parent` (it died and the process was re-parented), it waits graceMs for the graceful exit and
// then ends the process. Polling getppid() rather than PR_SET_PDEATHSIG: that signal would have to
// be caught on the same stuck loop, or be SIGKILL and leave no grace at all.
#define ORPHAN_POLL_NS 100000000L

struct orphan_watch {
  pid_t parent;
  long grace_ms;
};

static void *watch_parent(void *arg) {
  struct orphan_watch watch = *(struct orphan_watch *)arg;
  free(arg);
  struct timespec poll = { 0, ORPHAN_POLL_NS };
  while (getppid() == watch.parent) nanosleep(&poll, NULL);
  struct timespec grace = { watch.grace_ms / 1000, (watch.grace_ms % 1000) * 1000000L };
  while (nanosleep(&grace, &grace) != 0 && errno == EINTR) {}
  _exit(1);
  return NULL;
}

static napi_value exit_when_orphaned(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (!get_args(env, info, 2, args)) return NULL;
  int32_t parent, grace_ms;
  if (napi_get_value_int32(env, args[0], &parent) != napi_ok || parent <= 0 ||
      napi_get_value_int32(env, args[1], &grace_ms) != napi_ok || grace_ms < 0) {
    napi_throw_type_error(env, NULL, "exitWhenOrphaned(parent, graceMs) takes a positive pid and a non-negative number");
    return NULL;
  }
  struct orphan_watch *watch = malloc(sizeof *watch);
  if (!watch) return throw_errno(env, ENOMEM, "malloc", NULL);
  watch->parent = parent;
  watch->grace_ms = grace_ms;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // The thread only sleeps and polls: a small stack is plenty.
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t thread;
  int err = pthread_create(&thread, &attr, watch_parent, watch);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    free(watch);
    return throw_errno(env, err, "pthread_create", NULL);
  }
  return NULL;
}

// leaveForegroundGroup(): setpgid(0, 0), called by a worker before its app loads. The worker stays
// in its manager's session, as node cluster's workers do: a session of its own (node's `detached`)
// would also give it a scheduler autogroup of its own, and CFS then splits the CPU between the
// groups instead of the processes (measured with wrk on 2 cores: 7x the context switches and 15%
// fewer new connections per second). Its own process group keeps a terminal's Ctrl-C (SIGINT)
// and Ctrl-\ (SIGQUIT) for the manager alone, which then drains the workers rather than have them
// killed.
static napi_value leave_foreground_group(napi_env env, napi_callback_info info) {
  (void)info;
  if (setpgid(0, 0) != 0) return throw_errno(env, errno, "setpgid", NULL);
  return NULL;
}

// reapChild(pid): waitpid(pid, WNOHANG). True when `pid` was a child of this process that had
// exited (its zombie is gone now), false when it still runs or is no child of ours. By pid only:
// libuv waits for the children it started by their pids too, so the two never take each other's.
static napi_value reap_child(napi_env env, napi_callback_info info) {
  int pid = id_argument(env, info, "pid");
  if (pid < 0) return NULL;
  if (pid == 0) return throw_type(env, "a pid must be positive");
  int status;
  pid_t got;
  do got = waitpid(pid, &status, WNOHANG);
  while (got < 0 && errno == EINTR);
  if (got < 0 && errno != ECHILD) return throw_errno(env, errno, "waitpid", NULL);
  napi_value result;
  napi_get_boolean(env, got == pid, &result);
  return result;
}

// setChildSubreaper(on): prctl(PR_SET_CHILD_SUBREAPER). A process the app started that outlives
// its parent (a detached child of a worker that exited, a daemon that double-forked) becomes a
// child of the manager rather than of init, so that the manager knows it and can end it at stop.
static napi_value set_child_subreaper(napi_env env, napi_callback_info info) {
  napi_value args[1];
  if (!get_args(env, info, 1, args)) return NULL;
  bool on;
  if (napi_get_value_bool(env, args[0], &on) != napi_ok) return throw_type(env, "setChildSubreaper takes a boolean");
  if (prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) != 0) return throw_errno(env, errno, "prctl", NULL);
  return NULL;
}

// The workers of a manager write their log lines straight to the manager's stdout or stderr, as
// node's cluster workers do, so the manager is not a third busy process on every line. On a pipe
// a write of at most PIPE_BUF bytes is atomic, and nearly every batch of log lines is that small:
// those are written at once, side by side. A larger one can be split by the kernel (when the pipe
// fills mid-write), and another writer's line land in between: it is written alone, while no
// small write is under way and none may start. The writers of one sink share, in shared memory,
// the pid of the writer of a large batch, and a slot per small write under way holding its
// writer's pid: a writer killed mid-write (SIGKILL, the OOM killer) leaves its pid behind, which
// the next large batch finds dead and clears (a bare count of writes under way would stay up for
// good, and every large batch be "busy" from then on; a dead writer's pid reused by a live process
// keeps its slot until that one ends). No call ever waits for the sink (the descriptor is
// non-blocking): it writes what the sink takes now and says how far it got; the caller keeps the
// rest and comes back later
// (see worker/output-queue.ts). A large batch begun holds the sink across calls until its last
// byte is out, so that no line is ever torn by another's; its holder seen dead (its pid gone)
// frees it. A small write is a single system call, so waiting for those under way is a moment.
#define SMALL_SLOTS 256
struct output_lock {
  volatile pid_t holder;
  // The count of small writes under way of an older hypnode (before the slots): a manager upgraded
  // from one shares the lock with its writers until they are gone, so it is still respected.
  volatile int small;
  // The holder's fd for the sink: one process may write to two sinks under one lock (the
  // manager's stdout and stderr), and only the one with a batch under way holds it.
  volatile int holder_fd;
  volatile pid_t small_writers[SMALL_SLOTS];
};

static struct output_lock *mapped_locks[1024];

static struct output_lock *lock_at(int fd) {
  if (fd < 0 || fd >= 1024) return NULL;
  if (!mapped_locks[fd]) {
    // A lock made by an older hypnode is smaller: grown (zeros: no slot taken), its fields keep their places.
    // (Its size by lseek, not fstat: fstat needs glibc 2.33, the prebuilds run on 2.28.)
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0 || ((size_t)size < sizeof(struct output_lock) && ftruncate(fd, sizeof(struct output_lock)) != 0)) return NULL;
    void *map = mmap(NULL, sizeof(struct output_lock), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return NULL;
    mapped_locks[fd] = map;
  }
  return mapped_locks[fd];
}

// Whether no process has that pid any more.
static int gone(pid_t pid) {
  return kill(pid, 0) != 0 && errno == ESRCH;
}

// The holder if it lives, else 0 (and the sink taken from the dead one).
static pid_t live_holder(struct output_lock *lock) {
  pid_t holder = __atomic_load_n(&lock->holder, __ATOMIC_SEQ_CST);
  if (holder != 0 && gone(holder)) {
    __atomic_compare_exchange_n(&lock->holder, &holder, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    return 0;
  }
  return holder;
}

// A free slot taken for this process's small write, from a place its pid picks; -1 if all are
// taken (as many small writes under way as slots: the caller tries again later).
static int take_slot(struct output_lock *lock, pid_t self) {
  for (int i = 0; i < SMALL_SLOTS; i++) {
    int at = (int)(((unsigned)self + (unsigned)i) % SMALL_SLOTS);
    pid_t none = 0;
    if (__atomic_compare_exchange_n(&lock->small_writers[at], &none, self, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return at;
  }
  return -1;
}

// A small batch: its slot taken, unless a large one is being written. The slot, or -1.
static int begin_small(struct output_lock *lock, pid_t self) {
  for (;;) {
    int slot = take_slot(lock, self);
    if (slot < 0) return -1;
    if (__atomic_load_n(&lock->holder, __ATOMIC_SEQ_CST) == 0) return slot;
    __atomic_store_n(&lock->small_writers[slot], 0, __ATOMIC_SEQ_CST);
    if (live_holder(lock) != 0) return -1;
  }
}

// Whether no small write is under way; the slots of writers that died are freed on the way.
static int small_writes_done(struct output_lock *lock) {
  if (__atomic_load_n(&lock->small, __ATOMIC_SEQ_CST) > 0) return 0;
  int done = 1;
  for (int i = 0; i < SMALL_SLOTS; i++) {
    pid_t writer = __atomic_load_n(&lock->small_writers[i], __ATOMIC_SEQ_CST);
    if (writer == 0) continue;
    if (gone(writer)) __atomic_compare_exchange_n(&lock->small_writers[i], &writer, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    else done = 0;
  }
  return done;
}

// The small writes under way are done (each is one system call: a moment, unless its writer was
// descheduled mid-way; then not yet, and the caller tries again later, still holding the sink).
static int no_small_writes(struct output_lock *lock) {
  for (int round = 0; round < 64; round++) {
    if (small_writes_done(lock)) return 1;
    sched_yield();
  }
  return 0;
}

// outputLock() -> fd: a memfd holding a free lock, to be handed to every writer of one sink.
static napi_value output_lock(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = (int)syscall(SYS_memfd_create, "hypnode-output-lock", 0);
  if (fd < 0) return throw_errno(env, errno, "memfd_create", NULL);
  if (ftruncate(fd, sizeof(struct output_lock)) != 0 || !lock_at(fd)) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "mmap", NULL);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// Writes data[*done..length) under the lock (NULL: none needed, a regular file or a stream of the
// caller's own), as far as the sink takes it now; *done moves on. NULL, or 'busy' (another
// writer holds the sink), or an errno name (ENOSPC, EPIPE...).
static const char *write_some(struct output_lock *lock, int fd, const char *data, size_t length, size_t *done) {
  pid_t self = getpid();
  // Holding the sink: a large batch of ours is under way (its rest, maybe with more behind it).
  int ours = lock && __atomic_load_n(&lock->holder, __ATOMIC_SEQ_CST) == self;
  int held = ours && lock->holder_fd == fd;
  // Our batch under way on another sink under the same lock: finished first.
  if (ours && !held) return "busy";
  int large = held || (lock && length - *done > PIPE_BUF);
  int slot = -1;
  if (lock && !held) {
    if (large) {
      pid_t none = 0;
      if (!__atomic_compare_exchange_n(&lock->holder, &none, self, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        if (live_holder(lock) != 0) return "busy";
        none = 0;
        if (!__atomic_compare_exchange_n(&lock->holder, &none, self, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return "busy";
      }
      lock->holder_fd = fd;
    } else if ((slot = begin_small(lock, self)) < 0) {
      return "busy";
    }
  }
  size_t began = *done;
  const char *result = NULL;
  if (!large || no_small_writes(lock)) {
    while (*done < length) {
      ssize_t n = write(fd, data + *done, length - *done);
      if (n >= 0) {
        *done += (size_t)n;
        continue;
      }
      if (errno == EINTR) continue;
      // An error after some went is said by the next call, which starts with it.
      if (errno != EAGAIN && *done == began) result = errno_name(errno);
      break;
    }
  }
  if (!lock) return result;
  if (!large) {
    __atomic_store_n(&lock->small_writers[slot], 0, __ATOMIC_SEQ_CST);
  } else if (*done == length || result || (!held && *done == began)) {
    // Done, failed, or not begun at all: the sink is free again.
    __atomic_store_n(&lock->holder, 0, __ATOMIC_SEQ_CST);
  }
  return result;
}

// The lock and the sink of a write call's first two arguments; 0 (thrown) on a bad one.
static int sink_arguments(napi_env env, napi_value *args, struct output_lock **lock, int *fd) {
  napi_valuetype type;
  napi_typeof(env, args[0], &type);
  int lock_fd = -1;
  if (type == napi_number) napi_get_value_int32(env, args[0], &lock_fd);
  *lock = NULL;
  if (lock_fd >= 0 && !(*lock = lock_at(lock_fd))) {
    throw_errno(env, errno, "mmap", NULL);
    return 0;
  }
  *fd = get_fd(env, args[1]);
  return *fd >= 0;
}

// The bytes written in all, or what stopped the write.
static napi_value write_outcome(napi_env env, const char *result, size_t done) {
  napi_value out;
  if (result) napi_create_string_utf8(env, result, NAPI_AUTO_LENGTH, &out);
  else napi_create_double(env, (double)done, &out);
  return out;
}

// writeSome(lockFd, fd, buffer, offset) -> the offset reached, 'busy' or an errno name, as
// write_some's. lockFd -1: no lock (a regular file, where every write() is atomic by itself).
static napi_value write_some_call(napi_env env, napi_callback_info info) {
  napi_value args[4];
  if (!get_args(env, info, 4, args)) return NULL;
  struct output_lock *lock;
  int fd;
  if (!sink_arguments(env, args, &lock, &fd)) return NULL;
  char *data;
  size_t length;
  if (napi_get_buffer_info(env, args[2], (void **)&data, &length) != napi_ok) return throw_type(env, "expected a Buffer");
  int64_t offset = 0;
  napi_get_value_int64(env, args[3], &offset);
  if (offset < 0 || (size_t)offset > length) return throw_type(env, "the offset must be within the buffer");
  size_t done = (size_t)offset;
  const char *result = write_some(lock, fd, data, length, &done);
  return write_outcome(env, result, done);
}

// writeText(lockFd, fd, prefix, text) -> writeSome of prefix + text (one line) from 0, encoded
// straight from the string (at request rate, no Buffer made and dropped for every line), but
// counting the bytes left unwritten (0: all went), since the caller does not know the length.
static napi_value write_text(napi_env env, napi_callback_info info) {
  napi_value args[4];
  if (!get_args(env, info, 4, args)) return NULL;
  struct output_lock *lock;
  int fd;
  if (!sink_arguments(env, args, &lock, &fd)) return NULL;
  char *prefix;
  size_t prefix_length;
  if (napi_get_buffer_info(env, args[2], (void **)&prefix, &prefix_length) != napi_ok) return throw_type(env, "expected a Buffer");
  char stack[16384];
  char *data = stack;
  size_t room = sizeof stack, copied = 0;
  if (prefix_length < room) {
    memcpy(stack, prefix, prefix_length);
    if (napi_get_value_string_utf8(env, args[3], stack + prefix_length, room - prefix_length, &copied) != napi_ok) return throw_type(env, "expected a string");
  }
  // Within a character's length of the brim (a character that does not fit whole is left out),
  // or no room at all: it may not all have fit.
  if (prefix_length + copied + 4 >= room) {
    size_t length;
    napi_get_value_string_utf8(env, args[3], NULL, 0, &length);
    if (!(data = malloc(prefix_length + length + 1))) return throw_errno(env, ENOMEM, "malloc", NULL);
    memcpy(data, prefix, prefix_length);
    napi_get_value_string_utf8(env, args[3], data + prefix_length, length + 1, &copied);
  }
  size_t done = 0, length = prefix_length + copied;
  const char *result = write_some(lock, fd, data, length, &done);
  if (data != stack) free(data);
  return write_outcome(env, result, length - done);
}

// setNonBlocking(fd): O_NONBLOCK on the open file description (shared with whoever else has it).
static napi_value set_non_blocking(napi_env env, napi_callback_info info) {
  int fd = id_argument(env, info, "file descriptor");
  if (fd < 0) return NULL;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return throw_errno(env, errno, "fcntl", NULL);
  return NULL;
}

// journalStream(path, header) -> fd: connects to journald's stdout socket and sends the stream's
// header, as systemd does for a service's output. The fd is the caller's alone: no libuv handle
// owns it, so journald ending the stream (it shuts down its side at once, and closes it when it
// restarts) can never close it under the writer and hand its number to another socket.
static napi_value journal_stream(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (!get_args(env, info, 2, args)) return NULL;
  size_t path_length, header_length;
  char *path = get_string(env, args[0], &path_length);
  if (!path) return NULL;
  char *header = get_string(env, args[1], &header_length);
  if (!header) {
    free(path);
    return NULL;
  }
  struct sockaddr_un sa;
  socklen_t sa_length;
  int err = unix_address(path, path_length, &sa, &sa_length);
  const char *syscall_name = "connect";
  int fd = -1;
  if (!err) {
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) err = errno, syscall_name = "socket";
  }
  if (!err && connect(fd, (struct sockaddr *)&sa, sa_length) != 0) err = errno;
  for (size_t done = 0; !err && done < header_length;) {
    ssize_t n = write(fd, header + done, header_length - done);
    if (n >= 0) done += (size_t)n;
    else if (errno != EINTR) err = errno, syscall_name = "write";
  }
  if (!err) {
    shutdown(fd, SHUT_RD);
    // The buffer systemd gives a service's own stream (SNDBUF_SIZE, forced where privileged): a
    // burst the journal has not caught up with yet waits there, not in the app.
    int size = 8 * 1024 * 1024;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) err = errno, syscall_name = "fcntl";
  }
  if (err && fd >= 0) close(fd);
  napi_value result = NULL;
  if (err) throw_errno(env, err, syscall_name, path);
  else napi_create_int32(env, fd, &result);
  free(path);
  free(header);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
    { "notify", NULL, notify, NULL, NULL, NULL, napi_enumerable, NULL },
    { "peerCredentials", NULL, peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL },
    { "unixSocketPath", NULL, unix_socket_path, NULL, NULL, NULL, napi_enumerable, NULL },
    { "socketInfo", NULL, socket_info, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setCloexec", NULL, set_cloexec, NULL, NULL, NULL, napi_enumerable, NULL },
    { "tryLock", NULL, try_lock, NULL, NULL, NULL, napi_enumerable, NULL },
    { "exitWhenOrphaned", NULL, exit_when_orphaned, NULL, NULL, NULL, napi_enumerable, NULL },
    { "leaveForegroundGroup", NULL, leave_foreground_group, NULL, NULL, NULL, napi_enumerable, NULL },
    { "reapChild", NULL, reap_child, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setChildSubreaper", NULL, set_child_subreaper, NULL, NULL, NULL, napi_enumerable, NULL },
    { "outputLock", NULL, output_lock, NULL, NULL, NULL, napi_enumerable, NULL },
    { "writeSome", NULL, write_some_call, NULL, NULL, NULL, napi_enumerable, NULL },
    { "writeText", NULL, write_text, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setNonBlocking", NULL, set_non_blocking, NULL, NULL, NULL, napi_enumerable, NULL },
    { "journalStream", NULL, journal_stream, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}
