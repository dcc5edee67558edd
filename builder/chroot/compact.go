package chroot

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// What keeps the output small: free blocks discarded before the image is released (so the
// working copy stays sparse and qemu-img copies no stale data), and qcow2 compression. What
// keeps it fast: when the source is a compressed qcow2 of the output's compression type, the
// output starts as a copy of it and only the clusters the build changed are written
// (Driver.ConvertOverBase), instead of compressing the whole image again on one core.

// compressions are the values of compression, in the order the docs give them.
var compressions = []string{"zlib", "zstd", "none"}

// defaultCompression is zlib: every QEMU reads zlib-compressed qcow2 clusters, while a qcow2
// with compression_type=zstd sets an incompatible feature bit that QEMU before 5.1 refuses to
// open (Ubuntu 20.04 and RHEL 8 compute nodes run QEMU 4.2).
const defaultCompression = "zlib"

// prepareCompression sets compression's default for the format and checks it.
func (c *Config) prepareCompression() error {
	switch {
	case c.Compression == "" && c.Format == "qcow2":
		c.Compression = defaultCompression
	case c.Compression == "":
		c.Compression = "none"
	case !slices.Contains(compressions, c.Compression):
		return fmt.Errorf("compression: %q is not supported: use \"zlib\" (the default, read by every QEMU), \"zstd\" (smaller and faster, needs QEMU 5.1 or later wherever the image is used) or \"none\"", c.Compression)
	case c.Compression != "none" && c.Format != "qcow2":
		return fmt.Errorf("compression: only qcow2 output can be compressed: set compression = \"none\" or format = \"qcow2\"")
	}
	return nil
}

// overBaseWhyNot says why the output cannot start as a copy of the source image (info and
// chk are the source's), or "" when it can: a standalone, unencrypted qcow2 whose clusters are
// mostly (at least half) compressed with the output's compression type, so that the output
// is as compressed as a whole conversion would make it, but for the clusters the build wrote.
func (c *Config) overBaseWhyNot(info ImageInfo, chk ImageCheck) string {
	switch {
	case c.Format != "qcow2" || c.Compression == "none":
		return "the output is not compressed"
	case info.Format != "qcow2":
		return "the source image is " + info.Format
	case info.BackingFile != "" || info.DataFile != "" || info.Encrypted:
		return "the source image is not a standalone, unencrypted qcow2"
	case info.CompressionType != c.Compression:
		return "the source image's compression type is " + info.CompressionType
	case chk.Compressed*2 < chk.Allocated || chk.Allocated == 0:
		return fmt.Sprintf("%d of the source image's %d clusters are compressed", chk.Compressed, chk.Allocated)
	}
	return ""
}

// ConvertOptions say how ConvertImage writes its output.
type ConvertOptions struct {
	// Compression is the qcow2 compression type: "zlib", "zstd", or "" or "none" for none.
	Compression string
	// Progress, when set, is called with the percentage done each time qemu-img reports it.
	Progress func(percent float64)
}

// qemuImgArgs are the options of qemu-img convert for o and the output format. zlib is
// qcow2's default type: no -o, so that an old qemu-img on the build host works too.
func (o ConvertOptions) qemuImgArgs(dstFormat string) []string {
	var args []string
	if o.Progress != nil {
		args = append(args, "-p")
	}
	switch {
	case dstFormat != "qcow2" || o.Compression == "" || o.Compression == "none":
	case o.Compression == "zlib":
		args = append(args, "-c")
	default:
		args = append(args, "-c", "-o", "compression_type="+o.Compression)
	}
	return args
}

// progressRE matches qemu-img's -p report, "    (12.34/100%)".
var progressRE = regexp.MustCompile(`\((\d+(?:\.\d+)?)/100%\)`)

// progressWriter turns qemu-img's progress output into calls of report.
type progressWriter struct {
	report  func(float64)
	pending string
}

func (w *progressWriter) Write(p []byte) (int, error) {
	w.pending += string(p)
	for {
		i := strings.IndexAny(w.pending, "\r\n")
		if i < 0 {
			break
		}
		if m := progressRE.FindStringSubmatch(w.pending[:i]); m != nil {
			if f, err := strconv.ParseFloat(m[1], 64); err == nil {
				w.report(f)
			}
		}
		w.pending = w.pending[i+1:]
	}
	if len(w.pending) > 256 { // not progress: do not grow
		w.pending = ""
	}
	return len(p), nil
}

// uiProgress reports a long conversion in Packer's UI every 10 percent.
func uiProgress(ui packersdk.Ui, what string) func(float64) {
	next := 10.0
	return func(p float64) {
		if p < next {
			return
		}
		for next <= p {
			next += 10
		}
		ui.Message(fmt.Sprintf("%s: %.0f%%", what, p))
	}
}
