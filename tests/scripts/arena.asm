# arena.asm: every arena command (asmctl-script.md, "Arenas")

# an x86-like IOVA arena: 48 bits of 4 KiB pages, the interrupt window out
arena iova 4K
span iova 0 0xffffffffffff
reserve iova 0xfee00000 0xfeefffff
stats iova

# placement policies
alloc iova 8K
alloc iova 64K align=64K
alloc iova 2M max=0xffffffff fit=highest
alloc iova 4K fit=best
alloc iova 4K fit=next
alloc iova 4K fit=next
alloc iova 12K align=16K phase=4K
alloc iova 8K nocross=64K min=60K
alloc iova 1G min=4G align=1G
find iova 1G min=4G align=1G
expect no-space
find iova 4K max=0xfff

# a request that cannot be met changes nothing
expect no-space
alloc iova 3G max=0xbfffffff
expect invalid
alloc iova 6K
expect invalid
alloc iova 4K align=3K
expect in-use
reserve iova 0 0xfff

# segments
lookup iova 0x2010
lookup iova 0x10010
lookup iova 0xfee01000
lookup iova 0x1000000000000
largest iova
largest iova max=0xffffffff
largest iova min=0xfee00000 max=0xfeefffff
walk iova

# free and move
free iova 0
expect not-found
free iova 0
move iova 0x10000 128K
move iova 0x2000 4K min=1M
expect not-found
move iova 0x8000 4K

# spans come and go; only an empty span goes
span iova 0x1000000000000 0x1ffffffffffff
alloc iova 1T min=0x1000000000000
expect in-use
unspan iova 0x1000000000000 0x1ffffffffffff
free iova 0x1000000000000
unspan iova 0x1000000000000 0x1ffffffffffff
expect not-found
unspan iova 0 0xfff
expect no-space
alloc iova 1T min=0x1000000000000
stats iova

# clones are independent copies, made in O(1)
clone iova dom1
clone iova dom2
alloc dom1 1M
alloc dom2 2M
alloc dom1 4K fit=next
show dom1
show dom2
check

# a cache of freed ranges: a freed page comes back from it, a double free is
# still refused, and a cached page is free to every caller
arena dma 4K
span dma 0 0x3fff
cache dma 16K
expect invalid
cache dma 16K
alloc dma 4K fit=instant
alloc dma 4K fit=instant
free dma 0x1000
stats dma
alloc dma 4K fit=instant
free dma 0x1000
expect not-found
free dma 0x1000
lookup dma 0x1000
free dma 0
alloc dma 16K fit=instant
stats dma
check
