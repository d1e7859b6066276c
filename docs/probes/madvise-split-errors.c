/* madvise that must split a VMA: a split refused for map_count (ENOMEM) becomes EAGAIN
 * (madvise_vma_behavior); a special mapping's refused split stays EINVAL.
 * gcc -O1 -o /tmp/p madvise-split-errors.c && /tmp/p   (root: sets vm.max_map_count, then restores it) */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/auxv.h>
static int count(void){char l[512];int n=0;FILE*f=fopen("/proc/self/maps","r");while(fgets(l,sizeof l,f))n++;fclose(f);return n-1;}
static void setmax(int v){FILE*f=fopen("/proc/sys/vm/max_map_count","w");fprintf(f,"%d\n",v);fclose(f);}
int main(){
  FILE*f=fopen("/proc/sys/vm/max_map_count","r"); int old; fscanf(f,"%d",&old); fclose(f);
  char*p=mmap(0,3*4096,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  int n=count(); setmax(n);
  int r=madvise(p+4096,4096,MADV_DONTFORK); int e=errno;
  setmax(old);
  printf("map_count %d = max: madvise(middle page, MADV_DONTFORK) = %d %s\n",n,r,r?strerror(e):"");
  unsigned long vdso=getauxval(AT_SYSINFO_EHDR);
  r=madvise((void*)vdso,4096,MADV_DONTFORK); e=errno;
  printf("madvise(first page of [vdso], MADV_DONTFORK) = %d %s\n",r,r?strerror(e):"");
  r=madvise((void*)vdso,2*4096,MADV_DONTFORK); e=errno;
  printf("madvise(all of [vdso], MADV_DONTFORK) = %d %s\n",r,r?strerror(e):"");
  return 0;}
