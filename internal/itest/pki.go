package itest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throwaway certificate authority with a server certificate for
// localhost/127.0.0.1 and a client certificate, for tests of TLS
// listeners.
type PKI struct {
	CA             *x509.Certificate
	Pool           *x509.CertPool
	Server, Client tls.Certificate
}

// NewPKI makes a CA valid for a day and issues both certificates.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	caKey := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "MUTT test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{Pool: x509.NewCertPool()}
	p.CA, _ = x509.ParseCertificate(der)
	p.Pool.AddCert(p.CA)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage) tls.Certificate {
		k := newKey(t)
		tm := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		d, err := x509.CreateCertificate(rand.Reader, tm, p.CA, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(d)
		return tls.Certificate{Certificate: [][]byte{d}, PrivateKey: k, Leaf: leaf}
	}
	p.Server = issue(2, "localhost", x509.ExtKeyUsageServerAuth)
	p.Client = issue(3, "localhost", x509.ExtKeyUsageClientAuth)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ServerConfig is a TLS server configuration; mutual requires a client
// certificate from the CA.
func (p *PKI) ServerConfig(mutual bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{p.Server}, MinVersion: tls.VersionTLS12}
	if mutual {
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, p.Pool
	}
	return c
}

// ClientConfig trusts the CA and presents the client certificate when
// withCert is true.
func (p *PKI) ClientConfig(withCert bool) *tls.Config {
	c := &tls.Config{RootCAs: p.Pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if withCert {
		c.Certificates = []tls.Certificate{p.Client}
	}
	return c
}

// PKIFiles are the PEM files WriteFiles writes.
type PKIFiles struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

// WriteFiles writes the CA and both key pairs as PEM files into dir.
func (p *PKI) WriteFiles(t testing.TB, dir string) PKIFiles {
	t.Helper()
	f := PKIFiles{CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem")}
	write := func(path, kind string, der []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	key := func(c tls.Certificate) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	write(f.CA, "CERTIFICATE", p.CA.Raw)
	write(f.ServerCert, "CERTIFICATE", p.Server.Certificate[0])
	write(f.ServerKey, "PRIVATE KEY", key(p.Server))
	write(f.ClientCert, "CERTIFICATE", p.Client.Certificate[0])
	write(f.ClientKey, "PRIVATE KEY", key(p.Client))
	return f
}
