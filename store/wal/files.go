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
	// manifestName records the newest snapshot and the newest segment
	// created (see manifest); manifestTmp is it being replaced.
	manifestName = "MANIFEST"
	manifestTmp  = "MANIFEST.tmp"
	// lostSuffix is appended to the files a recovery that accepted data
	// loss set aside (store.allow_data_loss): kept for the operator, never
	// read again.
	lostSuffix = ".lost"
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
//	8  4 format version, little endian (1 or 2; this build writes 2)
//	12 4 version 2 segments: link, what this segment continues from
//	     (linkNone: not recorded, a version 1 segment or a snapshot;
//	     linkSegment: segment number-dist; linkSnapshot: snapshot
//	     number-dist; linkEmpty: nothing, the store was empty)
//	16 8 segments: valid length of the previous segment, as known by the
//	     writer when it created this one (prevUnknown when it did not know);
//	     bytes beyond it belong to a batch that failed and was never
//	     acknowledged. Snapshots: prevUnknown.
//	24 4 version 2 segments: dist, see link
//	28 4 CRC-32C of bytes 0..27
//
// Version 1 (before links) wrote zeros at 12 and 24, which read as
// linkNone: such a segment is assumed to follow the segment numbered one
// less, as that version always numbered them.
const (
	headerSize     = 32
	magicSegment   = "leasedWL"
	magicSnapshot  = "leasedSN"
	formatVersion  = 2
	oldestReadable = 1
	prevUnknown    = ^uint64(0)
)

// link says what a segment continues from: the state at its start is the
// state at the end of that predecessor.
type link uint32

const (
	linkNone     link = iota // not recorded (version 1): segment number-1, if present
	linkSegment              // segment number-dist, up to the header's prev length
	linkSnapshot             // snapshot number-dist
	linkEmpty                // nothing: the first segment of an empty store
)

// fileHeader is a parsed file header.
type fileHeader struct {
	version uint32
	prev    uint64 // durable length of the predecessor segment, or prevUnknown
	link    link
	dist    uint32
}

func appendHeader(dst []byte, magic string, prev uint64) []byte {
	return appendLinkedHeader(dst, magic, prev, linkNone, 0)
}

func appendLinkedHeader(dst []byte, magic string, prev uint64, l link, dist uint32) []byte {
	var h [headerSize]byte
	copy(h[0:8], magic)
	binary.LittleEndian.PutUint32(h[8:12], formatVersion)
	binary.LittleEndian.PutUint32(h[12:16], uint32(l))
	binary.LittleEndian.PutUint64(h[16:24], prev)
	binary.LittleEndian.PutUint32(h[24:28], dist)
	binary.LittleEndian.PutUint32(h[28:32], crc32.Checksum(h[:28], castagnoli))
	return append(dst, h[:]...)
}

// parseHeader checks a file header and returns its prev field.
func parseHeader(b []byte, magic string) (uint64, error) {
	h, err := parseFileHeader(b, magic)
	return h.prev, err
}

func parseFileHeader(b []byte, magic string) (fileHeader, error) {
	var h fileHeader
	if len(b) < headerSize {
		return h, fmt.Errorf("short file header (%d bytes, want %d)", len(b), headerSize)
	}
	if string(b[0:8]) != magic {
		return h, fmt.Errorf("bad magic %q, want %q", b[0:8], magic)
	}
	if crc32.Checksum(b[:28], castagnoli) != binary.LittleEndian.Uint32(b[28:32]) {
		return h, errors.New("file header checksum mismatch")
	}
	h.version = binary.LittleEndian.Uint32(b[8:12])
	if h.version < oldestReadable || h.version > formatVersion {
		return h, fmt.Errorf("format version %d, this build reads %d to %d", h.version, oldestReadable, formatVersion)
	}
	h.prev = binary.LittleEndian.Uint64(b[16:24])
	if h.version >= 2 {
		h.link = link(binary.LittleEndian.Uint32(b[12:16]))
		h.dist = binary.LittleEndian.Uint32(b[24:28])
		if h.link > linkEmpty {
			return h, fmt.Errorf("unknown segment link %d", h.link)
		}
	}
	return h, nil
}

