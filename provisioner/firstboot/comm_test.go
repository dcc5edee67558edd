package firstboot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// event is one thing the provisioner asked of the communicator.
type event struct {
	kind string // "start" or "upload"
	// command for a start, destination for an upload
	what string
	data []byte
	mode fs.FileMode
}

func (e event) String() string { return e.kind + " " + e.what }

// reply is what a command does in the recording communicator.
type reply struct {
	stdout, stderr string
	status         int
	// hang makes the command run until its context ends.
	hang bool
}

// recordingComm is a communicator double that records every command and upload in order
// (the SDK's MockCommunicator keeps only the last of each) and answers commands through a
// table of command prefixes.
type recordingComm struct {
	mu     sync.Mutex
	events []event
	// replies maps a command prefix to its reply; the longest matching prefix wins.
	replies   map[string]reply
	uploadErr error
	started   chan string // receives each command as it starts, when not nil
}

var _ packersdk.Communicator = (*recordingComm)(nil)

// newComm answers like an amd64 systemd guest where every command succeeds.
func newComm() *recordingComm {
	return &recordingComm{replies: map[string]reply{
		"uname -m":              {stdout: "x86_64\n"},
		"if [ -d /run/systemd/": {stdout: "systemd /sbin/init -> /lib/systemd/systemd\n"},
		"mktemp -d":             {stdout: "/tmp/clearwater-firstboot.Ab12Cd34Ef\n"},
	}}
}

const stage = "/tmp/clearwater-firstboot.Ab12Cd34Ef"

func (c *recordingComm) Start(ctx context.Context, cmd *packersdk.RemoteCmd) error {
	c.mu.Lock()
	c.events = append(c.events, event{kind: "start", what: cmd.Command})
	r, best := reply{}, -1
	for prefix, rr := range c.replies {
		if strings.HasPrefix(cmd.Command, prefix) && len(prefix) > best {
			r, best = rr, len(prefix)
		}
	}
	started := c.started
	c.mu.Unlock()
	if started != nil {
		started <- cmd.Command
	}
	go func() {
		if r.hang {
			<-ctx.Done()
			cmd.SetExited(130)
			return
		}
		if cmd.Stdout != nil {
			io.WriteString(cmd.Stdout, r.stdout)
		}
		if cmd.Stderr != nil {
			io.WriteString(cmd.Stderr, r.stderr)
		}
		cmd.SetExited(r.status)
	}()
	return nil
}

func (c *recordingComm) Upload(dst string, r io.Reader, fi *os.FileInfo) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var mode fs.FileMode
	if fi != nil {
		mode = (*fi).Mode()
		if (*fi).Size() != int64(len(data)) {
			return fmt.Errorf("upload %s: FileInfo says %d bytes, reader gave %d", dst, (*fi).Size(), len(data))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, event{kind: "upload", what: dst, data: data, mode: mode})
	return c.uploadErr
}

func (c *recordingComm) UploadDir(string, string, []string) error {
	return errors.New("recordingComm: UploadDir is not used by this provisioner")
}

func (c *recordingComm) Download(string, io.Writer) error {
	return errors.New("recordingComm: Download is not used by this provisioner")
}

func (c *recordingComm) DownloadDir(string, string, []string) error {
	return errors.New("recordingComm: DownloadDir is not used by this provisioner")
}

// log returns the events as "start CMD" / "upload DST" lines.
func (c *recordingComm) log() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.events))
	for i, e := range c.events {
		out[i] = e.String()
	}
	return out
}

// upload returns the upload to dst.
func (c *recordingComm) upload(dst string) (event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.events {
		if e.kind == "upload" && e.what == dst {
			return e, true
		}
	}
	return event{}, false
}
