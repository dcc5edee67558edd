package seedfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// The fuzz targets' seeds are images built here, byte by byte, as small as their formats allow:
// a whole genisoimage or mkfs.fat image is hundreds of KB, which the fuzzer mutates and minimizes
// too slowly to be of use. TestMinimalImages checks them against the real tools.

// seedFiles is the content of every hand-built image: the NoCloud and config-drive files, a name
// longer than a Rock Ridge system use area or a FAT 8.3 name holds, a lower-case 8.3 name, a
// file of two 512-byte ISO extents or FAT clusters and, with deep, a directory deeper than
// ISO 9660 allows without Rock Ridge relocation.
func seedFiles(deep bool) map[string]string {
	files := map[string]string{
		"user-data":                       "#cloud-config\nforce_ipv6: true\n",
		"meta-data":                       "instance-id: iid-seed\n",
		"openstack/latest/user_data":      "#cloud-config\nforce_ipv6: false\n",
		"openstack/latest/meta_data.json": `{"uuid":"seed"}`,
		seedLongName:                      "long\n",
		"lower.txt":                       "lower\n",
		"multi":                           strings.Repeat("0123456789abcdef", 40), // 640 bytes
	}
	if deep {
		files["a/b/c/d/e/f/g/h/deep"] = "deep\n"
	}
	return files
}

var seedLongName = strings.Repeat("a-long-name-", 16) + "yaml" // 196 bytes

// isoOptions says which names a hand-built ISO carries, its logical block size and whether it
// holds the deep directory.
type isoOptions struct {
	rockRidge, joliet, deep bool
	block                   int
}

// isoSeeds are the ISO images the fuzzer starts from: 2048-byte blocks as every tool writes them,
// and 512-byte ones (which ECMA-119 allows and this package reads) for a smaller image. Without
// its 32 KB system area, each is 24 to 35 KB: three 2 KB volume descriptors and a block for
// every directory and file.
var isoSeeds = []isoOptions{
	{rockRidge: true, joliet: true, block: 2048},
	{joliet: true, block: 2048},
	{rockRidge: true, joliet: true, deep: true, block: 512},
}

// isoDir is a directory of a hand-built ISO while it is laid out.
type isoDir struct {
	name    string
	dirs    []*isoDir
	files   []string // names, sorted
	paths   map[string]string
	extent  [2]int // block of the directory, per hierarchy (primary, Joliet)
	size    [2]int
	parent  *isoDir
	relocTo *isoDir // a Rock Ridge CL placeholder: the directory it stands for
}

// buildISO returns an ISO 9660 image of seedFiles(o.deep): a primary volume descriptor (with
// Rock Ridge, an SP and ER entry, NM names and a continuation area for the long name), a Joliet
// one, the terminator, and the directories and files after them. With Rock Ridge and deep, the
// directory a/b/c/d/e/f/g/h (eight levels) is relocated to /rr_moved, as mkisofs does, with CL,
// PL and RE entries.
func buildISO(o isoOptions) []byte {
	b := &isoBuilder{o: o, img: make([]byte, 19*isoSector), files: map[string][2]int{}, tree: seedFiles(o.deep)}
	b.next = len(b.img) / o.block
	root := isoTree(b.tree, o.rockRidge && o.deep)
	b.layOut(root, 0)
	if o.joliet {
		b.layOut(root, 1)
	}
	for _, name := range slices.Sorted(maps.Keys(b.tree)) {
		b.files[name] = b.alloc([]byte(b.tree[name]))
	}
	b.writeDir(root, 0)
	if o.joliet {
		b.writeDir(root, 1)
	}
	b.pad()
	vds := [][]byte{b.descriptor(1, root, 0)}
	if o.joliet {
		vds = append(vds, b.descriptor(2, root, 1))
	}
	for i, vd := range append(vds, b.descriptor(255, nil, 0)) {
		copy(b.img[(isoFirstVD+i)*isoSector:], vd)
	}
	return b.img
}

// pad grows the image to whole 2048-byte sectors, as readers of optical media expect.
func (b *isoBuilder) pad() {
	b.img = append(b.img, make([]byte, (isoSector-len(b.img)%isoSector)%isoSector)...)
}

