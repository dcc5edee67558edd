// Package seedfs reads cloud-init seed filesystems (an OpenStack config drive labelled config-2, a
// NoCloud seed labelled cidata) straight from the disk or image, without mounting it.
//
// It understands ISO 9660 (with Rock Ridge and Joliet names) and FAT12/16/32 (with long file
// names). The whole directory tree is read and checked when the filesystem is opened, so a hostile
// image is refused up front: directory depth, entry count, directory size and file size are
// bounded, directory loops are detected, and every offset is checked against the image size.
package seedfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Limits on what Open accepts and ReadFile returns; seed filesystems are tiny, so anything
// beyond these is a damaged or hostile image.
const (
	// MaxFileSize is the largest file ReadFile returns.
	MaxFileSize = 16 << 20
	maxDepth    = 32       // directory nesting below the root
	maxEntries  = 1 << 16  // files and directories in the whole tree
	maxDirBytes = 4 << 20  // raw size of one directory
	maxNameLen  = 1024     // bytes in one name
	maxMetaRead = 64 << 20 // metadata bytes read while opening, all directories together
)

// The labels of cloud-init's seed filesystems (FindByLabel matches them in any case).
const (
	ConfigDriveLabel = "config-2" // OpenStack's config drive
	NoCloudLabel     = "cidata"   // a NoCloud seed
)

// Filesystem types returned by FS.Type.
const (
	TypeISO9660 = "iso9660"
	TypeVFAT    = "vfat"
)

var (
	// ErrUnknownFormat is returned by Open when the image is neither ISO 9660 nor FAT.
	ErrUnknownFormat = errors.New("seedfs: not an ISO 9660 or FAT filesystem")
	// ErrTooLarge is wrapped by the error ReadFile returns for a file over MaxFileSize.
	ErrTooLarge = errors.New("file too large")
)

// FS is a read-only view of a seed filesystem. It implements fs.FS, fs.ReadFileFS, fs.ReadDirFS
// and fs.StatFS. Paths follow io/fs rules (slash-separated, no leading slash) and are
// case-sensitive, spelled as on disk: on ISO 9660 the Rock Ridge name, else the Joliet name,
// else the plain name without its ";1" version and trailing dot; on FAT the long name, else the
// 8.3 name. An FS is safe for concurrent use.
type FS struct {
	typ    string
	label  string
	root   *node
	data   func(n *node) io.Reader // reader for a regular file's bytes
	closer io.Closer
}

// node is one file or directory of the tree built by Open. It serves as its own fs.FileInfo
// and fs.DirEntry.
type node struct {
	name     string
	dir      bool
	size     int64
	mtime    time.Time
	children []*node // sorted by name
	extents  []extent
	cluster  uint32
}

// extent is a byte range of the image.
type extent struct{ off, len int64 }

// Open reads the seed filesystem in r, an image of size bytes, telling ISO 9660 from FAT by
// its signature. The tree is read and checked before Open returns.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	if size < 0 {
		return nil, errors.New("seedfs: negative image size")
	}
	if isISO(r, size) {
		return openISO(r, size)
	}
	if v, err := newFATVolume(r, size); err == nil {
		return openFAT(v)
	} else if !errors.Is(err, ErrUnknownFormat) {
		return nil, err
	}
	return nil, ErrUnknownFormat
}

// OpenPath opens the image file or block device at path read-only and reads it as Open does.
// Closing the FS closes the file.
func OpenPath(path string) (*FS, error) {
	f, size, err := openDevice(path)
	if err != nil {
		return nil, err
	}
	fsys, err := Open(f, size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fsys.closer = f
	return fsys, nil
}

// openDevice opens path read-only and finds its size by seeking, which works for block devices
// as well as regular files. O_NONBLOCK keeps an empty optical drive from waiting for its tray.
func openDevice(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("seedfs: size of %s: %w", path, err)
	}
	return f, size, nil
}

// Label returns the volume label as recorded on disk, without padding.
func (f *FS) Label() string { return f.label }

// Type returns "iso9660" or "vfat".
func (f *FS) Type() string { return f.typ }

// Close closes the file opened by OpenPath; for an FS made by Open it does nothing.
func (f *FS) Close() error {
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	return c.Close()
}

// lookup finds the node named by an io/fs path.
func (f *FS) lookup(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n := f.root
	if name == "." {
		return n, nil
	}
	for elem := range strings.SplitSeq(name, "/") {
		c := n.child(elem)
		if c == nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		n = c
	}
	return n, nil
}

