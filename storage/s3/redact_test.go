package s3

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	r := &redactor{}
	r.add("AKIAEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", "abc")
	for _, tc := range []struct{ name, in, want string }{
		{
			"header", "PUT /b/k HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEKEY/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0123abcd\r\nHost: x\r\n",
			"PUT /b/k HTTP/1.1\r\nAuthorization: [REDACTED]\r\nHost: x\r\n",
		},
		{"token header", "X-Amz-Security-Token: FQoGZXIvYXdzE\n", "X-Amz-Security-Token: [REDACTED]\n"},
		{
			"presigned", "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAEXAMPLEKEY%2F2026&X-Amz-Signature=deadbeef&x-id=GetObject",
			"https://b.s3.amazonaws.com/k?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]&x-id=GetObject",
		},
		{"key in text", "user AKIAEXAMPLEKEY denied", "user [REDACTED] denied"},
		{"secret in text", "secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.", "secret=[REDACTED]."},
		{"short values are not secrets", "abc is fine", "abc is fine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.redact(tc.in); got != tc.want {
				t.Errorf("redact(%q)\n = %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzRedact checks that a registered secret never survives redaction,
// wherever it sits in the text.
func FuzzRedact(f *testing.F) {
	f.Add("Authorization: x\n", "AKIAEXAMPLEKEY", 3)
	f.Add("key=AKIA", "AKIAEXAMPLEKEY", 0)
	f.Add("", "aaaa", 1)
	f.Fuzz(func(t *testing.T, text, secret string, at int) {
		// A secret that is part of the marker itself cannot be removed by
		// replacing it with the marker; real credentials never are.
		if len(secret) < minSecretLen || strings.Contains(redacted, secret) {
			return
		}
		at = min(max(at, 0), len(text))
		in := text[:at] + secret + text[at:]
		r := &redactor{}
		r.add(secret)
		if out := r.redact(in); strings.Contains(out, secret) {
			t.Fatalf("redact(%q) = %q still holds %q", in, out, secret)
		}
	})
}