type isoBuilder struct {
	o     isoOptions
	img   []byte
	next  int               // next free block
	files map[string][2]int // file path -> block, size
	tree  map[string]string
	ce    int // block of the continuation area, once allocated
}

// isoTree arranges tree into directories; with relocate, the eighth level moves to rr_moved.
func isoTree(tree map[string]string, relocate bool) *isoDir {
	root := &isoDir{paths: map[string]string{}}
	find := func(d *isoDir, name string) *isoDir {
		for _, c := range d.dirs {
			if c.name == name {
				return c
			}
		}
		c := &isoDir{name: name, parent: d, paths: map[string]string{}}
		d.dirs = append(d.dirs, c)
		return c
	}
	for _, p := range slices.Sorted(maps.Keys(tree)) {
		parts := strings.Split(p, "/")
		d := root
		for _, part := range parts[:len(parts)-1] {
			d = find(d, part)
		}
		d.files = append(d.files, parts[len(parts)-1])
		d.paths[parts[len(parts)-1]] = p
	}
	if relocate {
		g := find(find(find(find(find(find(find(root, "a"), "b"), "c"), "d"), "e"), "f"), "g")
		h := g.dirs[0]
		moved := find(root, "rr_moved")
		g.dirs[0] = &isoDir{name: "h", parent: g, relocTo: h, paths: map[string]string{}}
		h.parent = moved
		moved.dirs = append(moved.dirs, h)
	}
	return root
}

// alloc puts data at the next free blocks and returns its block and size.
func (b *isoBuilder) alloc(data []byte) [2]int {
	at := b.next
	n := max(1, (len(data)+b.o.block-1)/b.o.block)
	b.next += n
	b.img = append(b.img, make([]byte, n*b.o.block)...)
	copy(b.img[at*b.o.block:], data)
	return [2]int{at, len(data)}
}

// layOut gives every directory of hierarchy h its blocks, with room for its records.
func (b *isoBuilder) layOut(d *isoDir, h int) {
	d.size[h] = len(b.dirRecords(d, h))
	at := b.alloc(make([]byte, d.size[h]))
	d.extent[h] = at[0]
	d.size[h] = (d.size[h] + b.o.block - 1) / b.o.block * b.o.block
	for _, c := range d.dirs {
		if c.relocTo == nil {
			b.layOut(c, h)
		}
	}
}

func (b *isoBuilder) writeDir(d *isoDir, h int) {
	copy(b.img[d.extent[h]*b.o.block:], b.dirRecords(d, h))
	for _, c := range d.dirs {
		if c.relocTo == nil {
			b.writeDir(c, h)
		}
	}
}

// dirRecords returns the records of d in hierarchy h, packed so that none crosses a sector.
func (b *isoBuilder) dirRecords(d *isoDir, h int) []byte {
	rr := b.o.rockRidge && h == 0
	parent := d.parent
	if parent == nil {
		parent = d
	}
	var su0, su1 []byte
	if rr {
		if d.parent == nil {
			su0 = append(suspEntry("SP", 1, []byte{0xBE, 0xEF, 0}), suspER()...)
		}
		if d.name == "h" && d.parent != nil && d.parent.name == "rr_moved" {
			su1 = suspEntry("PL", 1, both32(uint32(d.relocParent().extent[0])))
		}
	}
	recs := [][]byte{
		encodeISORecord(d.extent[h], d.size[h], isoFlagDir, []byte{0}, su0),
		encodeISORecord(parent.extent[h], parent.size[h], isoFlagDir, []byte{1}, su1),
	}
	entries := append(b.dirEntries(d, h, rr), b.fileEntries(d, h, rr)...)
	// Records are sorted by their identifier, as ECMA-119 asks.
	slices.SortStableFunc(entries, func(x, y isoEntry) int { return bytes.Compare(x.id, y.id) })
	for _, e := range entries {
		recs = append(recs, e.rec...)
	}
	return packRecords(recs)
}

