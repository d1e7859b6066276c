/* RLIMIT_STACK bounds the growth of a MAP_GROWSDOWN mapping (acct_stack_growth: size > rlimit -> fail).
 * gcc -O1 -o /tmp/p stack-rlimit.c && /tmp/p */
#define _GNU_SOURCE
#include <stdio.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
static sigjmp_buf jb;
static void h(int s){(void)s; siglongjmp(jb,1);}
static int touch(volatile char*p){ if(sigsetjmp(jb,1)) return -1; *p=1; return 0; }
int main(){
  stack_t ss={.ss_sp=mmap(0,65536,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0),.ss_size=65536}; sigaltstack(&ss,0);
  struct sigaction sa={.sa_handler=h,.sa_flags=SA_ONSTACK}; sigaction(SIGSEGV,&sa,0);
  char*x=mmap((void*)0x300000100000,4096,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE|MAP_GROWSDOWN,-1,0);
  struct rlimit r={8*4096,RLIM_INFINITY}; printf("setrlimit = %d\n",setrlimit(RLIMIT_STACK,&r));
  printf("touch start-4 pages (size 5 pages): %s\n", touch(x-4*4096)?"SIGSEGV":"ok");
  printf("touch start-7 pages (size 8 pages): %s\n", touch(x-7*4096)?"SIGSEGV":"ok");
  printf("touch start-8 pages (size 9 pages): %s\n", touch(x-8*4096)?"SIGSEGV":"ok");
  return 0;}
