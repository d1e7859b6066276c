#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
static void *thr(void *x) {
  for (int i = 0; i < 3; i++) {
    void *p = mmap(NULL, 4096*(i+1), PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
    munmap(p, 4096*(i+1));
  }
  return 0;
}
int main(int argc, char **argv) {
  pthread_t t1, t2;
  pthread_create(&t1, 0, thr, 0);
  pthread_create(&t2, 0, thr, 0);
  pthread_join(t1, 0); pthread_join(t2, 0);
  char *a = mmap(NULL, 4*4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  char *b = mremap(a, 4*4096, 8*4096, MREMAP_MAYMOVE);
  mremap(b, 8*4096, 16*4096, 0);
  char *c = mmap(NULL, 4*4096, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  mremap(b, 4096, 4096, MREMAP_MAYMOVE|MREMAP_FIXED, c);
  mremap(b+4096, 4096, 4096, MREMAP_MAYMOVE|MREMAP_DONTUNMAP, 0);
  syscall(SYS_mremap, b, 4096, 8192, MREMAP_MAYMOVE|0x10, 0);
  syscall(SYS_mremap, b, 4096, 8192, 0x30, 0);
  mprotect(b, 4096, PROT_READ|PROT_EXEC);
  mprotect(b, 4096, PROT_READ|0x10);
  mlock(b, 4096);
  syscall(SYS_mlock2, b, 4096, MLOCK_ONFAULT);
  syscall(SYS_mlock2, b, 4096, 0);
  munlock(b, 4096);
  mlockall(MCL_CURRENT|MCL_FUTURE);
  mlockall(MCL_CURRENT|MCL_ONFAULT|0x40);
  munlockall();
  madvise(b, 4096, MADV_DONTNEED);
  madvise(b, 4096, 102);
  madvise(b, 4096, 77);
  syscall(SYS_brk, 0);
  int fd = memfd_create("x", MFD_CLOEXEC);
  int fd2 = memfd_create("with \"quote\"\n", 0);
  ftruncate(fd, 3*4096);
  pwrite(fd, "hello\n\t\\\0\x01\xff", 12, 4096);
  char big[100]; memset(big, 'A', 100);
  pwrite(fd, big, 100, 0);
  char *f = mmap((void*)0x7f0000000000, 8192, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_FIXED_NOREPLACE, fd, 4096);
  mmap(NULL, 4096, PROT_READ, MAP_SHARED|MAP_ANONYMOUS|MAP_POPULATE|MAP_LOCKED|0x800000, -1, 0);
  mmap(NULL, -1, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  munmap(f, 8192);
  close(fd);
  close(fd2);
  struct rlimit rl = {8192*1024, RLIM_INFINITY};
  setrlimit(RLIMIT_MEMLOCK, &rl);
  syscall(SYS_setrlimit, RLIMIT_AS, &rl);
  rl.rlim_cur = 12345;
  prlimit(0, RLIMIT_DATA, &rl, NULL);
  struct rlimit old;
  prlimit(0, RLIMIT_STACK, NULL, &old);
  syscall(SYS_setuid, 0);
  if (argc > 1) { char *g = mmap(NULL,4096,PROT_NONE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0); *(volatile char *)g = 1; }
  return 0;
}
