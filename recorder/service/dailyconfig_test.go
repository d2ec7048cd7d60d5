package service

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// TestDailyConfig: each bad Daily webhook setting is refused with
// ErrConfig and a message naming it; good ones pass.
func TestDailyConfig(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("daily-webhook-secret-0123456789ab"))
	short := base64.StdEncoding.EncodeToString([]byte("short"))
	for _, c := range []struct {
		name string
		d    Daily
		want string // "" passes
	}{
		{"none", Daily{}, ""},
		{"webhooks", Daily{WebhookSecret: secret, Domain: "acme", AutoRecord: "stand*"}, ""},
		{"secret not base64", Daily{WebhookSecret: "not base64!", Domain: "acme"}, "webhook secret must be base64"},
		{"secret too short", Daily{WebhookSecret: short, Domain: "acme"}, "webhook secret must be base64"},
		{"no domain", Daily{WebhookSecret: secret}, "need the Daily domain"},
		{"bad domain", Daily{WebhookSecret: secret, Domain: "acme.daily.co"}, "need the Daily domain"},
		{"auto-record without secret", Daily{AutoRecord: "*"}, "needs the Daily webhook secret"},
		{"bad rule", Daily{WebhookSecret: secret, Domain: "acme", AutoRecord: "["}, "auto-record rule"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := errors.Join(c.d.check()...)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == "":
			case err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %v, want ErrConfig naming %q", err, c.want)
			case strings.Contains(err.Error(), secret):
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}
