package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

func TestChainsVerify(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server(2, "localhost", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(srv.CertPEM(), srv.KeyPEM())
	if err != nil {
		t.Fatalf("server PEM pair does not load: %v", err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}); err != nil {
			t.Errorf("server certificate does not verify for %s: %v", name, err)
		}
	}
	cl, err := ca.Client(3, "device-1")
	if err != nil {
		t.Fatal(err)
	}
	cc, _ := x509.ParseCertificate(cl.DER)
	if _, err := cc.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate does not verify: %v", err)
	}
	if cc.Subject.CommonName != "device-1" {
		t.Errorf("client CN %q", cc.Subject.CommonName)
	}
	other, _ := NewCA("other CA")
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: other.Pool(), DNSName: "localhost"}); err == nil {
		t.Error("a certificate verified against a CA that did not sign it")
	}
}
