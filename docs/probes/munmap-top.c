/* gcc -O1 -o /tmp/p munmap-top.c && /tmp/p   (Linux 6.18: 0; EINVAL; EINVAL)
 * munmap at the top of user space: do_vmi_munmap refuses start > TASK_SIZE or len > TASK_SIZE - start.
 * Run with ASLR on, so that the stack's top lies below TASK_SIZE (0x7ffffffff000). */
#define _GNU_SOURCE
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
int main(){
  unsigned long T=0x7ffffffff000UL; int x; printf("stack near %p\n",(void*)&x);
  int r=munmap((void*)(T-4096),4096); printf("munmap(TASK_SIZE-4K, 4K) = %d %s\n",r,r?strerror(errno):"");
  r=munmap((void*)(T-4096),4097); printf("munmap(TASK_SIZE-4K, 4K+1) = %d %s\n",r,r?strerror(errno):"");
  r=munmap((void*)T,4096); printf("munmap(TASK_SIZE, 4K) = %d %s\n",r,r?strerror(errno):"");
  return 0;}