// packRecords puts records one after another, none crossing a sector.
func packRecords(recs [][]byte) []byte {
	var out []byte
	for _, r := range recs {
		if len(out)%isoSector+len(r) > isoSector {
			out = append(out, make([]byte, isoSector-len(out)%isoSector)...)
		}
		out = append(out, r...)
	}
	return out
}

// isoEntry is the records of one name in a directory: one, or two for a multi-extent file.
type isoEntry struct {
	id  []byte
	rec [][]byte
}

// dirEntries returns the records of d's subdirectories in hierarchy h.
func (b *isoBuilder) dirEntries(d *isoDir, h int, rr bool) []isoEntry {
	var entries []isoEntry
	for _, c := range d.dirs {
		if c.relocTo != nil && !rr {
			c = c.relocTo // without Rock Ridge, the directory stays in place
		}
		if c.name == "rr_moved" && !rr {
			continue
		}
		var su []byte
		ext, size, flags := c.extent[h], c.size[h], byte(isoFlagDir)
		if rr {
			su = suspNM(c.name)
			switch {
			case c.relocTo != nil:
				su = append(su, suspEntry("CL", 1, both32(uint32(c.relocTo.extent[0])))...)
				ext, size, flags = c.relocTo.extent[0], 0, 0
			case d.name == "rr_moved":
				su = append(su, suspEntry("RE", 1, nil)...)
			}
		}
		id := b.isoName(c.name, h, true)
		entries = append(entries, isoEntry{id, [][]byte{encodeISORecord(ext, size, flags, id, su)}})
	}
	return entries
}

// fileEntries returns the records of d's files in hierarchy h.
func (b *isoBuilder) fileEntries(d *isoDir, h int, rr bool) []isoEntry {
	var entries []isoEntry
	for _, name := range d.files {
		f := b.files[d.paths[name]]
		var su []byte
		if rr {
			su = b.longNM(name)
		}
		id := b.isoName(name, h, false)
		// Sizes come from the tree: on the sizing pass, files have no blocks yet.
		if size := len(b.tree[d.paths[name]]); name == "multi" && size > b.o.block {
			// two extents: the first carries the multi-extent flag
			entries = append(entries, isoEntry{id, [][]byte{
				encodeISORecord(f[0], b.o.block, isoFlagMulti, id, su),
				encodeISORecord(f[0]+1, size-b.o.block, 0, id, su),
			}})
			continue
		}
		entries = append(entries, isoEntry{id, [][]byte{encodeISORecord(f[0], f[1], 0, id, su)}})
	}
	return entries
}

// relocParent returns the directory a relocated directory really lives in.
func (d *isoDir) relocParent() *isoDir {
	var walk func(*isoDir) *isoDir
	walk = func(x *isoDir) *isoDir {
		for _, c := range x.dirs {
			if c.relocTo == d {
				return x
			}
			if r := walk(c); r != nil {
				return r
			}
		}
		return nil
	}
	for r := d; ; r = r.parent {
		if r.parent == nil {
			return walk(r)
		}
	}
}

// isoName returns the identifier of name in hierarchy h: Joliet UCS-2 (at most 64 characters),
// else a d-character 8.3 name; files carry the ";1" version.
func (b *isoBuilder) isoName(name string, h int, dir bool) []byte {
	if h == 1 {
		if len(name) > 64 {
			name = name[:64]
		}
		if !dir {
			name += ";1"
		}
		var out []byte
		for _, u := range utf16.Encode([]rune(name)) {
			out = binary.BigEndian.AppendUint16(out, u)
		}
		return out
	}
	base, ext, _ := strings.Cut(strings.ToUpper(name), ".")
	clean := func(s string, n int) string {
		s = strings.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '_'
		}, s)
		return s[:min(len(s), n)]
	}
	if dir {
		return []byte(clean(base, 8))
	}
	return []byte(clean(base, 8) + "." + clean(ext, 3) + ";1")
}

