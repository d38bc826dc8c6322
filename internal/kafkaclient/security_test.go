package kafkaclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaclient"
)

func TestSettingsLoadRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    kafkaclient.Settings
		want string
	}{
		{"unknown mechanism", kafkaclient.Settings{Mechanism: "GSSAPI"}, `kafka SASL mechanism "GSSAPI" is not one of`},
		{"SCRAM without a password", kafkaclient.Settings{Mechanism: kafkaclient.MechScram512, Username: "u"}, "kafka SASL SCRAM-SHA-512 needs a password"},
		{"PLAIN without a username", kafkaclient.Settings{Mechanism: kafkaclient.MechPlain, Password: "p"}, "kafka SASL PLAIN needs a username"},
		{"OAUTHBEARER without a token URL", kafkaclient.Settings{Mechanism: kafkaclient.MechOAuthBearer, ClientID: "c", ClientSecret: "s"}, "needs a token URL"},
		{"MSK IAM without keys", kafkaclient.Settings{Mechanism: kafkaclient.MechMSKIAM}, "needs an access key id"},
		{"a missing CA file", kafkaclient.Settings{TLS: true, CAFile: filepath.Join(dir, "nope.pem")}, "kafka TLS CA file"},
		{"a CA file without a certificate", kafkaclient.Settings{TLS: true, CAFile: notPEM}, "no PEM certificate in it"},
		{"a certificate without its key", kafkaclient.Settings{TLS: true, CertFile: notPEM}, "the client certificate and key files go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.s.Load()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSecurityDescribesWithoutSecrets(t *testing.T) {
	t.Parallel()
	sec, err := kafkaclient.Settings{Mechanism: kafkaclient.MechScram256, Username: "noc-a", Password: "hunter2"}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := sec.String(); got != "SASL SCRAM-SHA-256 as noc-a" || strings.Contains(got, "hunter2") {
		t.Errorf("String() = %q", got)
	}
	if got := (kafkaclient.Security{}).String(); got != "plaintext, no authentication" {
		t.Errorf("zero String() = %q", got)
	}
}

// selfSigned writes a CA-less self-signed certificate for 127.0.0.1 and returns its TLS config
// and the path of its PEM (the CA file a client trusts).
func selfSigned(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, ca
}

// listTopics connects with settings and lists the cluster's topics.
func listTopics(t *testing.T, brokers string, s kafkaclient.Settings) error {
	t.Helper()
	sec, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(kafkaclient.Options(brokers, sec, "test", zerolog.Nop(), nil),
		kgo.RetryTimeout(3*time.Second), kgo.RequestRetries(1))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = kadm.NewClient(cl).ListTopics(ctx)
	return err
}

// A broker that asks for TLS and SCRAM: the right settings connect, a wrong password is
// refused with the broker's authentication error (not retried forever), and a client that does
// not trust the broker's certificate never sends its credentials.
func TestTLSAndSCRAMAgainstABrokerThatRequiresThem(t *testing.T) {
	t.Parallel()
	srv, ca := selfSigned(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.TLS(srv),
		kfake.Superuser(kafkaclient.MechScram512, "strike-admin", "s3cret"),
		kfake.User(kafkaclient.MechScram512, "noc-a", "noc-a-pass"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")

	ok := kafkaclient.Settings{TLS: true, CAFile: ca, Mechanism: kafkaclient.MechScram512, Username: "strike-admin", Password: "s3cret"}
	if err := listTopics(t, brokers, ok); err != nil {
		t.Fatalf("the right settings: %v", err)
	}
	wrong := ok
	wrong.Password = "guess"
	// Kafka answers SASL_AUTHENTICATION_FAILED and closes; kfake just closes (EOF). Either way
	// the client gives up within its retry bound instead of retrying forever.
	start := time.Now()
	if err := listTopics(t, brokers, wrong); err == nil {
		t.Error("a wrong password connected")
	} else if !errors.Is(err, kerr.SaslAuthenticationFailed) && !errors.Is(err, io.EOF) {
		t.Errorf("a wrong password: %v, want SASL_AUTHENTICATION_FAILED or the connection closed", err)
	}
	if d := time.Since(start); d > 9*time.Second {
		t.Errorf("a wrong password took %v to fail", d)
	}
	untrusted := ok
	untrusted.CAFile = ""
	if err := listTopics(t, brokers, untrusted); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusted certificate: %v, want a certificate error", err)
	}
	if err := listTopics(t, brokers, kafkaclient.Settings{}); err == nil {
		t.Error("plaintext without credentials connected to a TLS + SASL broker")
	}
}
