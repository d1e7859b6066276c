/* gcc -O1 -o /tmp/p brk-max-map-count.c && /tmp/p (root: it sets vm.max_map_count, then restores it)
 * do_brk_flags: map_count > max_map_count -> refused (even for an extension of the heap). */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
static int count(void){char l[512];int n=0;FILE*f=fopen("/proc/self/maps","r");while(fgets(l,sizeof l,f))n++;fclose(f);return n-1;}
static void setmax(int v){FILE*f=fopen("/proc/sys/vm/max_map_count","w");fprintf(f,"%d\n",v);fclose(f);}
int main(){
  FILE*f=fopen("/proc/sys/vm/max_map_count","r"); int old; fscanf(f,"%d",&old); fclose(f);
  unsigned long b=syscall(SYS_brk,0);
  syscall(SYS_brk,b+4096); /* make sure a heap exists */
  b=syscall(SYS_brk,0);
  int n=count();
  setmax(n-1); unsigned long r1=syscall(SYS_brk,b+2*4096);
  setmax(n);   unsigned long r2=syscall(SYS_brk,b+2*4096);
  setmax(old);
  printf("map_count %d: max %d -> brk %s; max %d -> brk %s; map_count after %d\n",n,n-1,r1==b+2*4096?"grew":"refused",n,r2==b+2*4096?"grew":"refused",count());
  return 0;}
