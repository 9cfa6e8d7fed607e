package simulator

import (
	"errors"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "zero value", cfg: Config{}},
		{name: "fixed port", cfg: Config{Listen: "127.0.0.1:5070"}},
		{name: "wildcard", cfg: Config{Listen: "0.0.0.0:5070"}, wantErr: true},
		{name: "ipv6", cfg: Config{Listen: "[::1]:5070"}, wantErr: true},
		{name: "hostname", cfg: Config{Listen: "localhost:5070"}, wantErr: true},
		{name: "no port", cfg: Config{Listen: "127.0.0.1"}, wantErr: true},
		{name: "negative delay", cfg: Config{RingDelay: -1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if got := errors.Is(err, ErrInvalidConfig); got != tc.wantErr || (err != nil) != tc.wantErr {
				t.Errorf("Validate: got %v, want ErrInvalidConfig %v", err, tc.wantErr)
			}
		})
	}
}
