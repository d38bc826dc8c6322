package kafkaclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"golang.org/x/oauth2/clientcredentials"
)

// SASL mechanisms Strike's clients speak.
const (
	MechPlain       = "PLAIN"
	MechScram256    = "SCRAM-SHA-256"
	MechScram512    = "SCRAM-SHA-512"
	MechOAuthBearer = "OAUTHBEARER"
	MechMSKIAM      = "AWS_MSK_IAM"
)

// Settings are how every Strike client proves itself to the brokers and protects the wire:
// one set for producers, consumers and admin clients alike (docs/topics.md, "Connecting").
// The zero value is plaintext without authentication, which only a local broker should accept.
type Settings struct {
	// TLS turns TLS on; CAFile (PEM) replaces the system roots; CertFile and KeyFile (PEM) are
	// the client certificate for mTLS; ServerName overrides the name checked in the broker's
	// certificate.
	TLS                       bool
	CAFile, CertFile, KeyFile string
	ServerName                string
	// Mechanism is "" (no SASL) or one of the Mech* constants.
	Mechanism string
	// Username and Password for PLAIN and SCRAM.
	Username, Password string
	// OAUTHBEARER with the client-credentials grant: a token is fetched from TokenURL with
	// ClientID and ClientSecret (Scopes comma-separated) and renewed before it expires.
	TokenURL, ClientID, ClientSecret, Scopes string
	// AWS_MSK_IAM signs with the access key in AccessKeyID, SecretAccessKey and SessionToken
	// (the AWS_* environment variables by default), read at every authentication, so a rotated
	// session token is picked up on the next connection.
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Security is loaded Settings: the kgo options every client of a process gets. The zero value
// adds nothing.
type Security struct {
	opts []kgo.Opt
	desc string
}

// String describes the security without secrets, for logs and errors.
func (s Security) String() string {
	if s.desc == "" {
		return "plaintext, no authentication"
	}
	return s.desc
}

// Load checks the settings and reads the certificate files. Errors name the setting or file.
func (st Settings) Load() (Security, error) {
	var sec Security
	var desc []string
	if st.TLS || st.CAFile != "" || st.CertFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: st.ServerName}
		if st.CAFile != "" {
			pem, err := os.ReadFile(st.CAFile)
			if err != nil {
				return sec, fmt.Errorf("kafka TLS CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return sec, fmt.Errorf("kafka TLS CA file %s: no PEM certificate in it", st.CAFile)
			}
			cfg.RootCAs = pool
		}
		if (st.CertFile == "") != (st.KeyFile == "") {
			return sec, errors.New("kafka TLS: the client certificate and key files go together")
		}
		if st.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(st.CertFile, st.KeyFile)
			if err != nil {
				return sec, fmt.Errorf("kafka TLS client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		sec.opts = append(sec.opts, kgo.DialTLSConfig(cfg))
		desc = append(desc, "TLS")
		if st.CertFile != "" {
			desc[len(desc)-1] = "mTLS"
		}
	}
	mech, err := st.mechanism()
	if err != nil {
		return sec, err
	}
	if mech != nil {
		sec.opts = append(sec.opts, kgo.SASL(mech))
		who := st.Username
		if st.Mechanism == MechOAuthBearer {
			who = st.ClientID
		}
		if who != "" {
			desc = append(desc, fmt.Sprintf("SASL %s as %s", st.Mechanism, who))
		} else {
			desc = append(desc, "SASL "+st.Mechanism)
		}
	}
	sec.desc = strings.Join(desc, ", ")
	return sec, nil
}

func (st Settings) mechanism() (sasl.Mechanism, error) {
	need := func(what ...string) error {
		for i := 0; i < len(what); i += 2 {
			if what[i+1] == "" {
				return fmt.Errorf("kafka SASL %s needs %s", st.Mechanism, what[i])
			}
		}
		return nil
	}
	switch st.Mechanism {
	case "":
		return nil, nil
	case MechPlain:
		if err := need("a username", st.Username, "a password", st.Password); err != nil {
			return nil, err
		}
		return plain.Auth{User: st.Username, Pass: st.Password}.AsMechanism(), nil
	case MechScram256, MechScram512:
		if err := need("a username", st.Username, "a password", st.Password); err != nil {
			return nil, err
		}
		a := scram.Auth{User: st.Username, Pass: st.Password}
		if st.Mechanism == MechScram256 {
			return a.AsSha256Mechanism(), nil
		}
		return a.AsSha512Mechanism(), nil
	case MechOAuthBearer:
		if err := need("a token URL", st.TokenURL, "a client id", st.ClientID, "a client secret", st.ClientSecret); err != nil {
			return nil, err
		}
		cc := clientcredentials.Config{ClientID: st.ClientID, ClientSecret: st.ClientSecret, TokenURL: st.TokenURL}
		if st.Scopes != "" {
			cc.Scopes = strings.Split(st.Scopes, ",")
		}
		// The token source caches the token and fetches a new one when it nears expiry; every
		// new connection authenticates with the current one.
		src := cc.TokenSource(context.Background())
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			tok, err := src.Token()
			if err != nil {
				return oauth.Auth{}, fmt.Errorf("kafka OAUTHBEARER token from %s: %w", st.TokenURL, err)
			}
			return oauth.Auth{Token: tok.AccessToken}, nil
		}), nil
	case MechMSKIAM:
		if err := need("an access key id", st.AccessKeyID, "a secret access key", st.SecretAccessKey); err != nil {
			return nil, err
		}
		return aws.ManagedStreamingIAM(func(context.Context) (aws.Auth, error) {
			return aws.Auth{AccessKey: st.AccessKeyID, SecretKey: st.SecretAccessKey, SessionToken: st.SessionToken}, nil
		}), nil
	}
	return nil, fmt.Errorf("kafka SASL mechanism %q is not one of %s, %s, %s, %s, %s",
		st.Mechanism, MechPlain, MechScram256, MechScram512, MechOAuthBearer, MechMSKIAM)
}

// Opts are the kgo options of the security, for a client built without Options.
func (s Security) Opts() []kgo.Opt { return append([]kgo.Opt(nil), s.opts...) }
