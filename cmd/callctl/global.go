package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

// Environment variables read for global flags that are not given.
const (
	envAddr  = "TELEPHONY_ADDR"
	envToken = "TELEPHONY_TOKEN"
)

const defaultAddr = "127.0.0.1:50051"

// globalFlags are the flags before the command.
type globalFlags struct {
	addr     string
	token    string
	json     bool
	timeout  time.Duration
	tls      bool
	caFile   string
	certFile string
	keyFile  string
}

// globalFlagSet defines the global flags on a new FlagSet writing into g.
func globalFlagSet(g *globalFlags) *flag.FlagSet {
	fs := newFlagSet("callctl")
	fs.StringVar(&g.addr, "addr", defaultAddr, "server address `HOST:PORT`; env "+envAddr)
	// No default shown: the value may come from the environment and must not be printed.
	fs.StringVar(&g.token, "token", "", "bearer `TOKEN` for every request; env "+envToken)
	fs.BoolVar(&g.json, "json", false, "print protojson, one object per line (watch: one event per line)")
	fs.DurationVar(&g.timeout, "timeout", 10*time.Second, "limit each request to `DURATION`")
	fs.BoolVar(&g.tls, "tls", false, "connect with TLS, trusting the system roots")
	fs.StringVar(&g.caFile, "ca", "", "connect with TLS, trusting the PEM certificates in `FILE`")
	fs.StringVar(&g.certFile, "cert", "", "connect with TLS, presenting the PEM client certificate in `FILE` (with --key)")
	fs.StringVar(&g.keyFile, "key", "", "the PEM private key of --cert in `FILE`")
	return fs
}

// parseGlobal parses the global flags into a.global, fills unset ones from the environment,
// and returns the command line that follows them.
func (a *app) parseGlobal(args []string) ([]string, error) {
	fs := globalFlagSet(&a.global)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{msg: err.Error()}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if v := a.getenv(envAddr); v != "" && !set["addr"] {
		a.global.addr = v
	}
	if v := a.getenv(envToken); v != "" && !set["token"] {
		a.global.token = v
	}
	switch {
	case a.global.addr == "":
		return nil, usageError{msg: "--addr is empty"}
	case a.global.timeout <= 0:
		return nil, usageError{msg: "--timeout must be positive"}
	case (a.global.certFile == "") != (a.global.keyFile == ""):
		return nil, usageError{msg: "--cert and --key go together"}
	}
	return fs.Args(), nil
}

// useTLS reports whether a TLS flag was given.
func (g globalFlags) useTLS() bool { return g.tls || g.caFile != "" || g.certFile != "" }

// tlsConfig returns the TLS settings of the flags: trusting the system roots, or --ca's
// certificates, and presenting --cert if given.
func (g globalFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if g.certFile != "" {
		cert, err := tls.LoadX509KeyPair(g.certFile, g.keyFile)
		if err != nil {
			return nil, fmt.Errorf("read --cert and --key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if g.caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(g.caFile)
	if err != nil {
		return nil, fmt.Errorf("read --ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("read --ca: no PEM certificate in %s", g.caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}
