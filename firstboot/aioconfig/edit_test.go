package aioconfig

import "testing"

var testKeys = []keyValue{{"local_ip", "10.0.0.5"}, {"public_ip", "10.0.0.5"}}

const both = "local_ip=10.0.0.5\npublic_ip=10.0.0.5\n"

func TestUpsertKeys(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty file", "", both},
		{"already right", "# x\n" + both, "# x\n" + both},
		{"operator lines kept",
			"# Local config\nmax_log_directory_size=52428800\n\nlocal_ip=1.2.3.4\n  # indented\tcomment \n",
			"# Local config\nmax_log_directory_size=52428800\n\nlocal_ip=10.0.0.5\n  # indented\tcomment \npublic_ip=10.0.0.5\n"},
		{"CRLF", "a=1\r\nlocal_ip=x\r\n", "a=1\r\nlocal_ip=10.0.0.5\r\npublic_ip=10.0.0.5\r\n"},
		{"CRLF without trailing newline", "a=1\r\nb=2", "a=1\r\nb=2\r\nlocal_ip=10.0.0.5\r\npublic_ip=10.0.0.5"},
		{"no trailing newline", "a=1", "a=1\nlocal_ip=10.0.0.5\npublic_ip=10.0.0.5"},
		{"no trailing newline, key last", "a=1\nlocal_ip=x", "a=1\nlocal_ip=10.0.0.5\npublic_ip=10.0.0.5"},
		{"no trailing newline, all present", "public_ip=1\nlocal_ip=2", "public_ip=10.0.0.5\nlocal_ip=10.0.0.5"},
		{"mixed endings keep their own", "a=1\nlocal_ip=x\r\nb\n", "a=1\nlocal_ip=10.0.0.5\r\nb\npublic_ip=10.0.0.5\n"},
		{"later duplicates dropped", "local_ip=a\nb=1\nlocal_ip=c\npublic_ip=d\npublic_ip=10.0.0.5\n",
			"local_ip=10.0.0.5\nb=1\npublic_ip=10.0.0.5\n"},
		{"duplicate last, no trailing newline", "local_ip=a\nb=1\nlocal_ip=c",
			"local_ip=10.0.0.5\nb=1\npublic_ip=10.0.0.5"},
		{"look-alikes are not ours",
			"local_ip_extra=1\n#local_ip=2\n local_ip=3\nexport local_ip=4\nlocal_ip =5\nLOCAL_IP=6\nlocal_ip\nxlocal_ip=7\n",
			"local_ip_extra=1\n#local_ip=2\n local_ip=3\nexport local_ip=4\nlocal_ip =5\nLOCAL_IP=6\nlocal_ip\nxlocal_ip=7\n" + both},
		{"lone CR is text", "a=1\rlocal_ip=x\n", "a=1\rlocal_ip=x\n" + both},
		{"empty and quoted values replaced", "local_ip=\npublic_ip=\"10.0.0.5\"\n", both},
		{"trailing comment replaced, as upstream's sed", "local_ip=10.0.0.5 # mine\npublic_ip=10.0.0.5\n", both},
		{"blank lines only", "\n\n", "\n\n" + both},
		{"CRLF blank line", "\r\n", "\r\nlocal_ip=10.0.0.5\r\npublic_ip=10.0.0.5\r\n"},
		{"unterminated CR at end kept", "a=1\r", "a=1\r\r\nlocal_ip=10.0.0.5\r\npublic_ip=10.0.0.5"},
		{"unterminated CR at end of LF file", "x\na=1\r", "x\na=1\r\r\n" + both[:len(both)-1]},
		{"unterminated CR on our key", "x\nlocal_ip=1\r", "x\nlocal_ip=10.0.0.5\r\n" + "public_ip=10.0.0.5"},
		// A blank line left last cannot lose its ending without vanishing: it keeps it.
		{"duplicate last after a blank line, no trailing newline", "local_ip=a\npublic_ip=b\n\nlocal_ip=c", both + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(upsertKeys([]byte(tt.in), testKeys))
			if got != tt.want {
				t.Errorf("upsertKeys(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := string(upsertKeys([]byte(got), testKeys)); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

const (
	entry = "10.0.0.5 cw-aio scscf.cw-aio bgcf.cw-aio icscf.cw-aio"
	block = "#+clearwater-aio\n" + entry + "\n#-clearwater-aio\n"
)

func TestReplaceBlock(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty file", "", block},
		{"absent: appended", "127.0.0.1 localhost\n", "127.0.0.1 localhost\n" + block},
		{"already right", "127.0.0.1 localhost\n" + block + "::1 localhost\n", "127.0.0.1 localhost\n" + block + "::1 localhost\n"},
		{"stale: replaced in place",
			"127.0.0.1 localhost\n#+clearwater-aio\n10.0.0.9 old scscf.old bgcf.old icscf.old\n#-clearwater-aio\n::1 localhost\n",
			"127.0.0.1 localhost\n" + block + "::1 localhost\n"},
		{"upstream's first-run line", "#+clearwater-aio\n10.0.0.9  scscf. bgcf. icscf.\n#-clearwater-aio\n", block},
		{"extra lines inside are ours", "#+clearwater-aio\na\nb\n#-clearwater-aio\nc\n", block + "c\n"},
		{"broken: start, entry, no end",
			"a\n#+clearwater-aio\n10.0.0.9 cw-aio scscf.cw-aio bgcf.cw-aio icscf.cw-aio\n192.168.1.1 router\n",
			"a\n" + block + "192.168.1.1 router\n"},
		{"broken: start only, operator line after", "#+clearwater-aio\n192.168.1.1 router\n", block + "192.168.1.1 router\n"},
		{"broken: start last", "a\n#+clearwater-aio\n", "a\n" + block},
		{"broken: start last, no newline", "a\n#+clearwater-aio", "a\n" + block[:len(block)-1]},
		{"two blocks: the later goes", block + "x\n#+clearwater-aio\n1.2.3.4 h scscf.h bgcf.h icscf.h\n#-clearwater-aio\ny\n", block + "x\ny\n"},
		// Broken blocks are blocks: the first gets ours, later start markers go, every line
		// between stays; a blank line left last keeps its ending rather than vanish.
		{"two start markers, no end, no trailing newline", "#+clearwater-aio\n\n#+clearwater-aio", block + "\n"},
		{"two start markers, line between, no trailing newline", "#+clearwater-aio\nx\n#+clearwater-aio", block + "x"},
		{"broken start after a block, no trailing newline", block + "\n#+clearwater-aio", block + "\n"},
		{"two broken starts with entries", "a\n#+clearwater-aio\n10.0.0.9  scscf. bgcf. icscf.\n\n#+clearwater-aio\n10.0.0.9  scscf. bgcf. icscf.",
			"a\n" + block + "\n"},
		{"stray end marker kept", "#-clearwater-aio\nx\n", "#-clearwater-aio\nx\n" + block},
		{"CRLF", "127.0.0.1 localhost\r\n", "127.0.0.1 localhost\r\n#+clearwater-aio\r\n" + entry + "\r\n#-clearwater-aio\r\n"},
		{"CRLF block replaced", "#+clearwater-aio\r\nold\r\n#-clearwater-aio\r\nz\r\n", "#+clearwater-aio\r\n" + entry + "\r\n#-clearwater-aio\r\nz\r\n"},
		{"no trailing newline", "127.0.0.1 localhost", "127.0.0.1 localhost\n" + block[:len(block)-1]},
		{"block last, no trailing newline", "x\n#+clearwater-aio\nold\n#-clearwater-aio", "x\n" + block[:len(block)-1]},
		{"markers with trailing blanks", "#+clearwater-aio \t\nold\n#-clearwater-aio  \n", block},
		{"indented marker is not ours", " #+clearwater-aio\n", " #+clearwater-aio\n" + block},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(replaceBlock([]byte(tt.in), HostsStart, HostsEnd, []string{entry}))
			if got != tt.want {
				t.Errorf("replaceBlock(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := string(replaceBlock([]byte(got), HostsStart, HostsEnd, []string{entry})); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestIsAIOEntry(t *testing.T) {
	for s, want := range map[string]bool{
		entry:                                  true,
		"2001:db8::5 h scscf.h bgcf.h icscf.h": true,
		"10.0.0.9  scscf. bgcf. icscf.":        true,
		"10.0.0.9 router":                      false,
		"host h scscf.h bgcf.h icscf.h":        false,
		"10.0.0.9 h scscf.h icscf.h bgcf.h":    false,
		"":                                     false,
	} {
		if got := isAIOEntry(s); got != want {
			t.Errorf("isAIOEntry(%q) = %v, want %v", s, got, want)
		}
	}
	// With upstream's prefix overrides: their entry, and still one that upstream's defaults wrote.
	sp := [3]string{"sprout", "breakout", "icscf"}
	for s, want := range map[string]bool{"10.0.0.9 h sprout.h breakout.h icscf.h": true, entry: true, "10.0.0.9 h sprout.h bgcf.h icscf.h": false} {
		if got := isAIOEntry(s, sp); got != want {
			t.Errorf("isAIOEntry(%q, %v) = %v, want %v", s, sp, got, want)
		}
	}
}
