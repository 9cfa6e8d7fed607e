package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// grpcTLS is grpc.tls: the gRPC server's certificate and the CAs client certificates must
// chain to. Relative paths are relative to the configuration file.
type grpcTLS struct {
	// CertFile and KeyFile hold the server's PEM certificate chain and key; neither = plaintext.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile holds PEM CA certificates; set, every client must present a certificate
	// signed by one of them.
	ClientCAFile string `yaml:"client_ca_file"`
}

// resolve makes the relative paths relative to dir, the configuration file's directory.
func (t *grpcTLS) resolve(dir string) {
	for _, p := range []*string{&t.CertFile, &t.KeyFile, &t.ClientCAFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// config loads the files into a server TLS configuration, nil when TLS is off, reporting
// every problem at once.
func (t grpcTLS) config() (*tls.Config, error) {
	if t == (grpcTLS{}) {
		return nil, nil
	}
	var errs []error
	if t.CertFile == "" || t.KeyFile == "" {
		errs = append(errs, errors.New("grpc.tls: cert_file and key_file must both be set (client_ca_file needs them too)"))
	}
	cert, certErr := readPEM("cert_file", t.CertFile)
	key, keyErr := readPEM("key_file", t.KeyFile)
	errs = append(errs, certErr, keyErr)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cert != nil && key != nil {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			errs = append(errs, fmt.Errorf("grpc.tls: cert_file %s with key_file %s: %w", t.CertFile, t.KeyFile, err))
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if t.ClientCAFile != "" {
		cas, err := readPEM("client_ca_file", t.ClientCAFile)
		errs = append(errs, err)
		cfg.ClientCAs = x509.NewCertPool()
		if cas != nil && !cfg.ClientCAs.AppendCertsFromPEM(cas) {
			errs = append(errs, fmt.Errorf("grpc.tls.client_ca_file: no PEM certificate in %s", t.ClientCAFile))
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readPEM reads grpc.tls.<key>; an unset path reads nothing.
func readPEM(key, path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("grpc.tls.%s: %w", key, err)
	}
	return raw, nil
}

// serverOptions returns the gRPC server's transport credentials; none without TLS.
func (t grpcTLS) serverOptions() ([]grpc.ServerOption, error) {
	cfg, err := t.config()
	if err != nil || cfg == nil {
		return nil, err
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(cfg))}, nil
}
