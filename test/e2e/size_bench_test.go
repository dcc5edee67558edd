package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
	"github.com/clearwater-aio/packer-plugin-clearwater/test/qemu"
)

// BenchmarkExampleImageSize builds example/ on the cached base image once for each of the
// builder's compressions and prints the output's size over the base's (out/base; the target
// is at most 1.1 plus the payload, the helper binary the build adds, over the base: the
// "target" figure), both sizes, and what the build costs (s/build).
//
//	go test -run '^$' -bench ExampleImageSize -benchtime 1x ./test/e2e/
func BenchmarkExampleImageSize(b *testing.B) {
	env, base := benchSetup(b)
	baseSize := fileSize(b, base)
	payload := fileSize(b, filepath.Join(packertest.RepoRoot(), "provisioner/firstboot/helpers/clearwater-firstboot_linux_amd64"))
	for _, compression := range []string{"zlib", "zstd", "none"} {
		b.Run(compression, func(b *testing.B) {
			var total time.Duration
			var size int64
			for b.Loop() {
				built, took := packerBuild(b, env, base, "-var", "compression="+compression)
				total += took
				size = fileSize(b, built.image)
				if err := os.RemoveAll(filepath.Dir(filepath.Dir(built.image))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size)/float64(baseSize), "out/base")
			b.ReportMetric(1.1+float64(payload)/float64(baseSize), "target")
			b.ReportMetric(float64(size)/1e6, "out-MB")
			b.ReportMetric(float64(baseSize)/1e6, "base-MB")
			b.ReportMetric(total.Seconds()/float64(b.N), "s/build")
		})
	}
}

func fileSize(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// benchSetup is what a benchmark of packer build example/ needs: the plugin with this tree's
// helpers, installed, and the cached Debian base image.
func benchSetup(b *testing.B) (*packertest.Env, string) {
	requireRoot(b)
	qemu.RequireTools(b)
	generateHelpers(b)
	env := packertest.New(b)
	base, err := qemu.DebianImage(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return env, base
}
