// Command gencert writes a throwaway CA certificate (ca.pem) and a server
// certificate and key it signed (cert.pem, key.pem) for 127.0.0.1, ::1 and
// localhost into a directory, for benchmarks/tls.sh on machines without
// openssl. ECDSA P-256, valid for one day; the CA's key is never written.
// Nothing it writes belongs in the repository.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cp7/cp7/internal/testpki"
)

func main() {
	dir := flag.String("dir", ".", "`DIR` to write ca.pem, cert.pem and key.pem into")
	flag.Parse()
	if err := write(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gencert:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	ca, err := testpki.NewCA("cp7 benchmark CA")
	if err != nil {
		return err
	}
	leaf, err := ca.Server(2, "localhost", "localhost")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		b    []byte
		perm os.FileMode
	}{{"ca.pem", ca.PEM(), 0o644}, {"cert.pem", leaf.CertPEM(), 0o644}, {"key.pem", leaf.KeyPEM(), 0o600}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.b, f.perm); err != nil {
			return err
		}
	}
	return nil
}
