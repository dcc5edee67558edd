package userdata

import (
	"path"
	"strings"
	"syscall"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/fuzztest"
)

// FuzzParse feeds Parse arbitrary bytes, seeded with every input of the table. Parse turns a
// panic into a note, so the fuzzer looks for that note as well as for broken invariants.
// Run: go test -run=^$ -fuzz=FuzzParse -fuzztime=2m ./firstboot/userdata/
func FuzzParse(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	for _, c := range parseCases(f) {
		if !c.heavy {
			f.Add(c.in)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Parse(data)
		for _, n := range r.Notes {
			if strings.Contains(n, "internal error") {
				t.Fatalf("Parse panicked: %s", n)
			}
		}
		if len(r.Parts) > maxParts {
			t.Errorf("%d parts, more than MaxParts", len(r.Parts))
		}
		if r.Force == nil && !r.Marker && len(r.DropIns) == 0 && len(r.Notes) == 0 {
			t.Error("no toggle and no note saying why")
		}
		for _, d := range r.DropIns {
			if path.Dir(d.Name) != config.DropIn || !strings.HasSuffix(d.Name, ".yaml") || len(d.Data) > maxDecompressed {
				t.Errorf("drop-in %s (%d bytes) is not a firstboot.d/*.yaml within bounds", d.Name, len(d.Data))
			}
		}
	})
}

// benchInput is a 60 KiB user-data as an operator's pipeline might send: MIME with a large
// cloud-config, a gzip-typed cloud-config carrying the toggle, a script and a boothook.
func benchInput(b testing.TB) []byte {
	cfg := big(30 << 10)
	var script strings.Builder
	script.WriteString("#!/bin/sh\n")
	for script.Len() < 22<<10 {
		script.WriteString("echo 'configure one more thing on this instance'\n")
	}
	zipped := gz(b, []byte(markerCC+"runcmd: [[sh, -c, 'echo done']]\n"))
	in := multipart("==BOUNDARY==",
		"Content-Type: text/cloud-config; charset=\"us-ascii\"\nContent-Transfer-Encoding: 7bit\n\n"+string(cfg),
		"Content-Type: application/x-gzip\nContent-Transfer-Encoding: base64\n\n"+b64(zipped),
		"Content-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\n"+b64([]byte(script.String())),
		"Content-Type: text/cloud-boothook\n\n#cloud-boothook\nmkdir -p /etc/clearwater\n",
	)
	return in
}

func BenchmarkParse(b *testing.B) {
	in := benchInput(b)
	if r := Parse(in); r.Force == nil || !*r.Force || !r.Marker {
		b.Fatalf("bench input does not carry the toggle: %q", r.Notes)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	start := cpuTime()
	n := 0
	for b.Loop() {
		Parse(in)
		n++
	}
	// CPU time per op next to wall time: on a loaded build host ns/op mostly measures waiting.
	b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	b.ReportMetric(float64(len(in))/1024, "KiB/input")
}

// cpuTime is the user and system CPU time of this process so far, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
