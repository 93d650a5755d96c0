# error-wrong-kind.asm: a command on the wrong kind of object; exit 3
pci q35
controller q35 0 pcie-root
alloc q35 4K