// longNM returns the Rock Ridge NM entries of name; a name too long for the system use area
// is split, its second part in a continuation area named by a CE entry.
func (b *isoBuilder) longNM(name string) []byte {
	if len(name) <= 100 {
		return suspNM(name)
	}
	rest := append(suspEntry("NM", 1, append([]byte{0}, name[100:]...)), suspEntry("ST", 1, nil)...)
	if b.ce == 0 { // dirRecords runs twice: to size the directory, then to write it
		b.ce = b.alloc(rest)[0]
	}
	su := suspEntry("NM", 1, append([]byte{1}, name[:100]...)) // CONTINUE
	ce := append(append(both32(uint32(b.ce)), both32(0)...), both32(uint32(len(rest)))...)
	return append(su, suspEntry("CE", 1, ce)...)
}

// encodeISORecord encodes a directory record.
func encodeISORecord(block, size int, flags byte, id, su []byte) []byte {
	n := 33 + len(id)
	if len(id)%2 == 0 {
		n++
	}
	r := make([]byte, n, n+len(su))
	r = append(r, su...)
	r[0] = byte(len(r))
	copy(r[2:], both32(uint32(block)))
	copy(r[10:], both32(uint32(size)))
	copy(r[18:], []byte{126, 11, 30, 8, 0, 0, 0}) // 2026-11-30 08:00 UTC
	r[25] = flags
	copy(r[28:], both16(1)) // volume sequence number
	r[32] = byte(len(id))
	copy(r[33:], id)
	return r
}

// descriptor returns a volume descriptor of type typ (1 primary, 2 Joliet, 255 terminator).
func (b *isoBuilder) descriptor(typ byte, root *isoDir, h int) []byte {
	v := make([]byte, isoSector)
	v[0], v[6] = typ, 1
	copy(v[1:], "CD001")
	if typ == 255 {
		return v
	}
	label := []byte("cidata")
	if typ == 2 {
		label = nil
		for _, u := range utf16.Encode([]rune("cidata")) {
			label = binary.BigEndian.AppendUint16(label, u)
		}
		copy(v[88:], "%/E")
	}
	copy(v[8:40], bytes.Repeat([]byte{' '}, 32))
	copy(v[40:72], append(label, bytes.Repeat([]byte{' '}, 32-len(label))...))
	copy(v[80:], both32(uint32(len(b.img)/b.o.block)))
	copy(v[120:], both16(1))
	copy(v[124:], both16(1))
	copy(v[128:], both16(uint16(b.o.block)))
	copy(v[156:190], encodeISORecord(root.extent[h], root.size[h], isoFlagDir, []byte{0}, nil))
	v[881] = 1 // file structure version
	return v
}

func suspEntry(sig string, version byte, data []byte) []byte {
	return append([]byte{sig[0], sig[1], byte(4 + len(data)), version}, data...)
}

func suspNM(name string) []byte { return suspEntry("NM", 1, append([]byte{0}, name...)) }

// suspER is the extension reference entry that names Rock Ridge (RRIP 1.10).
func suspER() []byte {
	id := "RRIP_1991A"
	return suspEntry("ER", 1, append([]byte{byte(len(id)), 0, 0, 1}, id...))
}

func both16(v uint16) []byte {
	b := binary.LittleEndian.AppendUint16(nil, v)
	return binary.BigEndian.AppendUint16(b, v)
}

func both32(v uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, v)
	return binary.BigEndian.AppendUint32(b, v)
}

