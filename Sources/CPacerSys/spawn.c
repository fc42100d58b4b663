// Task launch: what posix_spawn cannot do — join cgroups, enter namespaces and drop to the task's
// user in the child, between fork and exec, so not one instruction of the task runs outside its
// limits. The child makes raw system calls only (no malloc, no locks: the agent is multithreaded).
#define _GNU_SOURCE
#include "CPacerSys.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

struct failure { int step; int err; };

static void fail(int pipe_fd, int step) {
    struct failure f = { step, errno };
    (void)!write(pipe_fd, &f, sizeof f);
    _exit(127);
}

// Raw clone with a null stack behaves as fork, without glibc's atfork handlers (the parent's
// other threads' locks never matter to us) and with the namespace flags fork cannot take.
static pid_t raw_fork(unsigned long flags) {
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
}

static void close_from(int from, int keep) {
    if (keep >= from) {
        if (keep > from && syscall(SYS_close_range, from, keep - 1, 0) != 0) for (int fd = from; fd < keep; fd++) close(fd);
        from = keep + 1;
    }
    if (syscall(SYS_close_range, from, ~0U, 0) != 0) for (int fd = from; fd < 65536; fd++) close(fd);
}

static volatile pid_t keeper_child;
static void forward(int sig) { if (keeper_child > 0) kill(-keeper_child, sig); }

// The wait status as text ("exited 3", "signaled 9"; " orphaned" when the keeper stopped the task
// because its agent stayed away), formatted by hand: no stdio in a forked child.
static void record(int fd, int status, int orphaned) {
    if (fd < 0) return;
    char buf[48];
    const char *word = WIFEXITED(status) ? "exited " : "signaled ";
    int value = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
    size_t n = 0;
    for (const char *w = word; *w; w++) buf[n++] = *w;
    char digits[12];
    int d = 0;
    do { digits[d++] = (char)('0' + value % 10); value /= 10; } while (value > 0);
    while (d > 0) buf[n++] = digits[--d];
    if (orphaned) for (const char *w = " orphaned"; *w; w++) buf[n++] = *w;
    buf[n++] = '\n';
    (void)!pwrite(fd, buf, n, 0);
}

static volatile sig_atomic_t alarm_rang;
static void on_alarm(int sig) { (void)sig; alarm_rang = 1; }

// Orphaned: the agent has not touched its heartbeat file for the recovery timeout (it is gone and
// not coming back, and the master has long since had the task replaced), or the file is gone: the
// agent's state directory was removed, so no agent can ever adopt this task (a wiped machine, a
// test's cluster torn down). The keeper stops the task as the agent would: SIGTERM, then SIGKILL a
// grace period later. Returns the new stage.
static int check_orphaned(const struct pacer_task_spawn *s, int alive_fd, int status_fd, pid_t child, int stage, time_t *termed) {
    struct stat st;
    struct timespec now;
    if (fstat(alive_fd, &st) != 0 || clock_gettime(CLOCK_REALTIME, &now) != 0) return stage;
    if (stage == 0 && (st.st_nlink == 0 || now.tv_sec - st.st_mtime > s->recovery_timeout)) {
        kill(s->new_pid_ns ? -child : child, SIGTERM);
        if (!s->new_pid_ns) kill(-getpgrp(), SIGTERM);   // the task's group is ours; we ignore it
        *termed = now.tv_sec;
        return 1;
    }
    if (stage == 1 && now.tv_sec - *termed >= 5) {
        record(status_fd, SIGKILL, 1);   // a SIGKILL wait status: we die with the group
        kill(s->new_pid_ns ? -child : -getpgrp(), SIGKILL);
        return 2;
    }
    return stage;
}

