/* brk next to an anonymous bss: gcc -O1 -static -o /tmp/bss brk-static-bss.c && setarch -R /tmp/bss
 * (Linux 6.18: the bss 004a8000-004ad000 rw-p anonymous, the heap a VMA of its own from 004ad000) */
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
static char big[3*4096+100];
int main(){ big[0]=1; unsigned long b=syscall(SYS_brk,0); syscall(SYS_brk,b+3*4096); char l[512]; FILE*f=fopen("/proc/self/maps","r"); while(fgets(l,sizeof l,f)) fputs(l,stdout); printf("brk start %lx\n",b); return 0;}
