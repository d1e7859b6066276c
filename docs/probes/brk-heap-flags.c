/* gcc -O1 -o /tmp/p brk-heap-flags.c && /tmp/p
 * The heap's VM_MAY* bits (mprotect to r, rwx) and MCL_FUTURE locking brk growth. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/mman.h>
static long vmlck(void){char l[256];long v=-1;FILE*f=fopen("/proc/self/status","r");while(fgets(l,sizeof l,f))if(!strncmp(l,"VmLck:",6))v=atol(l+6);fclose(f);return v;}
int main(){
  unsigned long b=syscall(SYS_brk,0); b=(b+4095)&~4095UL;
  syscall(SYS_brk,b+4*4096);
  printf("mprotect(heap page, PROT_READ) = %d\n", mprotect((void*)b,4096,PROT_READ));
  printf("mprotect(heap page, PROT_READ|PROT_WRITE|PROT_EXEC) = %d\n", mprotect((void*)b,4096,PROT_READ|PROT_WRITE|PROT_EXEC));
  printf("mprotect(heap page, PROT_READ|PROT_WRITE) = %d\n", mprotect((void*)b,4096,PROT_READ|PROT_WRITE));
  long l0=vmlck(); mlockall(MCL_FUTURE); unsigned long c=syscall(SYS_brk,0);
  syscall(SYS_brk,c+2*4096); long l1=vmlck();
  printf("VmLck before %ld kB, after brk +2 pages under MCL_FUTURE %ld kB\n",l0,l1);
  c=syscall(SYS_brk,0); syscall(SYS_brk,c+3*4096); long l2=vmlck();
  printf("after 3 pages more (the locked heap VMA extended) %ld kB\n",l2);
  char l[512]; FILE*f=fopen("/proc/self/maps","r"); int heaps=0; while(fgets(l,sizeof l,f)) if(strstr(l,"[heap]")) {heaps++; fputs(l,stdout);} fclose(f);
  printf("%d [heap] lines\n",heaps);
  return 0;}