// The task's keeper: its parent, which outlives an agent crash. It writes the task's wait status
// to a file the agent opened (so a restarted agent learns how a task ended while it was down) and
// then ends the same way. As pid 1 of a pid namespace it must forward signals (the kernel drops
// those pid 1 does not handle); otherwise the task shares its process group, so the keeper ignores
// the signals the agent sends that group and stays to record the end.
static void run_keeper(const struct pacer_task_spawn *s, pid_t child, int pipe_fd) {
    keeper_child = child;
    // The launch pipe stays open until the keeper has dropped to the task's user: the agent's
    // spawn returns only then, so no one ever sees a task's keeper still running as root (a test
    // that read /proc right after the spawn once did).
    int ready_fd = fcntl(pipe_fd, F_DUPFD, 1000);
    close(pipe_fd);
    // A fork of the agent that never execs: named, so `ps -o comm`/top tell it from the agent.
    prctl(PR_SET_NAME, "pacer-keeper", 0, 0, 0);
    // Hold nothing of the agent's (not its stdio, not a listening socket it forgot to mark
    // CLOEXEC) but the status file, as 3, and the agent's heartbeat file, as 4.
    dup2(s->stdin_fd, 0); dup2(s->stdout_fd, 1); dup2(s->stderr_fd, 2);
    int status_fd = s->status_fd >= 0 ? fcntl(s->status_fd, F_DUPFD, 1000) : -1;
    int alive_fd = s->alive_fd >= 0 ? fcntl(s->alive_fd, F_DUPFD, 1000) : -1;
    if (status_fd >= 0) { dup2(status_fd, 3); status_fd = 3; }
    if (alive_fd >= 0) { dup2(alive_fd, 4); alive_fd = 4; }
    if (status_fd < 0) close(3);
    if (alive_fd < 0) close(4);
    close_from(5, ready_fd);
    // Nothing in a task's cgroup runs as root: the keeper becomes the task's user too. It keeps the
    // descriptors it needs, and the agent (root) can still signal it.
    if (s->switch_user) {
        syscall(SYS_setgroups, 0, NULL);
        syscall(SYS_setresgid, s->gid, s->gid, s->gid);
        syscall(SYS_setresuid, s->uid, s->uid, s->uid);
    }
    close(ready_fd);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s->new_pid_ns ? forward : SIG_IGN;
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
    int watch = alive_fd >= 0 && s->recovery_timeout > 0;
    unsigned period = 5;
    if (watch) {
        struct sigaction al;
        memset(&al, 0, sizeof al);
        al.sa_handler = on_alarm;   // no SA_RESTART: waitpid returns EINTR
        sigaction(SIGALRM, &al, NULL);
        if ((unsigned)s->recovery_timeout < 10) period = 1;
        alarm(period);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int stage = 0, orphaned = 0;
    time_t termed = 0;
    for (;;) {
        int status = 0;
        pid_t p = waitpid(s->new_pid_ns ? -1 : child, &status, 0);   // pid 1 also reaps orphans
        if (p < 0 && errno == EINTR) {
            if (watch && alarm_rang) {
                alarm_rang = 0;
                stage = check_orphaned(s, alive_fd, status_fd, child, stage, &termed);
                orphaned = stage > 0;
                alarm(period);
            }
            continue;
        }
        if (p < 0) _exit(127);
        if (p != child) continue;
        record(status_fd, status, orphaned);
        if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
        int sig = WTERMSIG(status);
        if (!s->new_pid_ns) {
            // Die of the same signal, without a core file of the keeper.
            struct rlimit none_core = { 0, 0 };
            setrlimit(RLIMIT_CORE, &none_core);
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigaction(sig, &dfl, NULL);
            kill(getpid(), sig);
        }
        _exit(128 + sig);   // pid 1 cannot die of its own signal
    }
}

static void write_pid_files(const char *const *files, int pipe_fd) {
    for (const char *const *f = files; f && *f; f++) {
        int fd = open(*f, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) fail(pipe_fd, PACER_STEP_CGROUP);
        close(fd);
    }
}

static void exec_task(const struct pacer_task_spawn *s, int pipe_fd, int in_directory, int own_group) {
    if (own_group && setpgid(0, 0) != 0) fail(pipe_fd, PACER_STEP_SETPGID);
    if (dup2(s->stdin_fd, 0) < 0 || dup2(s->stdout_fd, 1) < 0 || dup2(s->stderr_fd, 2) < 0) fail(pipe_fd, PACER_STEP_FDS);
    close_from(3, pipe_fd);
    if (!in_directory && chdir(s->directory) != 0) fail(pipe_fd, PACER_STEP_CHDIR);
    if (s->switch_user) {
        // Per-thread credential calls are what we want here: the child has one thread.
        if (syscall(SYS_setgroups, 0, NULL) != 0) fail(pipe_fd, PACER_STEP_SETGROUPS);
        if (syscall(SYS_setresgid, s->gid, s->gid, s->gid) != 0) fail(pipe_fd, PACER_STEP_SETGID);
        if (syscall(SYS_setresuid, s->uid, s->uid, s->uid) != 0) fail(pipe_fd, PACER_STEP_SETUID);
    }
    // The agent ignores or blocks some signals; the task starts with the defaults.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(s->path, s->argv, s->envp);
    fail(pipe_fd, PACER_STEP_EXEC);
}

pid_t pacer_spawn_task(const struct pacer_task_spawn *s, int *failed_step, int *err) {
    int p[2];
    *failed_step = 0; *err = 0;
    if (pipe2(p, O_CLOEXEC) != 0) { *failed_step = PACER_STEP_FORK; *err = errno; return -1; }
    pid_t pid = raw_fork(s->new_pid_ns ? CLONE_NEWPID : 0);
    if (pid == 0) {
        close(p[0]);
        setpgid(0, 0);   // the agent signals the task's group: with a pid namespace, that is its init
        write_pid_files(s->cgroup_procs, p[1]);
        int mounts = s->private_tmp || s->new_pid_ns;
        if (mounts) {
            // Enter the sandbox first: it may live under the /tmp about to be covered.
            if (chdir(s->directory) != 0) fail(p[1], PACER_STEP_CHDIR);
            if (unshare(CLONE_NEWNS) != 0) fail(p[1], PACER_STEP_MOUNT);
            if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(p[1], PACER_STEP_MOUNT);
            if (s->private_tmp && mount(s->private_tmp, "/tmp", NULL, MS_BIND | MS_REC, NULL) != 0) fail(p[1], PACER_STEP_MOUNT);
            if (s->new_pid_ns && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) fail(p[1], PACER_STEP_MOUNT);
        }
        if (s->new_pid_ns || s->status_fd >= 0) {
            pid_t task = raw_fork(0);
            if (task < 0) fail(p[1], PACER_STEP_FORK);
            // In a pid namespace the task has its own group (the keeper forwards to it); otherwise
            // it stays in the keeper's, which the agent signals.
            if (task == 0) exec_task(s, p[1], mounts, s->new_pid_ns);
            run_keeper(s, task, p[1]);
        }
        exec_task(s, p[1], mounts, 1);
    }
    close(p[1]);
    if (pid < 0) { *failed_step = PACER_STEP_FORK; *err = errno; close(p[0]); return -1; }
    struct failure f;
    ssize_t n;
    do { n = read(p[0], &f, sizeof f); } while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof f) {
        *failed_step = f.step; *err = f.err;
        // The failed child (or the keeper of a failed task) is ours to reap, unless a reaper got it.
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        return -1;
    }
    return pid;
}
