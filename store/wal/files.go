package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// File names in the data directory. The number of a snapshot is the number
// of the first segment it does not cover: snap-N.db holds the state as of
// the start of wal-N.log.
const (
	segPrefix  = "wal-"
	segSuffix  = ".log"
	snapPrefix = "snap-"
	snapSuffix = ".db"
	tmpSuffix  = ".tmp"
	lockName   = "LOCK"
)

func segName(n uint64) string     { return fmt.Sprintf("%s%016d%s", segPrefix, n, segSuffix) }
func snapName(n uint64) string    { return fmt.Sprintf("%s%016d%s", snapPrefix, n, snapSuffix) }
func snapTmpName(n uint64) string { return fmt.Sprintf("%s%016d%s", snapPrefix, n, tmpSuffix) }

// parseName returns the number in a segment, snapshot or temporary
// snapshot file name.
func parseName(name, prefix, suffix string) (uint64, bool) {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return 0, false
	}
	digits := name[len(prefix) : len(name)-len(suffix)]
	if len(digits) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

// File header, 32 bytes, at the start of every segment and snapshot:
//
//	0  8 magic ("leasedWL" segment, "leasedSN" snapshot)
//	8  4 format version, little endian
//	12 4 reserved, zero
//	16 8 segments: valid length of the previous segment, as known by the
//	     writer when it created this one (prevUnknown when it did not know);
//	     bytes beyond it belong to a batch that failed and was never
//	     acknowledged. Snapshots: prevUnknown.
//	24 4 reserved, zero
//	28 4 CRC-32C of bytes 0..27
const (
	headerSize    = 32
	magicSegment  = "leasedWL"
	magicSnapshot = "leasedSN"
	formatVersion = 1
	prevUnknown   = ^uint64(0)
)

func appendHeader(dst []byte, magic string, prev uint64) []byte {
	var h [headerSize]byte
	copy(h[0:8], magic)
	binary.LittleEndian.PutUint32(h[8:12], formatVersion)
	binary.LittleEndian.PutUint64(h[16:24], prev)
	binary.LittleEndian.PutUint32(h[28:32], crc32.Checksum(h[:28], castagnoli))
	return append(dst, h[:]...)
}

// parseHeader checks a file header and returns its prev field.
func parseHeader(b []byte, magic string) (uint64, error) {
	if len(b) < headerSize {
		return 0, errors.New("short file header")
	}
	if string(b[0:8]) != magic {
		return 0, fmt.Errorf("bad magic %q, want %q", b[0:8], magic)
	}
	if crc32.Checksum(b[:28], castagnoli) != binary.LittleEndian.Uint32(b[28:32]) {
		return 0, errors.New("file header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(b[8:12]); v != formatVersion {
		return 0, fmt.Errorf("format version %d, this build reads %d", v, formatVersion)
	}
	return binary.LittleEndian.Uint64(b[16:24]), nil
}

// writeFile is what the writer needs from an open data file. It is an
// interface so tests can make writes and syncs fail (see fsync error tests).
type writeFile interface {
	io.Writer
	// Sync makes written data durable (fdatasync; nothing under NoSync).
	Sync() error
	Close() error
}

// fileSystem creates the files the writer appends to. Reading during
// recovery goes straight to the os package: injection is only needed
// where failures must be survived at run time.
type fileSystem interface {
	// create makes a new file (O_EXCL, mode 0600) for appending.
	create(path string) (writeFile, error)
	// openAppend opens an existing file for appending.
	openAppend(path string) (writeFile, error)
	// syncDir fsyncs a directory so created, renamed and removed entries
	// are durable.
	syncDir(dir string) error
}

type osFS struct{ noSync bool }

type osFile struct {
	f      *os.File
	fd     int
	noSync bool
}

func (f *osFile) Write(p []byte) (int, error) { return f.f.Write(p) }
func (f *osFile) Close() error                { return f.f.Close() }
func (f *osFile) Sync() error {
	if f.noSync {
		return nil
	}
	for range 100 { // bounded retry on EINTR only; any other error is final
		err := unix.Fdatasync(f.fd)
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.f.Name(), Err: err}
			}
			return nil
		}
	}
	return &os.PathError{Op: "fdatasync", Path: f.f.Name(), Err: unix.EINTR}
}

func (fs osFS) open(path string, flag int) (writeFile, error) {
	f, err := os.OpenFile(path, flag|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &osFile{f: f, fd: int(f.Fd()), noSync: fs.noSync}, nil
}

func (fs osFS) create(path string) (writeFile, error) {
	return fs.open(path, os.O_CREATE|os.O_EXCL)
}

func (fs osFS) openAppend(path string) (writeFile, error) { return fs.open(path, 0) }

func (fs osFS) syncDir(dir string) error {
	if fs.noSync {
		return nil
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: fsync directory %s: %w", dir, err)
	}
	return nil
}

// dirFiles lists the data files in dir, sorted by number.
type dirFiles struct {
	segments  []uint64
	snapshots []uint64
	tmps      []string
}

func listDir(dir string) (dirFiles, error) {
	var df dirFiles
	ents, err := os.ReadDir(dir)
	if err != nil {
		return df, fmt.Errorf("wal: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if n, ok := parseName(name, segPrefix, segSuffix); ok {
			df.segments = append(df.segments, n)
		} else if n, ok := parseName(name, snapPrefix, snapSuffix); ok {
			df.snapshots = append(df.snapshots, n)
		} else if _, ok := parseName(name, snapPrefix, tmpSuffix); ok {
			df.tmps = append(df.tmps, filepath.Join(dir, name))
		}
	}
	sort.Slice(df.segments, func(i, j int) bool { return df.segments[i] < df.segments[j] })
	sort.Slice(df.snapshots, func(i, j int) bool { return df.snapshots[i] < df.snapshots[j] })
	return df, nil
}

// mapFile maps path read-only. The returned release unmaps it. Empty
// files map to nil.
func mapFile(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("wal: %w", err)
	}
	size := st.Size()
	if size == 0 {
		return nil, func() {}, nil
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("wal: %s: file too large to map (%d bytes)", path, size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	return data, func() { _ = unix.Munmap(data) }, nil
}