// buildFAT returns a FAT12 (bits 12) or FAT32 (bits 32) image of seedFiles with 512-byte sectors
// and clusters, two FATs, the volume label CIDATA in the boot sector and the root directory, and
// long file names (with their 8.3 aliases) wherever a name is not a plain 8.3 one; 8.3 names in
// lower case carry the case flags that Windows NT and mtools set. FAT32 is told by its
// zero 16-bit FAT size, as Linux tells it, not by its cluster count, so a small image can be one.
func buildFAT(bits int) []byte {
	b := &fatBuilder{bits: bits, fat: []uint32{0x0FFFFFF8, 0x0FFFFFFF}, tree: seedFiles(false)}
	var rootCluster uint32
	rootEntries := 0
	if bits == 32 {
		rootCluster = b.dir("", 0, true)
	} else {
		rootEntries = 32
		b.root = b.dirEntries("", 0, 0, true, true)
	}
	fatBytes := (len(b.fat)*bits + 7) / 8
	fatSectors := (fatBytes + fatSeedSector - 1) / fatSeedSector
	rootSectors := rootEntries * fatEntrySize / fatSeedSector
	total := fatSeedReserved + fatSeedFATs*fatSectors + rootSectors + len(b.clusters)
	img := make([]byte, total*fatSeedSector)
	fatBootSector(img[:fatSeedSector], bits, rootEntries, total, fatSectors, rootCluster)
	for i := range fatSeedFATs {
		b.writeFAT(img[(fatSeedReserved+i*fatSectors)*fatSeedSector:])
	}
	at := (fatSeedReserved + fatSeedFATs*fatSectors) * fatSeedSector
	copy(img[at:], b.root)
	at += rootSectors * fatSeedSector
	for _, c := range b.clusters {
		at += copy(img[at:], c)
	}
	return img
}

// The geometry of buildFAT's images: 512-byte sectors, one fatSeedReserved sector, two FATs.
const fatSeedSector, fatSeedReserved, fatSeedFATs = 512, 1, 2

// fatBootSector writes the boot sector of a buildFAT image into boot.
func fatBootSector(boot []byte, bits, rootEntries, total, fatSectors int, rootCluster uint32) {
	copy(boot, []byte{0xEB, 0x3C, 0x90})
	copy(boot[3:], "mkfs.fat")
	binary.LittleEndian.PutUint16(boot[11:], fatSeedSector)
	boot[13] = 1 // sectors per cluster
	binary.LittleEndian.PutUint16(boot[14:], fatSeedReserved)
	boot[16] = fatSeedFATs
	binary.LittleEndian.PutUint16(boot[17:], uint16(rootEntries))
	binary.LittleEndian.PutUint16(boot[19:], uint16(total))
	boot[21] = 0xF8
	binary.LittleEndian.PutUint16(boot[24:], 32) // sectors per track
	binary.LittleEndian.PutUint16(boot[26:], 64) // heads
	ext := 36
	if bits == 32 {
		boot[1] = 0x58
		binary.LittleEndian.PutUint32(boot[36:], uint32(fatSectors))
		binary.LittleEndian.PutUint32(boot[44:], rootCluster)
		ext = 64
	} else {
		binary.LittleEndian.PutUint16(boot[22:], uint16(fatSectors))
	}
	boot[ext] = 0x80 // drive number
	boot[ext+2] = 0x29
	binary.LittleEndian.PutUint32(boot[ext+3:], 0x5EED5EED)
	copy(boot[ext+7:], "CIDATA     ")
	copy(boot[ext+18:], fmt.Sprintf("FAT%d   ", bits))
	boot[510], boot[511] = 0x55, 0xAA
}

type fatBuilder struct {
	bits     int
	fat      []uint32 // entry per cluster, from cluster 0
	clusters [][]byte // cluster 2 onwards
	root     []byte   // the FAT12 fixed root directory
	tree     map[string]string
}

// alloc reserves n clusters in a chain and returns the first.
func (b *fatBuilder) alloc(n int) uint32 {
	first := uint32(len(b.fat))
	for i := range n {
		next := uint32(0x0FFFFFFF)
		if i < n-1 {
			next = first + uint32(i) + 1
		}
		b.fat = append(b.fat, next)
		b.clusters = append(b.clusters, make([]byte, 512))
	}
	return first
}

// put writes data into the chain that starts at c.
func (b *fatBuilder) put(c uint32, data []byte) {
	for i := 0; i < len(data); i += 512 {
		copy(b.clusters[c-2+uint32(i/512)], data[i:])
	}
}

// dir makes the directory path (with its parent at cluster parent) in clusters.
func (b *fatBuilder) dir(path string, parent uint32, root bool) uint32 {
	n := len(b.dirEntries(path, 0, 0, root, false)) // sizing pass: clusters are not yet known
	c := b.alloc((n + 511) / 512)
	b.put(c, b.dirEntries(path, c, parent, root, true))
	return c
}

