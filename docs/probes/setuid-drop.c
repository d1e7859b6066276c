/* setuid after dropping root: the same uid again is 0, root again EPERM.
 * gcc -O1 -o /tmp/p setuid-drop.c && /tmp/p   (as root) */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
int main(){
  int a=setuid(1000); int b=setuid(1000); int c=setuid(0); int e=errno;
  printf("setuid(1000) = %d; again = %d; setuid(0) = %d %s\n",a,b,c,c?strerror(e):"");
  return 0;}
