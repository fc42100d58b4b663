// What Swift cannot call directly: glibc's _GNU_SOURCE-only spawn actions, variadic prctl, and
// the CMSG_* macros of descriptor passing.
#ifndef CPACERSYS_H
#define CPACERSYS_H
#include <sys/types.h>
#include <spawn.h>

int pacer_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);
int pacer_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
int pacer_set_child_subreaper(void);

// Passing descriptors over a Unix socket (SCM_RIGHTS): CMSG_* are macros Swift cannot call.
// Sends `len` bytes of `data` with `fd` attached; returns what sendmsg returns.
ssize_t pacer_send_fd(int sock, int fd, const void *data, size_t len);
// Receives up to `len` bytes into `data`; `*fd` is the attached descriptor or -1.
ssize_t pacer_recv_fd(int sock, void *data, size_t len, int *fd);

// glibc malloc tuning (malloc.h is not in Swift's Glibc module): keep freed memory up to
// `trim` bytes instead of returning it to the kernel, and serve blocks below `mmap` from the heap.
void pacer_malloc_keep(int trim, int mmap);
// Returns the heap's free pages to the kernel (malloc_trim(0)); nonzero if any were.
int pacer_malloc_trim(void);
// The heap as glibc sees it (mallinfo2): bytes handed out and not yet freed (`in_use`, blocks
// mapped on their own included), and bytes it holds free in its arenas (`held_free`).
void pacer_heap(size_t *in_use, size_t *held_free);

// Starting a task's process (spawn.c). Steps named in a failure:
enum { PACER_STEP_FORK = 1, PACER_STEP_CGROUP, PACER_STEP_MOUNT, PACER_STEP_SETPGID, PACER_STEP_FDS,
       PACER_STEP_CHDIR, PACER_STEP_SETGROUPS, PACER_STEP_SETGID, PACER_STEP_SETUID, PACER_STEP_EXEC };
struct pacer_task_spawn {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *directory;
    int stdin_fd, stdout_fd, stderr_fd;
    // NULL-terminated list of cgroup.procs files the child writes itself into before exec.
    const char *const *cgroup_procs;
    int switch_user;
    uid_t uid;
    gid_t gid;
    // Own pid namespace (with a small init as pid 1) and its own /proc.
    int new_pid_ns;
    // When set: own mount namespace with this directory bind-mounted on /tmp.
    const char *private_tmp;
    // When >= 0: a keeper process (the returned pid) parents the task and writes its wait status
    // here ("exited N" / "signaled N"). A pid namespace always has one, as its pid 1.
    int status_fd;
    // The agent's heartbeat file (its mtime renewed every second) and how long the keeper lets it
    // go stale before it stops the task as orphaned (0: never). -1: no heartbeat.
    int alive_fd;
    int recovery_timeout;
};
// Returns the child's pid, or -1 with the failed step and its errno.
pid_t pacer_spawn_task(const struct pacer_task_spawn *spec, int *failed_step, int *err);
#endif