// dirEntries returns the raw directory path, whose cluster is self; with write, every
// subdirectory is made and every file written on the way.
func (b *fatBuilder) dirEntries(path string, self, parent uint32, root, write bool) []byte {
	var out []byte
	if root {
		out = append(out, fatShort("CIDATA     ", fatAttrVolume, 0, 0, 0)...)
	} else {
		out = append(out, fatShort(".          ", fatAttrDir, 0, self, 0)...)
		out = append(out, fatShort("..         ", fatAttrDir, 0, parent, 0)...)
	}
	dirs, files := treeChildren(b.tree, path)
	up := self // ".." of a directory in the root says cluster 0
	if root {
		up = 0
	}
	for i, name := range append(dirs, files...) {
		isDir := i < len(dirs)
		var c uint32
		size := 0
		if write {
			full := strings.TrimPrefix(path+"/"+name, "/")
			if isDir {
				c = b.dir(full, up, false)
			} else if body := b.tree[full]; len(body) > 0 {
				size = len(body)
				c = b.alloc((size + 511) / 512)
				b.put(c, []byte(body))
			}
		}
		attr := byte(0x20)
		if isDir {
			attr = fatAttrDir
		}
		out = append(out, fatNamed(name, i, attr, c, size)...)
	}
	return out
}

// treeChildren returns the subdirectories and files of the directory path of tree, sorted.
func treeChildren(tree map[string]string, path string) (dirs, files []string) {
	prefix := path + "/"
	if path == "" {
		prefix = ""
	}
	for _, p := range slices.Sorted(maps.Keys(tree)) {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok {
			continue
		}
		if d, _, isDir := strings.Cut(rest, "/"); isDir {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		} else {
			files = append(files, rest)
		}
	}
	return dirs, files
}

// fatNamed returns the entries for name: one 8.3 entry when the name is one (in upper or lower
// case), else long-name entries and an 8.3 alias made unique in its directory by seq.
func fatNamed(name string, seq int, attr byte, c uint32, size int) []byte {
	base, ext, _ := strings.Cut(name, ".")
	plain := len(base) >= 1 && len(base) <= 8 && len(ext) <= 3 && strings.Count(name, ".") <= 1 &&
		strings.Trim(strings.ToUpper(name), "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") == ""
	if plain && (name == strings.ToUpper(name) || name == strings.ToLower(name)) {
		var flags byte
		if name != strings.ToUpper(name) {
			flags = 0x18 // base and extension in lower case
		}
		return fatShort(fmt.Sprintf("%-8s%-3s", strings.ToUpper(base), strings.ToUpper(ext)), attr, flags, c, size)
	}
	alias := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= '0' && r <= '9':
			return r
		}
		return -1
	}, base)
	short := fmt.Sprintf("%-8s%-3s", fmt.Sprintf("%.5s~%d", alias, seq+1), strings.ToUpper(ext[:min(3, len(ext))]))
	u := utf16.Encode([]rune(name))
	n := (len(u) + 12) / 13
	u = append(u, 0)
	for len(u) < n*13 {
		u = append(u, 0xFFFF)
	}
	sum := lfnChecksum([]byte(short))
	var out []byte
	for i := n; i >= 1; i-- {
		e := make([]byte, fatEntrySize)
		e[0] = byte(i)
		if i == n {
			e[0] |= 0x40
		}
		e[11], e[13] = fatAttrLFN, sum
		for j, off := range [13]int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
			binary.LittleEndian.PutUint16(e[off:], u[(i-1)*13+j])
		}
		out = append(out, e...)
	}
	return append(out, fatShort(short, attr, 0, c, size)...)
}

// fatShort returns one 8.3 directory entry, dated 2026-11-30 08:00.
func fatShort(name string, attr, flags byte, c uint32, size int) []byte {
	e := make([]byte, fatEntrySize)
	copy(e, name)
	e[11], e[12] = attr, flags
	binary.LittleEndian.PutUint16(e[20:], uint16(c>>16))
	binary.LittleEndian.PutUint16(e[22:], 8<<11)
	binary.LittleEndian.PutUint16(e[24:], (2026-1980)<<9|11<<5|30)
	binary.LittleEndian.PutUint16(e[26:], uint16(c))
	binary.LittleEndian.PutUint32(e[28:], uint32(size))
	return e
}

