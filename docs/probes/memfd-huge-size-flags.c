/* memfd_create flag checks: gcc -o /tmp/m memfd-huge-size-flags.c && /tmp/m
 * (Linux 6.18: a huge page size (0x80000000) without MFD_HUGETLB -> EINVAL; MFD_HUGETLB alone -> an fd) */
#define _GNU_SOURCE
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
int main(){int r=memfd_create("x",0x80000000u);printf("0x80000000: %d %s\n",r,r<0?strerror(errno):"");r=memfd_create("x",4);printf("MFD_HUGETLB: %d %s\n",r,r<0?strerror(errno):"");return 0;}
