/* Page-table lifetimes on the live kernel: VmPTE (mm_pgtables_bytes) around munmap,
 * MADV_DONTNEED (PT_RECLAIM) and mremap at fixed addresses in an empty 512 GiB.
 * gcc -O1 -o /tmp/p pagetable-lifetime.c && /tmp/p   (cited by crates/vmspace/src/pagetable.rs tests) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
static long vmpte(void){char l[256];long v=-1;FILE*f=fopen("/proc/self/status","r");while(fgets(l,sizeof l,f))if(!strncmp(l,"VmPTE:",6))v=atol(l+6);fclose(f);return v;}
#define K 4096UL
#define M2 (2UL<<20)
#define G (1UL<<30)
static char* mp(unsigned long a,unsigned long len){char*p=mmap((void*)a,len,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED_NOREPLACE,-1,0);if(p==MAP_FAILED){perror("mmap");exit(1);}madvise(p,len,MADV_NOHUGEPAGE);return p;}
static void t(unsigned long a){*(volatile char*)a=1;}
long b0;
#define R(name) printf("%-60s %+ld kB\n",name,vmpte()-b0)
int main(){
 unsigned long B=0x600000000000UL; /* 512 GiB aligned, nothing else in this PGD slot */
 b0=vmpte();
 /* 1: one page; munmap frees PTE, PMD, PUD */
 mp(B,K); t(B); R("1 touch one page (PUD+PMD+PTE)");
 munmap((void*)B,K); R("1 after munmap (free_pgd_range frees all 3)");
 /* 2: madvise DONTNEED keeps tables for partial block */
 mp(B,4*M2); t(B); t(B+M2); t(B+2*M2); R("2 touch blocks 0,1,2");
 madvise((void*)B+K,M2,MADV_DONTNEED); R("2 DONTNEED [B+4K,B+2M+4K) (no whole block)");
 madvise((void*)B+M2,M2,MADV_DONTNEED); R("2 DONTNEED [B+2M,B+4M) whole odd block (PT_RECLAIM)");
 madvise((void*)B,4*M2,MADV_DONTNEED); R("2 DONTNEED [B,B+8M) (reclaims 0 and 2)");
 munmap((void*)B,4*M2); R("2 munmap all");
 /* 3: floor exactly at a GiB boundary: VMA A below ends at B+G */
 mp(B+G-K,K); t(B+G-K); mp(B+G,M2); t(B+G); R("3 A=[B+G-4K,B+G) B=[B+G,B+G+2M) touched");
 munmap((void*)B+G,M2); R("3 munmap B (floor=B+G: PTE+PMD of GiB 1 go, PUD stays)");
 munmap((void*)B+G-K,K); R("3 munmap A");
 /* 4: neighbour below in same GiB (floor inside the GiB) */
 mp(B,K); t(B); mp(B+M2,K); t(B+M2); R("4 A=[B,+4K) C=[B+2M,+4K)");
 munmap((void*)B+M2,K); R("4 munmap C (floor B+4K: PTE only)");
 munmap((void*)B,K); R("4 munmap A");
 /* 5: ceiling mid block: B=[B,B+2M+4K) touch both, C at B+2M+8K */
 mp(B,M2+K); t(B); t(B+M2); mp(B+M2+2*K,K); t(B+M2+2*K); R("5 X=[B,B+2M+4K) C=[B+2M+8K,+4K)");
 munmap((void*)B,M2+K); R("5 munmap X (ceiling mid block 1: only block 0 PTE goes)");
 munmap((void*)B+M2+2*K,K); R("5 munmap C");
 /* 6: ceiling at next GiB start nonzero: X=[B,B+4K), C=[B+G,..) */
 mp(B,K); t(B); mp(B+G,K); t(B+G); R("6 X=[B,+4K) C=[B+G,+4K)");
 munmap((void*)B,K); R("6 munmap X (ceiling=B+G: PTE+PMD of GiB0 go)");
 munmap((void*)B+G,K); R("6 munmap C");
 /* 7: PUD table freed with neighbour in another 512G: X=[B,+4K) C=[B+512G,+4K) */
 mp(B,K); t(B); mp(B+(512*G),K); t(B+512*G); R("7 X=[B,+4K) C=[B+512G,+4K)");
 munmap((void*)B,K); R("7 munmap X (ceiling=B+512G: PTE PMD PUD go)");
 munmap((void*)B+512*G,K); R("7 munmap C");
 /* 8: mremap one page from a block with a table, nothing present */
 mp(B,4*M2); t(B+M2/2); R("8 X=[B,B+8M) touched B+1M");
 void*r=mremap((void*)B+K,K,K,MREMAP_MAYMOVE|MREMAP_FIXED,(void*)(B+4*G+3*K)); if(r==MAP_FAILED)perror("mremap"); R("8 mremap empty page B+4K -> B+4G+12K (dest gets PMD+PTE)");
 munmap((void*)(B+4*G+3*K),K); R("8 munmap dest");
 r=mremap((void*)B+M2+K,K,K,MREMAP_MAYMOVE|MREMAP_FIXED,(void*)(B+4*G+3*K)); R("8 mremap from block 1 (no PTE table) -> nothing");
 munmap((void*)(B+4*G+3*K),K); munmap((void*)B,4*M2); R("8 unmap all");
 /* 9: mremap PMD+4K aligned */
 mp(B,M2+2*K); t(B); t(B+M2); t(B+M2+K); R("9 X=[B,B+2M+8K) touched B, B+2M, B+2M+4K");
 r=mremap((void*)B,M2+K,M2+K,MREMAP_MAYMOVE|MREMAP_FIXED,(void*)(B+4*G)); R("9 mremap [B,B+2M+4K) -> B+4G");
 munmap((void*)B+M2+K,K); munmap((void*)(B+4*G),M2+K); R("9 unmap all");

 /* 10: ceiling exactly at block end: X=[B,B+2M) C=[B+2M,+4K) */
 mp(B,M2); t(B); mp(B+M2,K); t(B+M2); R("10 X=[B,B+2M) C=[B+2M,+4K)");
 munmap((void*)B,M2); R("10 munmap X (ceiling=B+2M: block 0 PTE goes)");
 munmap((void*)B+M2,K); R("10 munmap C");
 /* 11: floor inside block 0, range continues into block 1 */
 mp(B,K); t(B); mp(B+K,M2); t(B+K); t(B+M2); R("11 A=[B,+4K) X=[B+4K,B+2M+4K)");
 munmap((void*)B+K,M2); R("11 munmap X (floor B+4K: block 1 PTE goes)");
 munmap((void*)B,K); R("11 munmap A");
 /* 12: DONTNEED exactly [B,B+2M) (ends at an odd block) */
 mp(B,2*M2); t(B); t(B+M2); R("12 X=[B,B+4M) touched both");
 madvise((void*)B,M2,MADV_DONTNEED); R("12 DONTNEED [B,B+2M) (reclaims block 0)");
 munmap((void*)B,2*M2); R("12 munmap");
 /* 13: a whole VMA moved (relocated): the source's tables go, the destination's come */
 mp(B,2*K); t(B); t(B+K); R("13 X=[B,B+8K) touched both");
 r=mremap((void*)B,2*K,2*K,MREMAP_MAYMOVE|MREMAP_FIXED,(void*)(B+4*G)); if(r==MAP_FAILED)perror("mremap"); R("13 mremap whole X -> B+4G (PMD+PTE of GiB 0 go, GiB 4 gets them)");
 munmap((void*)(B+4*G),2*K); R("13 munmap dest");
 return 0;}