// writeFAT encodes the FAT into b.
func (b *fatBuilder) writeFAT(out []byte) {
	for c, v := range b.fat {
		switch b.bits {
		case 12:
			v &= 0xFFF
			p := c + c/2
			if c%2 == 0 {
				out[p] = byte(v)
				out[p+1] = out[p+1]&0xF0 | byte(v>>8)
			} else {
				out[p] = out[p]&0x0F | byte(v<<4)
				out[p+1] = byte(v >> 4)
			}
		default:
			binary.LittleEndian.PutUint32(out[4*c:], v)
		}
	}
}

// TestMinimalImages reads every fuzz seed with this package and with the real tools: xorriso
// extracts the ISO images of 2048-byte blocks (it reads no other size), fsck.fat checks both FAT
// images and mtools extracts the FAT12 one (it refuses a FAT32 this small, which Linux mounts).
func TestMinimalImages(t *testing.T) {
	// The seeds, and relocation as xorriso reads it.
	for i, o := range append(isoSeeds, isoOptions{rockRidge: true, deep: true, block: 2048}) {
		name := fmt.Sprintf("iso-%d", o.block)
		for opt, on := range map[string]bool{"-rock": o.rockRidge, "-joliet": o.joliet, "-deep": o.deep} {
			if on {
				name += opt
			}
		}
		t.Run(name, func(t *testing.T) {
			img := buildISO(o)
			want := seedFiles(o.deep)
			if !o.rockRidge { // Joliet names are cut to 64 characters
				want[seedLongName[:64]] = want[seedLongName]
				delete(want, seedLongName)
			}
			seed := len(img) - isoSystemArea
			if i >= len(isoSeeds) {
				seed = 0 // not a seed
			}
			checkMinimal(t, img, seed, "iso9660", want)
			if o.block != isoSector {
				return
			}
			need(t, "xorriso")
			out := filepath.Join(t.TempDir(), "x")
			run(t, ".", "xorriso", "-osirrox", "on", "-indev", writeImage(t, img), "-extract", "/", out)
			checkDirFiles(t, out, want)
		})
	}
	for _, bits := range []int{12, 32} {
		t.Run(fmt.Sprintf("fat%d", bits), func(t *testing.T) {
			img := buildFAT(bits)
			checkMinimal(t, img, len(img), "vfat", seedFiles(false))
			need(t, "fsck.fat", "mcopy")
			path := writeImage(t, img)
			run(t, ".", "fsck.fat", "-n", path)
			if bits == 12 {
				out := t.TempDir()
				run(t, ".", "mcopy", "-s", "-i", path, "::*", out)
				checkDirFiles(t, out, seedFiles(false))
			}
		})
	}
}

// checkMinimal opens a hand-built image, checks its type, label and files, and that what the
// fuzzer gets of it (seed bytes) is small.
func checkMinimal(t *testing.T, img []byte, seed int, typ string, want map[string]string) {
	t.Helper()
	t.Logf("image %d bytes", len(img))
	if seed > 0 {
		t.Logf("seed %d bytes", seed)
	}
	if seed > 36<<10 {
		t.Errorf("seed of %d bytes: the fuzzer minimizes and mutates big inputs slowly", seed)
	}
	fsys, err := openBytes(img)
	if err != nil {
		t.Fatal(err)
	}
	if fsys.Type() != typ || !strings.EqualFold(fsys.Label(), "cidata") {
		t.Errorf("type %q label %q, want %s cidata", fsys.Type(), fsys.Label(), typ)
	}
	checkFiles(t, fsys, want)
}

func writeImage(t *testing.T, img []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seed.img")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkDirFiles asserts the directory dir holds exactly the files of want (slash paths).
func checkDirFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("the real tool reads %q\nwant %q", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
}
