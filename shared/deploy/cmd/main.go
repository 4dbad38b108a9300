// Command cmd writes template.yaml and stack.yml from openapi.yaml into the
// repository root (the current directory, or -dir): `make generate`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/realmiam/realmiam"
	"github.com/realmiam/realmiam/shared/deploy"
)

func main() {
	dir := flag.String("dir", ".", "the repository root")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	// The spec is compiled in; refuse to write next to some other spec.
	if _, err := os.Stat(filepath.Join(dir, "openapi.yaml")); err != nil {
		return fmt.Errorf("%s is not the repository root: %w", dir, err)
	}
	files, err := deploy.Files(realmiam.Spec)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", n)
	}
	return nil
}
