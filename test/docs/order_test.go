package docs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

// firstbootLast returns the problem of a template whose clearwater-firstboot provisioner is not
// the last of its build: the provisioner's docs require it last, after Clearwater's install (it
// disables the auto-config that the packages install) and as the last change (its reset removes
// what the build instance's user-data wrote), or "" when every build keeps that order.
func firstbootLast(name string, src []byte) (string, error) {
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return "", diags
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "build" {
			continue
		}
		var provs []*hclsyntax.Block
		for _, p := range b.Body.Blocks {
			if p.Type == "provisioner" && len(p.Labels) > 0 {
				provs = append(provs, p)
			}
		}
		for i, p := range provs {
			if p.Labels[0] == "clearwater-firstboot" && i != len(provs)-1 {
				next := provs[i+1]
				return "provisioner \"clearwater-firstboot\" at " + p.DefRange().String() + " comes before provisioner \"" +
					next.Labels[0] + "\" at " + next.DefRange().String() + ": make it the build's last provisioner", nil
			}
		}
	}
	return "", nil
}

// TestFirstbootProvisionerComesLast checks every example template and every HCL block of the docs
// for the order the provisioner's docs require, and that the check fails on the wrong order.
func TestFirstbootProvisionerComesLast(t *testing.T) {
	wrong := "build {\n  provisioner \"clearwater-firstboot\" {}\n  provisioner \"shell\" { inline = [\"apt-get install clearwater\"] }\n}\n"
	if problem, err := firstbootLast("wrong.pkr.hcl", []byte(wrong)); err != nil || problem == "" {
		t.Fatalf("the check passes a template with clearwater-firstboot first: %q %v", problem, err)
	}
	root := packertest.RepoRoot()
	files, err := filepath.Glob(filepath.Join(root, "example", "*.pkr.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	nested, _ := filepath.Glob(filepath.Join(root, "example", "*", "*.pkr.hcl"))
	files = append(files, nested...)
	checked := 0
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		problem, err := firstbootLast(rel, src)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		}
		if problem != "" {
			t.Error(problem)
		}
		if strings.Contains(string(src), `provisioner "clearwater-firstboot"`) {
			checked++
		}
	}
	if checked < 3 {
		t.Errorf("only %d example templates use the provisioner; want the chroot, qemu and openstack ones", checked)
	}
	for _, ex := range examples(t) {
		tpl, _ := template(t, ex)
		if problem, err := firstbootLast(ex.doc, []byte(tpl)); err == nil && problem != "" {
			t.Errorf("%s:%d: %s", ex.doc, ex.line, problem)
		}
	}
}
