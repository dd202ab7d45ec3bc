package policyfile

// Site-control values (permitted-cross-domain-policies).
const (
	// SiteControlUnset means the policy carries no site-control element; the
	// player treats that as "all" for socket policies.
	SiteControlUnset = ""
	None             = "none"
	MasterOnly       = "master-only"
	ByContentType    = "by-content-type" // URL policies only
	ByFTPFilename    = "by-ftp-filename" // URL policies only
	All              = "all"
)

// MaxSize is the largest policy file the player (and Adobe's sample servers)
// accept: files of 10,000 bytes or more are refused.
const MaxSize = 10000

// Policy is one cross-domain policy file.
type Policy struct {
	// SiteControl is the permitted-cross-domain-policies meta-policy, or
	// SiteControlUnset.
	SiteControl string
	// Allow holds the allow-access-from rules in document order.
	Allow []Allow
	// Identities holds allow-access-from-identity rules, kept as parsed.
	Identities []Identity
	// Headers holds allow-http-request-headers-from rules (URL policies).
	Headers []AllowHeaders
}

// Allow is one allow-access-from rule.
type Allow struct {
	// Domain is an exact host, "*", "*.suffix", or an IP address.
	Domain string
	// ToPorts is the raw to-ports value: a port, a comma list, a-b ranges or
	// "*". Empty in URL policies.
	ToPorts string
	// Secure is the secure attribute; nil when absent (false for sockets).
	Secure *bool
}

// Identity is an allow-access-from-identity rule: a signatory certificate
// fingerprint.
type Identity struct {
	Fingerprint          string
	FingerprintAlgorithm string
}

// AllowHeaders is an allow-http-request-headers-from rule.
type AllowHeaders struct {
	Domain  string
	Headers string
	Secure  *bool
}

// Bool returns a pointer to b, for Allow.Secure.
func Bool(b bool) *bool { return &b }
