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
#endif
