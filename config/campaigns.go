package config

import (
	"time"

	"github.com/leased/leased/reconf"
)

// Defaults of the campaigns section.
const (
	DefaultCampaignRetention = Duration(7 * 24 * time.Hour)
	DefaultCampaignKeep      = 100
)

// Campaigns sets how long finished reconfiguration campaigns (done,
// stopped or halted) are remembered. Older ones are pruned from memory and
// the store; leasectl forcerenew delete ID removes one at once.
type Campaigns struct {
	// Retention is how long a finished campaign is kept after it ended,
	// at least 1m. Default 168h (a week).
	Retention Duration `yaml:"retention"`
	// Keep is the most finished campaigns kept (the most recently ended),
	// 1 to 100000. Default 100.
	Keep int `yaml:"keep"`
}

// ForceRenewDefaults are the global campaign defaults of DHCPv4 pools
// (dhcpv4.forcerenew). Precedence, per field: an option given with the
// campaign command, then the pool's forcerenew setting, then these, then
// the built-in defaults (8 attempts, 2s doubling, 1000/s, restore).
type ForceRenewDefaults struct {
	// Attempts is the number of FORCERENEW messages per client, 1 to 20
	// (0 or unset: built-in 8).
	Attempts int `yaml:"attempts"`
	// Interval is the wait after the first FORCERENEW, doubling after
	// each, 1ms to 1h (unset: built-in 2s).
	Interval Duration `yaml:"interval"`
	// Pace is the maximum FORCERENEW messages per second per pool, 0 to
	// 100000 (0: unlimited; unset: built-in 1000).
	Pace *int `yaml:"pace"`
	// OnFailure is applied to a client that never answers: restore,
	// delete or recycle (unset: built-in restore).
	OnFailure string `yaml:"on_failure"`
	// ForceNAK NAKs every returning client so that it re-DISCOVERs
	// (unset: built-in false).
	ForceNAK *bool `yaml:"force_nak"`
}

// ReconfigureDefaults are the global campaign defaults of DHCPv6 pools
// (dhcpv6.reconfigure), with the same precedence as ForceRenewDefaults;
// the built-in attempts and interval are RFC 8415's REC_MAX_RC (8) and
// REC_TIMEOUT (2s).
type ReconfigureDefaults struct {
	// Attempts is the number of Reconfigure messages per client, 1 to 20
	// (0 or unset: built-in 8 = REC_MAX_RC).
	Attempts int `yaml:"attempts"`
	// Interval is the wait after the first Reconfigure, doubling after
	// each, 1ms to 1h (unset: built-in 2s = REC_TIMEOUT).
	Interval Duration `yaml:"interval"`
	// Pace is the maximum Reconfigure messages per second per pool, 0 to
	// 100000 (0: unlimited; unset: built-in 1000).
	Pace *int `yaml:"pace"`
	// OnFailure is applied to a client that never answers: restore,
	// delete or recycle (unset: built-in restore).
	OnFailure string `yaml:"on_failure"`
	// Force answers every returning client's Renew or Rebind with
	// lifetime 0 so that it solicits again (unset: built-in false).
	Force *bool `yaml:"force"`
	// Message is what the Reconfigure asks: renew, rebind or
	// information-request (unset: built-in renew).
	Message string `yaml:"message"`
}

// Override is d as the campaign engine's override (unset fields nil).
func (d *ForceRenewDefaults) Override() reconf.Override {
	var ov reconf.Override
	if d.Attempts > 0 {
		v := d.Attempts
		ov.Attempts = &v
	}
	if d.Interval > 0 {
		v := d.Interval.D()
		ov.Interval = &v
	}
	if d.Pace != nil {
		v := *d.Pace
		ov.Pace = &v
	}
	if d.OnFailure != "" {
		if v, err := reconf.ParseOnFailure(d.OnFailure); err == nil { // validated by Parse
			ov.OnFailure = &v
		}
	}
	if d.ForceNAK != nil {
		v := *d.ForceNAK
		ov.ForceNAK = &v
	}
	return ov
}

// Override is d as the campaign engine's override (unset fields nil).
func (d *ReconfigureDefaults) Override() reconf.Override {
	p := Pool6{Reconfigure: Reconfigure6{Attempts: d.Attempts, Interval: d.Interval, Pace: d.Pace, OnFailure: d.OnFailure,
		Force: d.Force, Message: d.Message}}
	return p.CampaignOverride()
}

func (c *Config) applyCampaignDefaults() {
	if !c.has("campaigns.retention") {
		c.Campaigns.Retention = DefaultCampaignRetention
	}
	if !c.has("campaigns.keep") {
		c.Campaigns.Keep = DefaultCampaignKeep
	}
}

// campaigns validates the campaigns section and the global campaign
// defaults of both families.
func (v *validator) campaigns(c *Config) {
	if d := c.Campaigns.Retention.D(); d < time.Minute {
		v.errorf("campaigns.retention", "%v: want a duration of at least 1m, e.g. 168h (default)", d)
	}
	if k := c.Campaigns.Keep; k < 1 || k > 100000 {
		v.errorf("campaigns.keep", "%d: want 1 to 100000 finished campaigns (default %d)", k, DefaultCampaignKeep)
	}
	d4 := &c.DHCPv4.ForceRenew
	v.campaignDefaults("dhcpv4.forcerenew", d4.Attempts, d4.Interval, d4.Pace, d4.OnFailure)
	if c.DHCPv6 != nil {
		d6 := &c.DHCPv6.Reconfigure
		v.campaignDefaults("dhcpv6.reconfigure", d6.Attempts, d6.Interval, d6.Pace, d6.OnFailure)
		switch d6.Message {
		case "", "renew", "rebind", "information-request":
		default:
			v.errorf("dhcpv6.reconfigure.message", "%q: want renew, rebind or information-request (RFC 8415 §21.19)", d6.Message)
		}
	}
}

func (v *validator) campaignDefaults(f string, attempts int, interval Duration, pace *int, onFailure string) {
	if attempts < 0 || attempts > 20 {
		v.errorf(f+".attempts", "%d: want 1 to 20 (0 or unset: 8)", attempts)
	}
	if d := interval.D(); d != 0 && (d < time.Millisecond || d > time.Hour) {
		v.errorf(f+".interval", "%v: want 1ms to 1h", d)
	}
	if pace != nil && (*pace < 0 || *pace > 100000) {
		v.errorf(f+".pace", "%d: want 0 (unlimited) to 100000 messages per second", *pace)
	}
	switch onFailure {
	case "", "restore", "delete", "recycle":
	default:
		v.errorf(f+".on_failure", "%q: want restore, delete or recycle", onFailure)
	}
}