// manifest is the content of MANIFEST, 48 bytes:
//
//	0  8 magic "leasedMF"
//	8  4 version 1
//	12 4 reserved, zero
//	16 8 snap: the newest snapshot written (0: none)
//	24 8 first: the oldest segment the log needs (the snapshot's number, or
//	     the first segment of the store when there is no snapshot)
//	32 8 last: the newest segment created (0: none yet)
//	40 4 reserved, zero
//	44 4 CRC-32C of bytes 0..43
//
// It is replaced (write MANIFEST.tmp, fsync, rename, fsync the directory)
// after a segment is created and before anything is written to it, and
// after a snapshot is renamed into place and before older files are
// removed. The disk can therefore only be ahead of the manifest, never
// behind: a segment it names was durable before it named it, so a missing
// one is a lost file, not a crash. It is never written per commit.
type manifest struct {
	snap, first, last uint64
}

const (
	manifestSize    = 48
	magicManifest   = "leasedMF"
	manifestVersion = 1
)

func (m manifest) encode() []byte {
	b := make([]byte, manifestSize)
	copy(b[0:8], magicManifest)
	binary.LittleEndian.PutUint32(b[8:12], manifestVersion)
	binary.LittleEndian.PutUint64(b[16:24], m.snap)
	binary.LittleEndian.PutUint64(b[24:32], m.first)
	binary.LittleEndian.PutUint64(b[32:40], m.last)
	binary.LittleEndian.PutUint32(b[44:48], crc32.Checksum(b[:44], castagnoli))
	return b
}

func parseManifest(b []byte) (manifest, error) {
	var m manifest
	switch {
	case len(b) != manifestSize:
		return m, fmt.Errorf("%d bytes, want %d", len(b), manifestSize)
	case string(b[0:8]) != magicManifest:
		return m, fmt.Errorf("bad magic %q, want %q", b[0:8], magicManifest)
	case crc32.Checksum(b[:44], castagnoli) != binary.LittleEndian.Uint32(b[44:48]):
		return m, errors.New("checksum mismatch")
	case binary.LittleEndian.Uint32(b[8:12]) != manifestVersion:
		return m, fmt.Errorf("manifest version %d, this build reads %d", binary.LittleEndian.Uint32(b[8:12]), manifestVersion)
	}
	m.snap = binary.LittleEndian.Uint64(b[16:24])
	m.first = binary.LittleEndian.Uint64(b[24:32])
	m.last = binary.LittleEndian.Uint64(b[32:40])
	return m, nil
}

// readManifest returns dir's manifest; ok is false when there is none (a
// store written by a version before manifests, or an empty directory).
// bad is the reason a manifest that exists cannot be used; err an I/O
// error.
func readManifest(dir string) (m manifest, ok bool, bad, err error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil, nil
	}
	if err != nil {
		return m, false, nil, fmt.Errorf("wal: %w", err)
	}
	m, bad = parseManifest(b)
	return m, bad == nil, bad, nil
}

// writeManifest atomically replaces dir's manifest. renamed reports
// whether the new manifest may have reached the directory (the rename was
// done), even when a later step failed: the caller must then act as if it
// had.
func writeManifest(fs fileSystem, dir string, m manifest) (renamed bool, err error) {
	tmp := filepath.Join(dir, manifestTmp)
	if err := fs.remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("wal: manifest: %w", err)
	}
	f, err := fs.create(tmp)
	if err != nil {
		return false, fmt.Errorf("wal: manifest: %w", err)
	}
	_, err = f.Write(m.encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.rename(tmp, filepath.Join(dir, manifestName))
	}
	if err != nil {
		fs.remove(tmp) // best effort; Open removes a leftover
		return false, fmt.Errorf("wal: write manifest (snapshot %d, segments %d..%d): %w", m.snap, m.first, m.last, err)
	}
	if err := fs.syncDir(dir); err != nil {
		return true, fmt.Errorf("wal: write manifest: %w", err)
	}
	return true, nil
}

