package main

import (
	"flag"
	"fmt"
	"log/slog"

	"github.com/cp7/cp7/server"
	"github.com/cp7/cp7/server/acl"
)

// aclFlags are the topic access control list's flags: -acl-file (the name
// is fixed by issue 9), -acl-format and -acl-default. The file is reloaded
// on SIGHUP; a file that fails to load keeps the rules in force.
type aclFlags struct {
	file, format, deflt string

	fmt          acl.Format
	defaultAllow bool
	acl          *acl.ACL
}

func init() { addGroup(func() flagGroup { return &aclFlags{} }) }

func (f *aclFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.file, "acl-file", "", "topic access control list `FILE` (publish, subscribe and receive rules; CP7's format or Mosquitto's acl_file, see docs/ACL.md); reloaded on SIGHUP. Empty = every client may use every topic")
	fs.StringVar(&f.format, "acl-format", "auto", "`FORMAT` of -acl-file: auto (told by the first line: allow/deny is cp7, user/topic/pattern is mosquitto), cp7 or mosquitto")
	fs.StringVar(&f.deflt, "acl-default", "deny", "what -acl-file decides when no rule matches (`allow|deny`). deny, as Mosquitto: a topic the file does not grant is refused, so a gap in the file fails closed")
}

func (f *aclFlags) apply(o *options) error {
	var err error
	if f.fmt, err = acl.ParseFormat(f.format); err != nil {
		return fmt.Errorf("-acl-format: %w", err)
	}
	switch f.deflt {
	case "allow":
		f.defaultAllow = true
	case "deny":
	default:
		return fmt.Errorf("-acl-default %q: use allow or deny", f.deflt)
	}
	if f.file == "" {
		return nil
	}
	rules, err := acl.Load(f.file, f.fmt)
	if err != nil {
		return fmt.Errorf("-acl-file: %w", err)
	}
	f.acl = acl.New(rules, f.defaultAllow)
	// Beside another authorizer (an HTTP hook), both must allow.
	o.cfg.ACL = server.AllOf(o.cfg.ACL, f.acl)
	return nil
}

// prepare logs what was loaded (apply has no logger).
func (f *aclFlags) prepare(_ *options, log *slog.Logger) error {
	if f.acl == nil {
		return nil
	}
	f.logLoaded(log, "ACL loaded", f.acl.Rules())
	return nil
}

func (f *aclFlags) logLoaded(log *slog.Logger, msg string, r *acl.Rules) {
	for _, w := range r.Warnings {
		log.Warn("ACL: " + w)
	}
	log.Info(msg, "file", f.file, "format", r.Format().String(), "rules", r.Len(), "default", f.deflt)
}

// reload re-reads -acl-file on SIGHUP and swaps the rules atomically;
// connections stay and pick the new rules up at their next check.
func (f *aclFlags) reload(log *slog.Logger) {
	if f.acl == nil {
		return
	}
	rules, err := acl.Load(f.file, f.fmt)
	if err != nil {
		log.Error("SIGHUP: ACL reload failed; keeping the rules in force", "err", err)
		return
	}
	f.acl.Swap(rules, f.defaultAllow)
	f.logLoaded(log, "SIGHUP: ACL reloaded", rules)
}
