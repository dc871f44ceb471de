// Command sockbuf sets the receive buffer of another process's sockets
// (SO_RCVBUFFORCE through a copy of the descriptor taken with
// pidfd_getfd(2)): bench/compare --client-rcvbuf uses it on perfdhcp, which
// has no option for its socket buffer, to tell the load generator's receive
// queue apart from the server's. Linux ≥ 5.6, root (CAP_SYS_PTRACE and
// CAP_NET_ADMIN). A benchmark helper, not part of leased.
//
//	sockbuf -pid PID -bytes N [-wait 2s]
//
// It waits (at most -wait) until PID has a socket, then sets the receive
// buffer of every socket PID has or opens until no new one appeared for
// -settle (perfdhcp opens its sockets one after another) to N bytes (the
// kernel doubles it, socket(7)), and prints what the kernel then reports.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	pid := flag.Int("pid", 0, "process whose sockets to change")
	bytes := flag.Int("bytes", 8<<20, "receive buffer to ask for, bytes")
	wait := flag.Duration("wait", 2*time.Second, "how long to wait for the process's first socket")
	settle := flag.Duration("settle", 200*time.Millisecond, "stop when no new socket appeared for this long")
	flag.Parse()
	if *pid <= 0 || *bytes <= 0 {
		fmt.Fprintln(os.Stderr, "sockbuf: need -pid PID and -bytes N > 0")
		os.Exit(2)
	}
	if err := run(*pid, *bytes, *wait, *settle); err != nil {
		fmt.Fprintln(os.Stderr, "sockbuf:", err)
		os.Exit(1)
	}
}

// sockets lists the descriptor numbers of pid that are sockets.
func sockets(pid int) ([]int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || !strings.HasPrefix(l, "socket:") {
			continue
		}
		if n, err := strconv.Atoi(e.Name()); err == nil {
			fds = append(fds, n)
		}
	}
	return fds, nil
}

func run(pid, bytes int, wait, settle time.Duration) error {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pfd)
	deadline := time.Now().Add(wait)
	done := map[int]bool{}
	var errs []error
	last := time.Time{}
	for {
		fds, err := sockets(pid)
		if err != nil {
			if len(done) > 0 {
				break // the process ended after we set its sockets
			}
			return err
		}
		for _, fd := range fds {
			if !done[fd] {
				done[fd] = true
				last = time.Now()
				errs = append(errs, set(pfd, pid, fd, bytes))
			}
		}
		switch {
		case len(done) == 0 && time.Now().After(deadline):
			return fmt.Errorf("process %d has no socket after %v", pid, wait)
		case len(done) > 0 && time.Since(last) >= settle:
			return errors.Join(errs...)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.Join(errs...)
}

// set sets the receive buffer of pid's descriptor fd (a socket).
func set(pfd, pid, fd, bytes int) error {
	dup, err := unix.PidfdGetfd(pfd, fd, 0)
	if err != nil {
		return fmt.Errorf("pidfd_getfd %d/%d: %w", pid, fd, err)
	}
	defer unix.Close(dup)
	if err := unix.SetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bytes); err != nil {
		return fmt.Errorf("pid %d fd %d: SO_RCVBUFFORCE: %w", pid, fd, err)
	}
	got, _ := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_RCVBUF)
	fmt.Printf("pid %d fd %d: receive buffer %d bytes\n", pid, fd, got)
	return nil
}
