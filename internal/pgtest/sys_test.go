package pgtest

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

func statUID(fi os.FileInfo) uint32 { return fi.Sys().(*syscall.Stat_t).Uid }

// processAlive returns nil when pid exists.
func processAlive(pid int) error { return syscall.Kill(pid, 0) }

// alive reports whether pid runs (a zombie, exited but not reaped by its
// new parent, does not count).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}