// Open implements fs.FS.
func (f *FS) Open(name string) (fs.File, error) {
	n, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return &dirFile{n: n}, nil
	}
	return &file{n: n, r: f.data(n)}, nil
}

// ReadFile implements fs.ReadFileFS. It refuses files larger than MaxFileSize.
func (f *FS) ReadFile(name string) ([]byte, error) {
	n, err := f.lookup("readfile", name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
	}
	if n.size > MaxFileSize {
		return nil, &fs.PathError{Op: "readfile", Path: name,
			Err: fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrTooLarge, n.size, MaxFileSize)}
	}
	b := make([]byte, n.size)
	if _, err := io.ReadFull(f.data(n), b); err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return b, nil
}

// ReadDir implements fs.ReadDirFS.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return n.entries(), nil
}

// Stat implements fs.StatFS.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	return f.lookup("stat", name)
}

func (n *node) child(name string) *node {
	i, ok := slices.BinarySearchFunc(n.children, name, func(c *node, s string) int {
		return strings.Compare(c.name, s)
	})
	if !ok {
		return nil
	}
	return n.children[i]
}

func (n *node) entries() []fs.DirEntry {
	out := make([]fs.DirEntry, len(n.children))
	for i, c := range n.children {
		out[i] = c
	}
	return out
}

// addChild adds c to the directory n unless n already has an entry of that name (the first one
// on disk wins) or the name cannot be an io/fs path element. It counts entries against the
// tree-wide limit.
func (n *node) addChild(c *node, count *int) error {
	if c.name == "" || c.name == "." || c.name == ".." || strings.ContainsAny(c.name, "/\x00") {
		return nil
	}
	i, found := slices.BinarySearchFunc(n.children, c.name, func(x *node, s string) int {
		return strings.Compare(x.name, s)
	})
	if found {
		return nil
	}
	if *count++; *count > maxEntries {
		return fmt.Errorf("seedfs: more than %d entries", maxEntries)
	}
	n.children = slices.Insert(n.children, i, c)
	return nil
}

// Name, Size, Mode, ModTime, IsDir and Sys implement fs.FileInfo; Type and Info fs.DirEntry.
func (n *node) Name() string               { return n.name }
func (n *node) Size() int64                { return n.size }
func (n *node) ModTime() time.Time         { return n.mtime }
func (n *node) IsDir() bool                { return n.dir }
func (n *node) Sys() any                   { return nil }
func (n *node) Type() fs.FileMode          { return n.Mode().Type() }
func (n *node) Info() (fs.FileInfo, error) { return n, nil }
func (n *node) String() string             { return fs.FormatDirEntry(n) }
func (n *node) Mode() fs.FileMode {
	if n.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

// file is an open regular file.
type file struct {
	n *node
	r io.Reader
}

func (f *file) Stat() (fs.FileInfo, error) { return f.n, nil }
func (f *file) Close() error               { f.r = nil; return nil }
func (f *file) Read(p []byte) (int, error) {
	if f.r == nil {
		return 0, &fs.PathError{Op: "read", Path: f.n.name, Err: fs.ErrClosed}
	}
	return f.r.Read(p)
}

// dirFile is an open directory; it implements fs.ReadDirFile.
type dirFile struct {
	n   *node
	pos int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.n, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.n.name, Err: errors.New("is a directory")}
}

func (d *dirFile) ReadDir(count int) ([]fs.DirEntry, error) {
	rest := d.n.children[d.pos:]
	if count > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if count > 0 && count < len(rest) {
		rest = rest[:count]
	}
	d.pos += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, c := range rest {
		out[i] = c
	}
	return out, nil
}

// budget counts the metadata bytes Open reads, so overlapping hostile directories cannot make
// it read the same image over and over.
type budget int64

func (b *budget) spend(n int64) error {
	if *b += budget(n); *b > maxMetaRead {
		return fmt.Errorf("seedfs: more than %d bytes of metadata", maxMetaRead)
	}
	return nil
}

// readAt reads exactly len(b) bytes at off, refusing ranges outside the image.
func readAt(r io.ReaderAt, size int64, b []byte, off int64) error {
	if off < 0 || off > size || int64(len(b)) > size-off {
		return fmt.Errorf("seedfs: range %d+%d outside the %d-byte image", off, len(b), size)
	}
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("seedfs: read %d+%d: %w", off, len(b), err)
}
