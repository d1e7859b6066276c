/* do_prlimit: raising a hard limit needs CAP_SYS_RESOURCE (this container's root lacks it).
 * gcc -O1 -o /tmp/p rlimit-raise-hard.c && /tmp/p */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
int main(){
  char l[256]; FILE*f=fopen("/proc/self/status","r"); while(fgets(l,sizeof l,f)) if(!strncmp(l,"CapEff:",7)) fputs(l,stdout); fclose(f);
  struct rlimit r={8<<20,16<<20};
  int a=setrlimit(RLIMIT_STACK,&r);
  r.rlim_max=32<<20; int b=setrlimit(RLIMIT_STACK,&r); int e=errno;
  r.rlim_max=12<<20; int c=setrlimit(RLIMIT_STACK,&r);
  printf("lower hard to 16M: %d; raise it to 32M: %d %s; lower to 12M: %d\n",a,b,b?strerror(e):"",c);
  return 0;}
