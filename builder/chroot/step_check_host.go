package chroot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepCheckHost fails early, with the fix in the message, on a host that
// cannot run the build: not Linux, not root, no loop devices, or a missing
// tool. The zero value checks the real host.
type stepCheckHost struct {
	goos        string
	euid        int
	loopControl string
	lookPath    func(string) (string, error)
}

func (s *stepCheckHost) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	c, _, ui, _ := stateOf(state)
	ui.Say("Checking the host...")
	if s.goos == "" {
		s.goos, s.euid, s.loopControl, s.lookPath = runtime.GOOS, os.Geteuid(), "/dev/loop-control", lookTool
	}
	if err := s.check(c); err != nil {
		return halt(state, err)
	}
	return multistep.ActionContinue
}

// check returns every problem found, joined.
func (s *stepCheckHost) check(c *Config) error {
	if err := buildHostError(s.goos); err != nil {
		return err
	}
	var errs []error
	if s.euid != 0 {
		errs = append(errs, errors.New("the clearwater-chroot builder must run as root (it attaches loop devices, mounts filesystems and calls chroot): run packer with sudo"))
	}
	if _, err := os.Stat(s.loopControl); err != nil {
		errs = append(errs, fmt.Errorf("no loop devices: %v: load the loop module (modprobe loop) or, in a container, give it /dev/loop-control and /dev/loop*", err))
	}
	tools := requiredTools
	if c.diskSizeBytes > 0 {
		tools = append(tools[:len(tools):len(tools)], growTools...)
	}
	var missing, packages []string
	for _, t := range tools {
		if _, err := s.lookPath(t.Name); err != nil {
			missing = append(missing, t.Name)
			packages = appendUnique(packages, t.Package)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("missing host tools: %s: install them with apt-get install %s",
			strings.Join(missing, ", "), strings.Join(packages, " ")))
	}
	return errors.Join(errs...)
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// sbinDirs are searched after PATH, because Packer may run with a user's
// PATH that lacks the sbin directories.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"}

// lookTool finds a host tool in PATH, then in the sbin directories.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH or %s", name, strings.Join(sbinDirs, ":"))
}

func (s *stepCheckHost) Cleanup(multistep.StateBag) {}