// writeFile is what the writer needs from an open data file. It is an
// interface so tests can make writes and syncs fail (see fsync error tests).
type writeFile interface {
	// Write writes at the file offset (snapshots, the manifest: files
	// written once from the start).
	io.Writer
	// WriteAt writes at off (segments: records go in place, into the
	// zero-filled space Prealloc made).
	io.WriterAt
	// Sync makes written data durable (fdatasync; nothing under NoSync).
	Sync() error
	// Prealloc makes [off, off+n) allocated, zero-filled and durable
	// (fallocate, write zeros, fdatasync; the fdatasync is skipped under
	// NoSync), so that records later written there in place change
	// neither the file's size nor its block map: their fdatasync flushes
	// data only, without an ext4 journal commit.
	Prealloc(off, n int64) error
	// Size is the file's current size.
	Size() (int64, error)
	Close() error
}

// fileSystem creates the files the writer appends to. Reading during
// recovery goes straight to the os package: injection is only needed
// where failures must be survived at run time.
type fileSystem interface {
	// create makes a new file (O_EXCL, mode 0600), written from its start.
	create(path string) (writeFile, error)
	// openWrite opens an existing file for writing in place.
	openWrite(path string) (writeFile, error)
	// syncDir fsyncs a directory so created, renamed and removed entries
	// are durable.
	syncDir(dir string) error
	// rename and remove change directory entries (made durable by a later
	// syncDir).
	rename(from, to string) error
	remove(path string) error
}

type osFS struct{ noSync bool }

type osFile struct {
	f      *os.File
	fd     int
	noSync bool
}

func (f *osFile) Write(p []byte) (int, error)              { return f.f.Write(p) }
func (f *osFile) WriteAt(p []byte, off int64) (int, error) { return f.f.WriteAt(p, off) }
func (f *osFile) Close() error                             { return f.f.Close() }

func (f *osFile) Size() (int64, error) {
	st, err := f.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// zeros is the source of Prealloc's zero fill.
var zeros = make([]byte, 256<<10)

func (f *osFile) Prealloc(off, n int64) error {
	if n <= 0 {
		return nil
	}
	// Its own open file description: Linux reports a writeback error to
	// each file description once (errseq), so an error met by this
	// fdatasync (possibly while flushing pages of a batch the writer wrote
	// meanwhile) still reaches the writer's own fdatasync, which then
	// fails that batch and poisons the segment (fsyncgate).
	g, err := os.OpenFile(f.f.Name(), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer g.Close()
	fd := int(g.Fd())
	// Reserve the blocks first (contiguous, and ENOSPC before any byte is
	// written). ext4 marks them unwritten: a later in-place write would
	// still convert the extent at its fdatasync, a journal commit. So
	// write real zeros over them, as PostgreSQL does for its WAL.
	if err := unix.Fallocate(fd, 0, off, n); err != nil && err != unix.EOPNOTSUPP && err != unix.ENOSYS {
		return &os.PathError{Op: "fallocate", Path: g.Name(), Err: err}
	}
	for done := int64(0); done < n; {
		chunk := zeros[:min(int64(len(zeros)), n-done)]
		w, err := g.WriteAt(chunk, off+done)
		if err != nil {
			return err
		}
		done += int64(w)
	}
	if f.noSync {
		return nil
	}
	if err := unix.Fdatasync(fd); err != nil {
		return &os.PathError{Op: "fdatasync", Path: g.Name(), Err: err}
	}
	return nil
}

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
	// No O_APPEND: segments are written in place (WriteAt), which
	// O_APPEND would turn into appends.
	f, err := os.OpenFile(path, flag|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &osFile{f: f, fd: int(f.Fd()), noSync: fs.noSync}, nil
}

func (fs osFS) create(path string) (writeFile, error) {
	return fs.open(path, os.O_CREATE|os.O_EXCL)
}

func (fs osFS) openWrite(path string) (writeFile, error) { return fs.open(path, 0) }
func (osFS) rename(from, to string) error                { return os.Rename(from, to) }
func (osFS) remove(path string) error                    { return os.Remove(path) }

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
		} else if _, ok := parseName(name, snapPrefix, tmpSuffix); ok || name == manifestTmp {
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

// zeroFrom returns the offset in b after which every byte is zero (len(b)
// when the last byte is not): the end of what was ever written into a
// preallocated segment.
func zeroFrom(b []byte) int {
	i := len(b)
	for i >= 8 && binary.LittleEndian.Uint64(b[i-8:]) == 0 {
		i -= 8
	}
	for i > 0 && b[i-1] == 0 {
		i--
	}
	return i
}
