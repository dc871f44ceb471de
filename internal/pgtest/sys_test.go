package pgtest

import (
	"os"
	"syscall"
)

func statUID(fi os.FileInfo) uint32 { return fi.Sys().(*syscall.Stat_t).Uid }

// processAlive returns nil when pid exists.
func processAlive(pid int) error { return syscall.Kill(pid, 0) }
