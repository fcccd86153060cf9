package pki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotdm/iotdm/internal/pki"
)

// handshake runs a TLS handshake over net.Pipe and returns both sides'
// errors and the server's view of the connection. After its handshake the
// server writes one byte and the client reads it: a TLS 1.3 client learns
// that the server rejected its certificate only from that read. A side that
// hit the deadline fails the test, so no case passes by timing out.
func handshake(t *testing.T, server, client *tls.Config) (clientErr, serverErr error, state tls.ConnectionState) {
	t.Helper()
	c, s := net.Pipe()
	deadline := time.Now().Add(10 * time.Second)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	type result struct {
		err   error
		state tls.ConnectionState
	}
	done := make(chan result, 1)
	go func() {
		srv := tls.Server(s, server)
		err := srv.Handshake()
		if err == nil {
			_, err = srv.Write([]byte{1})
		}
		s.Close()
		done <- result{err, srv.ConnectionState()}
	}()
	cli := tls.Client(c, client)
	clientErr = cli.Handshake()
	if clientErr == nil {
		_, clientErr = cli.Read(make([]byte, 1))
	}
	c.Close()
	r := <-done
	for _, err := range []error{clientErr, r.err} {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("handshake timed out: %v", err)
		}
	}
	return clientErr, r.err, r.state
}

// deviceKeyPair issues an ECDSA device certificate from ca for use as a TLS
// client certificate.
func deviceKeyPair(t *testing.T, ca *pki.CA) tls.Certificate {
	t.Helper()
	certPEM, _, keyPEM, _, err := ca.CreateKeysAndCertificate(pki.KeyOptions{Algorithm: pki.KeyECDSAP256})
	if err != nil {
		t.Fatalf("CreateKeysAndCertificate: %v", err)
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("X509KeyPair: %v", err)
	}
	return kp
}

func TestServerCertificateHandshake(t *testing.T) {
	ca := newLiveCA(t)
	serverCert, err := ca.ServerCertificate(nil)
	if err != nil {
		t.Fatalf("ServerCertificate: %v", err)
	}
	serverCfg := &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool(t, ca),
		MinVersion:   tls.VersionTLS12,
	}
	device := deviceKeyPair(t, ca)
	clientCfg := func(serverName string, certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: pool(t, ca), ServerName: serverName, Certificates: certs, MinVersion: tls.VersionTLS12}
	}

	for _, host := range []string{"localhost", "127.0.0.1"} {
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(host+"/"+tls.VersionName(version), func(t *testing.T) {
				cfg := clientCfg(host, device)
				cfg.MaxVersion = version
				clientErr, serverErr, state := handshake(t, serverCfg, cfg)
				if clientErr != nil || serverErr != nil {
					t.Fatalf("handshake: client %v, server %v; want both nil", clientErr, serverErr)
				}
				if len(state.PeerCertificates) == 0 || !bytes.Equal(state.PeerCertificates[0].Raw, device.Leaf.Raw) {
					t.Fatalf("server saw no or another client certificate")
				}
				// The broker identifies the device by the id of its certificate.
				if got, want := pki.CertificateID(state.PeerCertificates[0].Raw), pki.CertificateID(device.Certificate[0]); got != want {
					t.Errorf("peer certificate id = %s, want %s", got, want)
				}
			})
		}
	}

	t.Run("wrong server name", func(t *testing.T) {
		clientErr, _, _ := handshake(t, serverCfg, clientCfg("iot.example.com", device))
		var hostErr x509.HostnameError
		if !errors.As(clientErr, &hostErr) {
			t.Errorf("client handshake for iot.example.com = %v, want an x509.HostnameError", clientErr)
		}
	})
	t.Run("client trusts another CA", func(t *testing.T) {
		cfg := clientCfg("localhost", device)
		cfg.RootCAs = pool(t, newLiveCA(t))
		var authErr x509.UnknownAuthorityError
		if clientErr, _, _ := handshake(t, serverCfg, cfg); !errors.As(clientErr, &authErr) {
			t.Errorf("client handshake = %v, want an x509.UnknownAuthorityError", clientErr)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		if _, serverErr, _ := handshake(t, serverCfg, clientCfg("localhost")); serverErr == nil || !strings.Contains(serverErr.Error(), "certificate") {
			t.Errorf("server handshake without a client certificate = %v, want a certificate error", serverErr)
		}
	})
	t.Run("client certificate from another CA", func(t *testing.T) {
		var authErr x509.UnknownAuthorityError
		if _, serverErr, _ := handshake(t, serverCfg, clientCfg("localhost", deviceKeyPair(t, newLiveCA(t)))); !errors.As(serverErr, &authErr) {
			t.Errorf("server handshake = %v, want an x509.UnknownAuthorityError", serverErr)
		}
	})
}

func TestServerCertificate(t *testing.T) {
	ca := newCA(t)
	sc, err := ca.ServerCertificate([]string{"iot.example.com", "10.1.2.3", "::1", " mqtt.local "})
	if err != nil {
		t.Fatalf("ServerCertificate: %v", err)
	}
	leaf := sc.Leaf
	if leaf == nil {
		t.Fatalf("ServerCertificate().Leaf = nil, want the parsed leaf")
	}
	if len(sc.Certificate) != 2 || !bytes.Equal(sc.Certificate[0], leaf.Raw) || !bytes.Equal(sc.Certificate[1], ca.Certificate().Raw) {
		t.Errorf("chain has %d certificates, want the leaf then the CA", len(sc.Certificate))
	}
	if want := []string{"iot.example.com", "mqtt.local"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNSNames = %v, want %v", leaf.DNSNames, want)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.ParseIP("10.1.2.3")) || !leaf.IPAddresses[1].Equal(net.ParseIP("::1")) {
		t.Errorf("IPAddresses = %v, want [10.1.2.3 ::1]", leaf.IPAddresses)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("ExtKeyUsage = %v, want [ServerAuth]", leaf.ExtKeyUsage)
	}
	if leaf.IsCA {
		t.Errorf("server certificate is a CA")
	}
	if k, ok := sc.PrivateKey.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() || !k.PublicKey.Equal(leaf.PublicKey) {
		t.Errorf("private key is %T, want the ECDSA P-256 key of the leaf", sc.PrivateKey)
	}
	if !leaf.NotBefore.Equal(testNow.Add(-time.Hour)) || !leaf.NotAfter.Equal(testNow.Add(365*24*time.Hour)) {
		t.Errorf("validity %v .. %v, want an hour ago .. a year from now", leaf.NotBefore, leaf.NotAfter)
	}
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots: pool(t, ca), CurrentTime: testNow, DNSName: "iot.example.com",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Errorf("Verify(server certificate) = %v", err)
	}

	def, err := ca.ServerCertificate(nil)
	if err != nil {
		t.Fatalf("ServerCertificate(nil): %v", err)
	}
	if !slices.Equal(def.Leaf.DNSNames, []string{"localhost"}) || len(def.Leaf.IPAddresses) != 1 || !def.Leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("default SANs = %v %v, want [localhost] [127.0.0.1]", def.Leaf.DNSNames, def.Leaf.IPAddresses)
	}
	if _, err := ca.ServerCertificate([]string{"localhost", ""}); err == nil {
		t.Errorf("ServerCertificate(empty host) = nil error, want an error")
	}
}
