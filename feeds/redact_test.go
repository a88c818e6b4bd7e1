package feeds

import "testing"

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"plain", "https://check.torproject.org/exit-addresses", "https://check.torproject.org/exit-addresses"},
		{"path", "feeds/ipsum.txt", "feeds/ipsum.txt"},
		{"file", "file:///var/lib/feeds/x.txt", "file:///var/lib/feeds/x.txt"},
		{"password", "https://user:hunter2@example.com/f.txt", "https://user:xxxxx@example.com/f.txt"},
		{"user only", "https://user@example.com/f.txt", "https://user@example.com/f.txt"},
		{"license key", "https://download.maxmind.com/app/geoip_download?edition_id=GeoLite2-ASN&license_key=abc123&suffix=tar.gz",
			"https://download.maxmind.com/app/geoip_download?edition_id=GeoLite2-ASN&license_key=xxxxx&suffix=tar.gz"},
		{"token", "https://api.example.com/list?TOKEN=s3cr3t", "https://api.example.com/list?TOKEN=xxxxx"},
		{"harmless query", "https://example.com/list?format=txt&v=2", "https://example.com/list?format=txt&v=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactURL(tt.in); got != tt.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
