// Package docs checks the documentation's examples: every HCL block in docs/ and in the READMEs
// (README.md, example/**/README.md) runs through the pinned packer with this plugin installed, so
// that an example can never name a function, option, output or component that does not exist.
// Every Markdown page's links, headings, make targets and repository paths, and every option a
// component page documents, must exist too (refs_test.go).
//
//	go test -count=1 ./test/docs/
package docs
