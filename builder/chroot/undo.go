package chroot

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// undoStack records what the steps did to the host (mounts, loop devices,
// files in the image) so that it can be undone in reverse order: early by
// stepReleaseImage before the image is converted, and otherwise by each
// step's Cleanup. Each action runs at most once until it succeeds.
type undoStack struct {
	mu      sync.Mutex
	actions []*undoAction
}

// undoAction is one recorded action.
type undoAction struct {
	name string
	fn   func() error
	mu   sync.Mutex
	done bool
}

// push records fn, described by name, and returns it so the step that made
// it can run it from its Cleanup.
func (s *undoStack) push(name string, fn func() error) *undoAction {
	a := &undoAction{name: name, fn: fn}
	s.mu.Lock()
	s.actions = append(s.actions, a)
	s.mu.Unlock()
	return a
}

// run runs the action unless it has already succeeded. It is safe on a nil
// action.
func (a *undoAction) run() error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return nil
	}
	if err := a.fn(); err != nil {
		return fmt.Errorf("%s: %w", a.name, err)
	}
	a.done = true
	return nil
}

// runAll runs every pending action, newest first, and joins their errors.
// It keeps going after an error so that as much as possible is undone.
func (s *undoStack) runAll() error {
	s.mu.Lock()
	actions := append([]*undoAction(nil), s.actions...)
	s.mu.Unlock()
	var errs []error
	for i := len(actions) - 1; i >= 0; i-- {
		if err := actions[i].run(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runUndos runs a step's actions newest first from its Cleanup and reports
// failures on the UI (Cleanup cannot fail the build).
func runUndos(state multistep.StateBag, actions []*undoAction) {
	for i := len(actions) - 1; i >= 0; i-- {
		if err := actions[i].run(); err != nil {
			state.Get("ui").(packersdk.Ui).Error("Cleanup failed: " + err.Error())
		}
	}
}
