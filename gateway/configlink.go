package gateway

import "github.com/flashgate/flashgate/gateway/config"

// The config types and loaders under the names package gateway has always
// used. They are aliases of gateway/config, kept while call sites move over.
type (
	Config          = config.Config
	LogConfig       = config.Log
	AdminConfig     = config.Admin
	ACMEConfig      = config.ACME
	RedisConfig     = config.Redis
	PolicyConfig    = config.Policy
	AllowConfig     = config.Allow
	ListenerConfig  = config.Listener
	ListenerTLS     = config.ListenerTLS
	CertPair        = config.CertPair
	WebSocketConfig = config.WebSocket
	BackendConfig   = config.Backend
	HealthCheck     = config.HealthCheck
	BackendTLS      = config.BackendTLS
	UDPConfig       = config.UDP
	ConfigError     = config.Error
)

// LoadConfig is config.Load.
func LoadConfig(path string) (*Config, error) { return config.Load(path) }

// ParseConfig is config.Parse.
func ParseConfig(src []byte, filename string) (*Config, error) { return config.Parse(src, filename) }
