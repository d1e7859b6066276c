# A memfd mapped and grown 2048-fold by doubling with mmap.resize, which is
# ftruncate + mremap(MREMAP_MAYMOVE) on Linux.
import mmap
import os

fd = os.memfd_create("buf")
os.ftruncate(fd, 4096)
os.pwrite(fd, b"hello", 0)
m = mmap.mmap(fd, 4096)
for n in range(1, 12):
    m.resize(4096 << n)
    m[-1] = 1
assert m[:5] == b"hello"
m.close()
