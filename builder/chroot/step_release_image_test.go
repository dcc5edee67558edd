package chroot

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestStepReleaseImage(t *testing.T) {
	var order []string
	state, _ := testState(t, &Config{}, &fakeDriver{})
	undo := state.Get("undo").(*undoStack)
	a := undo.push("first", func() error { order = append(order, "first"); return nil })
	undo.push("second", func() error { order = append(order, "second"); return errors.New("busy") })
	undo.push("third", func() error { order = append(order, "third"); return nil })
	err := stateErrorAfter((&stepReleaseImage{}).Run(context.Background(), state), state)
	if err == nil || !strings.Contains(err.Error(), "second: busy") {
		t.Fatalf("error %v", err)
	}
	// Every action ran, newest first, despite the failure.
	if !reflect.DeepEqual(order, []string{"third", "second", "first"}) {
		t.Errorf("order %q", order)
	}
	// Succeeded actions do not run again; the failed one is retried.
	order = nil
	_ = a.run()
	if err := undo.runAll(); err == nil {
		t.Error("the failing action passed")
	}
	if !reflect.DeepEqual(order, []string{"second"}) {
		t.Errorf("second round ran %q", order)
	}
	var nilAction *undoAction
	if err := nilAction.run(); err != nil {
		t.Error(err)
	}
}
